"""Cut ABC text into tokens, losslessly: the first layer of the ABC reader.

Every character of the input belongs to exactly one token, so
`"".join(t.text for t in tokens(s)) == s` for any text, and the lexer never
raises: what it does not recognise becomes an `unknown` token of one
character, for the checker to report with its line and column.

Kinds: field (a whole `X:...` line), inline_field (`[K:Dmix]`), comment,
chord_symbol (`"Am"`, also an annotation), decoration (`!trill!`, `~`, `.`,
`H`...), grace_open/grace_close (`{` or `{/`, `}`), chord_open/chord_close (`[` `]`,
the close with its length), note, rest (`z` `x`), measure_rest (`Z4`),
bar (`|`, `||`, `|]`, `[|`, `|:`, `:|`, `::`, with a volta number such as
`:|2`), volta (`[1`), tuplet (`(3`, `(3:2:3`), slur_open/slur_close, tie,
broken (`>`, `<<`...), space, newline, continuation (`\\`), spacer (`y`),
backquote, overlay (`&`), unknown.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

LENGTH = r"\d{0,6}/*\d{0,6}"  # bounded, so that reading a length never makes a huge int
_RULES: list[tuple[str, str]] = [
    # A field line: a letter and a colon at the start of a line ("B:|" is music).
    ("field", r"^(?![A-Ga-g]:[|:])[A-Za-z+]:[^\n]*"),
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
    ("grace_open", r"\{/?"),  # `{/g}`: an acciaccatura
    ("grace_close", r"\}"),
    ("continuation", r"\\"),
    ("spacer", r"y"),
    ("backquote", r"`+"),  # ABC 2.1: ignored, may separate notes inside a beam
    ("overlay", r"&"),
    ("unknown", r"[\s\S]"),
]
_TOKEN_RE = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _RULES), re.MULTILINE)
_LENGTH_RE = re.compile(r"(\d*)(/*)(\d*)$")
_NOTE_RE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)")


class Token(NamedTuple):
    """One piece of ABC text: what kind it is, its text, and where it starts (1-based)."""

    kind: str
    text: str
    line: int
    col: int


def tokens(text: str) -> list[Token]:
    """All tokens of an ABC text, in order, covering every character."""
    out: list[Token] = []
    line, line_start = 1, 0
    for match in _TOKEN_RE.finditer(text):  # the last rule matches any character: no gaps
        kind, start = match.lastgroup, match.start()
        out.append(Token(kind, match.group(), line, start - line_start + 1))
        if kind == "newline":
            line, line_start = line + 1, start + 1
    return out


@lru_cache(maxsize=8192)  # a corpus writes few distinct notes; Fractions are slow to build
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
