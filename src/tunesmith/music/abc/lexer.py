"""Cut ABC text into tokens, losslessly: the first layer of the ABC reader.

Every character of the input belongs to exactly one token, so
`"".join(t.text for t in tokens(s)) == s` for any text, and the lexer never
raises: what it does not recognise becomes an `unknown` token of one
character, for the checker to report with its line and column.

Kinds: field (a whole `X:...` line), inline_field (`[K:Dmix]`), comment,
chord_symbol (`"Am"`, also an annotation), decoration (`!trill!`, `~`, `.`,
`H`...), grace_open/grace_close (`{` `}`), chord_open/chord_close (`[` `]`,
the close with its length), note, rest (`z` `x`), measure_rest (`Z4`),
bar (`|`, `||`, `|]`, `[|`, `|:`, `:|`, `::`, with a volta number such as
`:|2`), volta (`[1`), tuplet (`(3`, `(3:2:3`), slur_open/slur_close, tie,
broken (`>`, `<<`...), space, newline, continuation (`\\`), spacer (`y`),
backquote, overlay (`&`), unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

LENGTH = r"\d{0,6}/*\d{0,6}"  # bounded, so that reading a length never makes a huge int
_RULES: list[tuple[str, str]] = [
    ("newline", r"\n"),
    ("space", r"[ \t]+"),
    ("comment", r"%[^\n]*"),
    ("inline_field", r"\[[A-Za-z]:[^\]\n]*\]"),
    ("chord_symbol", r'"[^"\n]*"?'),
    ("decoration", r"![^!\n]*!|\+[^+\n]*\+|[~.HLMOPSTuv]"),  # ABC 2.1's predefined symbols
    ("bar", r"(?::*\[\||:*\|\]|:*\|\|:*|:*\|:*|::+)(?:\d{1,6}(?:[,-]\d{1,6})*)?"),
    ("volta", r"\[\d{1,6}(?:[,-]\d{1,6})*"),
    ("chord_open", r"\["),
    ("chord_close", r"\]" + LENGTH),
    ("note", r"(?:\^\^|\^|__|_|=)?[A-Ga-g][,']*" + LENGTH),
    ("rest", r"[zx]" + LENGTH),
    ("measure_rest", r"[ZX]\d{0,6}"),
    ("tuplet", r"\(\d{1,6}(?::\d{0,6}){0,2}"),
    ("slur_open", r"\("),
    ("slur_close", r"\)"),
    ("tie", r"-"),
    ("broken", r">+|<+"),
    ("grace_open", r"\{"),
    ("grace_close", r"\}"),
    ("continuation", r"\\"),
    ("spacer", r"y"),
    ("backquote", r"`+"),  # ABC 2.1: ignored, may separate notes inside a beam
    ("overlay", r"&"),
    ("unknown", r"[\s\S]"),
]
_TOKEN_RE = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _RULES))
_FIELD_LINE_RE = re.compile(r"[A-Za-z+]:[^\n]*")
_NOT_A_FIELD_RE = re.compile(r"[A-Ga-g]:[|:]")  # "B:|" is music
_LENGTH_RE = re.compile(r"(\d*)(/*)(\d*)$")
_NOTE_RE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)")


@dataclass(frozen=True)
class Token:
    """One piece of ABC text: what kind it is, its text, and where it starts (1-based)."""

    kind: str
    text: str
    line: int
    col: int


def tokens(text: str) -> list[Token]:
    """All tokens of an ABC text, in order, covering every character."""
    out: list[Token] = []
    line, line_start, pos = 1, 0, 0
    while pos < len(text):
        at_line_start = pos == line_start
        field = _FIELD_LINE_RE.match(text, pos) if at_line_start else None
        if field and not _NOT_A_FIELD_RE.match(text, pos):
            kind, end = "field", field.end()
        else:
            match = _TOKEN_RE.match(text, pos)
            kind, end = match.lastgroup, match.end()
        out.append(Token(kind, text[pos:end], line, pos - line_start + 1))
        if kind == "newline":
            line, line_start = line + 1, end
        pos = end
    return out


def length(text: str) -> Fraction:
    """The length multiplier written after a note, rest or chord: `3/2` -> 3/2, `/` -> 1/2."""
    digits, slashes, denominator = _LENGTH_RE.search(text).groups()
    numerator = int(digits) if digits else 1
    if not slashes:
        return Fraction(numerator)
    if denominator:
        # A zero denominator is malformed; it reads as 1 so that reading never fails.
        return Fraction(numerator, int(denominator) * 2 ** (len(slashes) - 1) or 1)
    return Fraction(numerator, 2 ** len(slashes))


def note_parts(text: str) -> tuple[str, str, int]:
    """(accidental, letter, octave) of a note token; octave 0 is C..B, c is 1."""
    accidental, letter, marks = _NOTE_RE.match(text).groups()
    octave = (1 if letter.islower() else 0) + marks.count("'") - marks.count(",")
    return accidental or "", letter.upper(), octave
