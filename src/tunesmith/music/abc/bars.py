"""Bars and their durations, read from ABC tokens with exact fractions.

Durations are in whole notes: with L:1/8, `A2` lasts 1/4. The reader knows
unit lengths (L:), meters (M:, also inline), tuplets `(p:q:r`, broken rhythm
`>` `<` `>>`, chords (the first note's length times the chord's own),
grace notes (no time) and multi-bar rests (`Z4`: four full bars).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from .lexer import Token, length, tokens

_ONE = Fraction(1)
from .tunes import default_unit, meter_fraction

# ABC 2.1 §4.13: the q of (p when it is not written; 5, 7 and 9 use the meter.
_TUPLET_Q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}
_REPEAT_BAR = re.compile(r":|\|\||\[\||\|\]")  # bar lines around which a bar may be split


@dataclass(frozen=True)
class Bar:
    """One bar in source order: where it ends, how long it is, what the meter asks."""

    index: int                  # 0-based, counting bars with music only
    line: int                   # of the bar line that closes it (or of the tune's last token)
    col: int                    # 1-based
    duration: Fraction          # whole notes
    expected: Fraction | None   # whole notes; None for a free meter
    meter: str | None           # the M: value in force, e.g. "6/8"
    opening: str                # the bar line before it ("" at the start)
    closing: str                # the bar line after it ("" at the end)

    def in_meter_units(self, value: Fraction) -> str:
        """A length written over the meter's denominator: 5/8 in 6/8, 5/4 in C."""
        written = {"C": 4, "C|": 2}.get(self.meter or "")
        if written is None:
            match = re.search(r"/(\d+)$", self.meter or "")
            written = int(match.group(1)) if match else 1
        den = math.lcm(written, value.denominator)
        return f"{value * den}/{den}"

    @property
    def splits_at_repeat(self) -> bool:
        """Ends at a repeat or section line, where a bar may continue after it."""
        return bool(_REPEAT_BAR.search(self.closing))


def _parse_fraction(value: str) -> Fraction | None:
    match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", value)
    if not match or int(match.group(2)) == 0:
        return None
    return Fraction(int(match.group(1)), int(match.group(2)))


class _Sum:
    """A sum of Fractions kept as one integer over a common denominator: adding is integer work."""

    __slots__ = ("num", "den")

    def __init__(self):
        self.num, self.den = 0, 1

    def add(self, value: Fraction) -> None:
        num, den = value.numerator, value.denominator
        if self.den % den == 0:
            self.num += num * (self.den // den)
        else:
            common = math.lcm(self.den, den)
            self.num = self.num * (common // self.den) + num * (common // den)
            self.den = common

    def value(self) -> Fraction:
        return Fraction(self.num, self.den)

    def __bool__(self) -> bool:
        return self.num != 0


class DurationReader:
    """Timing state while reading a tune: unit, meter, tuplet, broken rhythm, open chord."""

    def __init__(self):
        self.meter: Fraction | None = None
        self.meter_text: str | None = None
        self.unit = Fraction(1, 8)
        self.unit_set = False
        self.bars: list[Bar] = []
        self._time = _Sum()               # time in the bar so far
        self._scaled: dict = {}           # written length and unit -> time (most notes repeat)
        self.opening = ""
        self.tuplet: list = []          # [factor, notes left]
        self.broken_next = _ONE         # factor for the next note, from > or <
        self.last_duration = Fraction(0)
        self.in_grace = False
        self.chord: list | None = None  # [first note length or None]
        self.multi_rest = 0

    @property
    def duration(self) -> Fraction:
        """Time in the bar so far, in whole notes."""
        return self._time.value()

    def field(self, letter: str, value: str) -> None:
        value = value.strip()
        if letter == "M":
            self.meter_text = value.replace(" ", "") or None
            self.meter = meter_fraction(self.meter_text)  # None for "none" and free meters
            if not self.unit_set:
                self.unit = Fraction(default_unit(self.meter_text))
        elif letter == "L":
            unit = _parse_fraction(value)
            if unit:
                self.unit, self.unit_set = unit, True

    def add(self, raw: Fraction) -> Fraction:
        """Time a note, rest or chord of written length `raw`; returns its length in whole notes."""
        factor = self.broken_next
        self.broken_next = _ONE
        if self.tuplet:
            factor = factor * self.tuplet[0]
            self.tuplet[1] -= 1
            if self.tuplet[1] <= 0:
                self.tuplet = []
        # Most notes have no factor: Fraction arithmetic is the reader's main cost.
        if factor is _ONE:
            key = (raw.numerator, raw.denominator, self.unit)
            value = self._scaled.get(key)
            if value is None:
                value = self._scaled[key] = raw * self.unit
        else:
            value = raw * self.unit * factor
        self._time.add(value)
        self.last_duration = value
        return value

    def broken(self, text: str) -> Fraction:
        """Apply `>`/`<`: returns how much longer (or shorter) the note before became.

        A second mark before the next note (`C << << D`) is ignored, and the checker reports it: applied
        again, it would shorten the note before below nothing.
        """
        if self.broken_next != _ONE:
            return Fraction(0)
        n = len(text)
        shorter = Fraction(1, 2 ** n)
        longer = 2 - shorter
        first, second = (longer, shorter) if text[0] == ">" else (shorter, longer)
        # The note before already counted at its plain length; stretch it now.
        extra = self.last_duration * (first - 1)
        self._time.add(extra)
        self.broken_next = second
        return extra

    def tuplet_start(self, text: str) -> None:
        parts = text[1:].split(":")
        p = int(parts[0]) or 1
        compound = self.meter is not None and self.meter.denominator == 8 and self.meter.numerator % 3 == 0
        q = int(parts[1]) if len(parts) > 1 and parts[1] else _TUPLET_Q.get(p, 3 if compound else 2)
        r = int(parts[2]) if len(parts) > 2 and parts[2] else p
        self.tuplet = [Fraction(q, p), r]

    def close(self, token: Token, closing: str) -> None:
        if self.chord is not None:  # an unclosed chord ends at the bar line (the checker reports it)
            self.add(self.chord[0] or Fraction(1))
            self.chord = None
        if self._time or self.multi_rest:
            expected = self.meter * max(self.multi_rest, 1) if self.meter is not None else None
            duration = expected if self.multi_rest and expected is not None else self._time.value()
            self.bars.append(Bar(len(self.bars), token.line, token.col, duration, expected,
                                 self.meter_text, self.opening, closing))
        self._time, self.multi_rest, self.opening = _Sum(), 0, closing

    def token(self, tok: Token) -> None:
        kind, text = tok.kind, tok.text
        if kind in ("field", "inline_field"):
            body = text.strip("[]")
            self.field(body[0], body[2:])
        elif kind == "grace_open":
            self.in_grace = True
        elif kind == "grace_close":
            self.in_grace = False
        elif self.in_grace:
            return
        elif kind == "chord_open":
            self.chord = [None]
        elif kind == "chord_close":
            if self.chord is not None:
                self.add((self.chord[0] or Fraction(1)) * length(text))
            self.chord = None
        elif kind in ("note", "rest"):
            if self.chord is not None:
                if self.chord[0] is None:
                    self.chord[0] = length(text)
            else:
                self.add(length(text))
        elif kind == "measure_rest":
            self.multi_rest = int(text[1:] or 1)
        elif kind == "broken":
            self.broken(text)
        elif kind == "tuplet":
            self.tuplet_start(text)
        elif kind == "bar":
            self.close(tok, text)


def read_bars(text: str) -> list[Bar]:
    """The bars of one tune's text (header and body), in source order."""
    return bars_of(tokens(text))


def bars_of(toks: list[Token]) -> list[Bar]:
    """The bars of one tune's tokens, for callers that have lexed it already."""
    reader = DurationReader()
    in_header = True
    last = None
    for tok in toks:
        last = tok
        if in_header:
            if tok.kind == "field":
                reader.field(tok.text[0], tok.text[2:])
                in_header = tok.text[0] != "K"
            continue
        reader.token(tok)
    if last is not None:
        reader.close(last, "")
    return reader.bars


def wrong_length_bars(bars: list[Bar]) -> list[tuple[Bar, Fraction]]:
    """Bars whose length is not the meter's, with the length found.

    A pickup is allowed: the first bar and the last bar may be short. A bar
    that ends short at a repeat or section line (`:|`, `|:`, `::`, `||`,
    `|]`) continues into the next bar, and the two are checked together,
    as abc2midi does. Free meters are not checked.
    """
    wrong, carry = [], Fraction(0)
    for i, bar in enumerate(bars):
        if bar.expected is None:
            carry = Fraction(0)
            continue
        total = carry + bar.duration
        first = i == 0 and carry == 0
        if bar.splits_at_repeat and total < bar.expected and not first:
            carry = total
            continue
        carry = Fraction(0)
        short_end = (first or i == len(bars) - 1) and total < bar.expected
        if total != bar.expected and not short_end:
            wrong.append((bar, total))
    return wrong
