"""What makes two bars the same bar, for telling a new tune's copying from a training tune's.

A bar is compared by the melody it writes: its notes, rests, chords,
tuplets and broken rhythms in order, each with its pitch as written
(accidental, letter, octave marks) and its length as a number (`a/`, `a/2`
and `a1/2` are one length). Left out is what decorates or accompanies the
melody rather than making it: spaces and line breaks, decorations (`~`,
`.`, `!trill!`), chord symbols and annotations (`"Am"`), grace notes
(`{g}`), slurs, ties, field lines (`K:`, `P:`), endings (`[1`) and the bar
lines themselves. So `|"D" ~d2 (fe|` and `|d2fe|` are the same bar: the
tune a listener hears is copied whether or not the copy keeps the source's
ornaments and guitar chords. Pitches are compared as written, not as
sounded: a bar copied into another key's signature is still the same text
the model learned (and a transposed copy made for training is indexed in
its own key, `corpus/augment.py`).

A bar's key is its elements, one string each, in order (`bar_elements`);
a tune's bars are the stretches between its bar lines that have any element
(`tune_bars`: an empty "bar" between `|` at a line's end and `|:` at the
next line's start is no bar). Both readings go through the ABC lexer, so a
bar is read the same way in a training tune, in a generated tune, and in
the part of a bar the sampler has written so far: with `pending`, the last
element is left out while what follows may still lengthen it (`c` may
become `c'` or `c3/2`, `>` may become `>>`).
"""

from __future__ import annotations

from functools import lru_cache

from .lexer import Token, length, tokens

# Tokens whose text may still grow when more characters follow them.
_GROWING = frozenset({"note", "rest", "measure_rest", "chord_close", "tuplet", "broken"})


def _length_text(written: str) -> str:
    """A written length as one spelling of its value: "" (1), "2", "/2", "3/2"."""
    value = length(written)
    if value == 1:
        return ""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}" if value.numerator != 1 else f"/{value.denominator}"


def _note_text(text: str) -> str:
    """A note token as pitch-as-written and canonical length."""
    end = len(text)
    while end and (text[end - 1].isdigit() or text[end - 1] == "/"):
        end -= 1
    return text[:end] + _length_text(text[end:])


def elements_of(toks: list[Token], pending: bool = False) -> tuple[str, ...]:
    """The elements of a bar's tokens (see the module docstring); `pending`: the text may go on."""
    out: list[str] = []
    chord: list[str] | None = None
    grace = False
    last = -1  # the token that made the last element
    for at, tok in enumerate(toks):
        kind, text = tok.kind, tok.text
        before = len(out)
        if grace:
            grace = kind != "grace_close"
        elif kind == "grace_open":
            grace = True
        elif kind == "note":
            (out if chord is None else chord).append(_note_text(text))
        elif kind == "chord_open":
            chord = []
        elif kind == "chord_close":
            if chord is not None:
                out.append("[" + "".join(chord) + "]" + _length_text(text[1:]))
            chord = None
        elif chord is not None:
            continue  # anything else inside a chord is not part of its notes
        elif kind == "rest":
            out.append("z" + _length_text(text[1:]))
        elif kind == "measure_rest":
            out.append("Z" + (text[1:] or "1"))
        elif kind in ("tuplet", "broken", "overlay"):
            out.append(text)
        if len(out) > before:
            last = at
    if pending and toks and last == len(toks) - 1 and toks[-1].kind in _GROWING:
        out.pop()  # the last token made the last element, and it may still grow
    return tuple(out)


@lru_cache(maxsize=1 << 16)  # the originality guard asks again about the bar it is writing, a symbol longer
def bar_elements(text: str, pending: bool = False) -> tuple[str, ...]:
    """The elements of one bar's text (`pending`: the bar is being written and may go on)."""
    return elements_of(tokens(text), pending)


def tune_bars(text: str) -> list[tuple[str, ...]]:
    """The bars of a tune (header and body, or a body alone), each as its elements, in source order."""
    toks = tokens(text)
    start = 0
    if any(t.kind == "field" and t.text.startswith("K:") for t in toks):
        start = next(i for i, t in enumerate(toks) if t.kind == "field" and t.text.startswith("K:")) + 1
    bars, segment = [], []
    for tok in toks[start:]:
        if tok.kind == "bar":
            found = elements_of(segment)
            if found:
                bars.append(found)
            segment = []
        else:
            segment.append(tok)
    found = elements_of(segment)
    if found:
        bars.append(found)
    return bars


def bar_text(elements: tuple[str, ...]) -> str:
    """A bar's elements as one line, for showing and storing ("d2 f e")."""
    return " ".join(elements)

