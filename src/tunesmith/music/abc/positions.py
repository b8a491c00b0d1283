"""Where things are in a tune's text, as character offsets: its body, its notes, its bar lines.

Offsets count characters as Python does (code points), from the start of
the tune's text. They tie what is drawn or asked about a note (the score's
note map, the surprise map, a primer that stops at a note) to the exact
characters the model reads and writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexer import Token, note_parts, tokens

MIDDLE_OCTAVE = 4  # MEI's (verovio's) octave of ABC's C..B: C is middle C


@dataclass(frozen=True)
class TextNote:
    """A note or visible rest of the text: where its characters are and what it sounds."""

    start: int                      # offset of its first character
    end: int                        # offset after its last character
    text: str                       # e.g. `^f'3/2`, `z2`
    pitch: tuple[str, int] | None   # (pitch name a..g, MEI octave); None for a rest

    @property
    def key(self) -> tuple:
        """What an engraving must show for it: its pitch, or that it is a rest."""
        return ("rest",) if self.pitch is None else ("note", *self.pitch)


def placed(abc: str) -> list[tuple[int, Token]]:
    """Every token of the text with its offset."""
    out, offset = [], 0
    for tok in tokens(abc):
        out.append((offset, tok))
        offset += len(tok.text)
    return out


def body_offset(abc: str) -> int | None:
    """Where the body starts: just after the K: line (None: the text has no K: line)."""
    for offset, tok in placed(abc):
        if tok.kind == "field" and tok.text.startswith("K:"):
            end = offset + len(tok.text)
            return end + 1 if abc[end:end + 1] == "\n" else end
    return None


def text_notes(abc: str) -> list[TextNote]:
    """The notes (grace notes and the notes of chords too) and visible rests (`z`) of the body, in text order.

    An invisible rest `x` and a measure rest `Z` are left out: nothing, or no
    single note, is drawn for them.
    """
    start = body_offset(abc)
    found: list[TextNote] = []
    if start is None:
        return found
    for offset, tok in placed(abc):
        if offset < start:
            continue
        if tok.kind == "note":
            _, letter, octave = note_parts(tok.text)
            found.append(TextNote(offset, offset + len(tok.text), tok.text, (letter.lower(), MIDDLE_OCTAVE + octave)))
        elif tok.kind == "rest" and tok.text.startswith("z"):
            found.append(TextNote(offset, offset + len(tok.text), tok.text, None))
    return found


def note_at(abc: str, at: int) -> TextNote | None:
    """The note or rest that starts at offset `at`, if one does."""
    return next((n for n in text_notes(abc) if n.start == at), None)


def bar_line_after(abc: str, at: int) -> int | None:
    """Offset of the first bar line that starts at or after `at` (None: no bar line follows)."""
    return next((offset for offset, tok in placed(abc) if offset >= at and tok.kind == "bar"), None)
