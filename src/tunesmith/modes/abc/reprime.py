"""Writing on from a note of a tune with another symbol there: the primer, and fitting a new bar back in.

The surprise map offers, at each note, the model's likeliest alternatives.
Picking one writes the tune again from there: the primer is the tune's text
up to the note and the chosen symbol (`primer_at`), and the model goes on
from it, well-formed, as it does from any primer. Either all of its
continuation is kept (the rest of the tune), or only the rest of the note's
bar (`rest_of_bar`): the model's text up to its first bar line, followed
by the original tune from the bar line after the note, which is kept only
if the automaton reads it as far as it reads the original (`reads_as_far`).
"""

from __future__ import annotations

from ...errors import TunesmithError
from ...music.abc.positions import bar_line_after, body_offset, note_at
from ...music.abc.wellformed import can_end, feed, feed_text, initial_state

MAX_SYMBOL_CHARS = 64  # a symbol of the model's vocabulary (a character, an ABC token, a chord symbol)


def primer_at(abc: str, at: int, symbol: str, given: int | None = None) -> str:
    """The tune's text up to the note or rest that starts at offset `at`, then `symbol` in its place.

    `given`: the offset as the user gave it, for the error (when `abc` is part of a longer text).
    """
    if not symbol:
        raise TunesmithError("symbol: give the symbol to write where the note was")
    if note_at(abc, at) is None:
        raise TunesmithError(f"at {at if given is None else given}: no note or rest of the tune's music starts there; give the offset of "
                             "one (the surprise map's `start`)")
    return abc[:at] + symbol


def check_alternative(abc: str, at: int, symbol: str, given: int | None = None) -> None:
    """Refuse, with a message naming what is wrong, a symbol the tune cannot go on with at `at` and stay
    well-formed, or a tune that is not well-formed before `at` (no continuation of it would be)."""
    start = body_offset(abc)
    state = None if start is None or start > at else feed_text(initial_state(abc[:start]), abc[start:at])
    where = at if given is None else given
    if state is None:
        raise TunesmithError(f"abc: the tune is not well-formed before offset {where} (`tunesmith check` says "
                             "where), so no well-formed tune goes on from there; fix it first")
    if feed_text(state, symbol) is None:
        raise TunesmithError(f"symbol {symbol!r}: the tune cannot go on with it at offset {where} and stay "
                             "well-formed; choose one of the note's alternatives")


def continuation(primer: str, generated: str) -> int:
    """Where in `generated` (a tune written from `primer` by `generate_tunes`) the model's own text begins.

    The writer renumbers the X: line and may name an untitled tune, so the
    primer's body, not its whole text, is what the tune starts with.
    """
    primer_body, body = body_offset(primer), body_offset(generated)
    if primer_body is None or body is None or not generated[body:].startswith(primer[primer_body:]):
        raise TunesmithError("the written tune does not start with its primer")  # not the user's doing
    return body + len(primer) - primer_body


def rest_of_bar(original: str, at: int, symbol: str, generated: str) -> tuple[str, tuple[int, int]] | None:
    """`original` with the bar of the note at `at` rewritten from it: `symbol`, then the model's text up to
    its first bar line, then `original` from the bar line after the note on; and where the rewritten part
    is in it (offsets). None when it does not fit: no bar line follows the note, the model wrote none, or
    the result reads less far than `original` (`reads_as_far`)."""
    written_from = continuation(original[:at] + symbol, generated) - len(symbol)
    new_bar_end = bar_line_after(generated, written_from)
    old_bar_end = bar_line_after(original, at)
    if new_bar_end is None or old_bar_end is None:
        return None
    spliced = original[:at] + generated[written_from:new_bar_end] + original[old_bar_end:]
    if not reads_as_far(spliced, original):
        return None
    return spliced, (at, at + new_bar_end - written_from)


def reach(abc: str) -> tuple[int, bool]:
    """(how far from its end the well-formed automaton reads the tune's body, whether it may end there).

    Counted from the end, so that two tunes that differ only before their
    common tail compare: 0 is the whole body read.
    """
    start = body_offset(abc)
    if start is None:
        return len(abc), False
    state = initial_state(abc[:start])
    for i in range(start, len(abc)):
        after = feed(state, abc[i])
        if after is None:
            return len(abc) - i, False
        state = after
    return 0, can_end(state)


def reads_as_far(spliced: str, original: str) -> bool:
    """The automaton reads `spliced` at least as far into the shared tail as `original`, and lets it end if
    it lets `original` end: rewriting a bar broke nothing that was whole."""
    left, ends = reach(spliced)
    original_left, original_ends = reach(original)
    return left <= original_left and (ends or not original_ends)
