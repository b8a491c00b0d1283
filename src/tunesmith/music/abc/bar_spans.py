"""Where each bar of a tune is in its text, and what a rewrite of it must keep: for infill and variations.

Bars are numbered as `tunesmith check` numbers them: every stretch of music
between two bar lines is a bar, a pickup included (`bars.read_bars`). A
bar's *music* is its text without the layout around it: the bar line
before it and what follows that line (spaces, line ends, field lines,
comments, an ending's `[2`) and the spaces and line ends before its own
closing bar line belong to the skeleton, which a rewrite keeps byte for
byte. So a rewritten tune has the same bar lines, repeats, endings, line
breaks and header as the original; only the music inside the bars changes.

What a new bar must be, in the well-formed automaton's terms: its length in
grid steps (quarter unit notes; the bar's own length, so a pickup stays a
pickup, or the meter's for a bar the checker finds wrong), the meter's kind
(compound, for tuplets), and what reaches into it from the bar before: a
tie (its note must come first) and open slurs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ...errors import TunesmithError
from .bars import Bar, DurationReader, wrong_length_bars
from .lexer import Token, tokens
from .tunes import meter_fraction
from .wellformed import GRID

# Layout after a bar line, kept with it: what is not music.
_LEADING = frozenset({"space", "newline", "field", "comment", "inline_field", "volta", "continuation"})
# Layout before a bar line, kept with it.
_TRAILING = frozenset({"space", "newline", "field", "comment", "continuation"})
# Inside a bar's music: what a rewrite could not keep (it would drop a key change, a multi-bar rest, a voice).
_NOT_REWRITABLE = {"inline_field": "changes a field inside the bar", "field": "has a field line inside it",
                   "measure_rest": "is a multi-bar rest", "overlay": "has a voice overlay (&)"}
_PITCH = re.compile(r"(?:\^\^|\^|__|_|=)?[A-Ga-g][,']*")
# A bar line that ends or starts a part (a repeat, a section line): the bars on either side close and open one.
_PART_LINE = re.compile(r":|\|\||\[\||\|\]")


@dataclass(frozen=True)
class BarSpan:
    """One bar of a tune: where its music is in the text, and what a new bar in its place must be."""

    number: int              # 1-based, as `tunesmith check` counts bars
    start: int               # offset of its music in the tune's text
    end: int                 # offset just past its music
    steps: int | None        # the length a new bar must have, in grid steps (None: it cannot be rewritten)
    why_not: str             # why it cannot be rewritten ("" when it can)
    compound: bool           # the meter in force is compound (6/8, 9/8, 12/8)
    tie_in: str | None       # the spelling of a note tied into it from the bar before (its first note)
    slurs_in: int            # slurs open when it starts (at most 2, as the automaton counts them)
    opening: str             # the bar line before it ("" for the first bar)
    closing: str             # the bar line after it ("" at the tune's end)
    section_start: bool      # it opens the tune, a part (after |:, ::, :|, ||, [|, |]) or an ending


@dataclass(frozen=True)
class TuneBars:
    """A tune's text and its bars."""

    text: str
    bars: tuple[BarSpan, ...]
    hornpipe: bool           # R:hornpipe: abc2midi swings its pairs, and a `.` mark breaks that

    def music(self, bar: BarSpan) -> str:
        """The bar's music as the tune has it."""
        return self.text[bar.start:bar.end]


def tune_bars(text: str) -> TuneBars:
    """The bars of one tune's text (header and body); a tune with no music or with several voices is an error."""
    toks = tokens(text)
    key_at = next((i for i, t in enumerate(toks) if t.kind == "field" and t.text.startswith("K:")), None)
    if key_at is None:
        raise TunesmithError("the tune has no K: line, so no music to rewrite")
    if any(t.kind in ("field", "inline_field") and t.text.lstrip("[").startswith("V:") for t in toks[key_at:]):
        raise TunesmithError("the tune has several voices (V:); tunesmith rewrites one-voice tunes only")
    reader = DurationReader()
    for tok in toks[:key_at]:
        if tok.kind == "field":
            reader.field(tok.text[0], tok.text[2:])
    hornpipe = any(t.kind == "field" and t.text[:2] == "R:" and t.text[2:].strip().lower() == "hornpipe"
                   for t in toks[:key_at])
    # What reaches over each bar line into the next bar: (open slurs, a tied note's spelling, a tuplet or `>`).
    at_line: dict[int, tuple[int, str | None, bool]] = {key_at: (0, None, False)}
    closed: list[tuple[Bar, int, int, Fraction]] = []   # a bar, its opening and closing token, the unit in force
    opening, slurs, tie = key_at, 0, None
    for i in range(key_at + 1, len(toks) + 1):
        tok = toks[i] if i < len(toks) else None
        if tok is not None and tok.kind != "bar":
            reader.token(tok)
            slurs, tie = _follow(toks, i, slurs, tie)
            continue
        at_line[i] = (slurs, tie, bool(reader.tuplet) or reader.broken_next != 1)
        count = len(reader.bars)
        reader.close(tok or toks[-1], tok.text if tok is not None else "")
        if len(reader.bars) > count:
            closed.append((reader.bars[-1], opening, i, reader.unit))
        opening = i
    if not closed:
        raise TunesmithError("the tune has no bars of music to rewrite")
    wrong = {bar.index: total for bar, total in wrong_length_bars([c[0] for c in closed])}
    offsets = _offsets(toks)
    spans = [_span(toks, offsets, bar, first, last, unit, at_line, wrong.get(bar.index))
             for bar, first, last, unit in closed]
    return TuneBars(text, tuple(spans), hornpipe)


def _offsets(toks: list[Token]) -> list[int]:
    """The offset of each token in the text (and of its end, last): the lexer loses no character."""
    out, at = [], 0
    for tok in toks:
        out.append(at)
        at += len(tok.text)
    return out + [at]


def _follow(toks: list[Token], i: int, slurs: int, tie: str | None) -> tuple[int, str | None]:
    """Open slurs and the pending tie after token i."""
    kind = toks[i].kind
    if kind == "slur_open":
        return slurs + 1, tie
    if kind == "slur_close":
        return max(0, slurs - 1), tie
    if kind == "tie":
        before = toks[i - 1]
        if before.kind == "note":
            return slurs, _PITCH.match(before.text).group()
        return slurs, "chord" if before.kind == "chord_close" else None
    if kind in ("note", "rest", "chord_open", "measure_rest"):
        return slurs, None
    return slurs, tie


def _span(toks: list[Token], offsets: list[int], bar: Bar, opening: int, closing: int, unit: Fraction,
          at_line: dict[int, tuple[int, str | None, bool]], wrong_total: Fraction | None) -> BarSpan:
    """One bar's place in the text and what a new bar there must be."""
    first = opening + 1
    while toks[first].kind in _LEADING:
        first += 1
    last = closing - 1
    while toks[last].kind in _TRAILING:
        last -= 1
    slurs, tie, crossing_in = at_line[opening]
    crossing_out = at_line[closing][2]
    why = next((_NOT_REWRITABLE[t.kind] for t in toks[first:last + 1] if t.kind in _NOT_REWRITABLE), "")
    # A bar the checker finds of the wrong length (not a pickup, not split at a repeat) is rewritten to the meter's.
    length = bar.expected if wrong_total is not None and wrong_total == bar.duration and bar.expected else bar.duration
    steps = length / unit / GRID
    if not why and (crossing_in or crossing_out):
        why = "has a tuplet or broken rhythm running over its bar line"
    if not why and tie == "chord":
        why = "starts with a chord tied from the bar before"
    if not why and (steps.denominator != 1 or steps <= 0):
        why = f"lasts {length} of a whole note, which is not a whole number of quarter unit notes"
    opening_text = toks[opening].text if toks[opening].kind == "bar" else ""
    volta = any(t.kind == "volta" for t in toks[opening + 1:first])
    return BarSpan(number=bar.index + 1, start=offsets[first], end=offsets[last + 1],
                   steps=None if why else int(steps), why_not=why, compound=_compound(bar.meter),
                   tie_in=None if tie == "chord" else tie, slurs_in=min(slurs, 2), opening=opening_text,
                   closing=bar.closing, section_start=bar.index == 0 or volta or part_line(opening_text)
                   or opening_text[-1:].isdigit())


def part_line(bar_line: str) -> bool:
    """A bar line between parts: a repeat sign, or a section line (||, [|, |])."""
    return bool(_PART_LINE.search(bar_line))


def _compound(meter: str | None) -> bool:
    """6/8, 9/8, 12/8: a tuplet's q defaults differ."""
    value = meter_fraction(meter) if meter else None
    return value is not None and value.denominator == 8 and value.numerator % 3 == 0


def bar_range(spec: str, tune: TuneBars) -> tuple[int, int]:
    """`--bars 9-12` (or `9`) as (first, last), 1-based; a clear error for a range the tune does not have."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*(?:-\s*(\d{1,6})\s*)?", spec or "")
    count = len(tune.bars)
    if not match:
        raise TunesmithError(f"--bars {spec!r}: give one bar or a range, e.g. 9-12 (the tune has bars 1-{count})")
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    if first < 1 or last < first:
        raise TunesmithError(f"--bars {spec}: the range must go up from bar 1 (the tune has bars 1-{count})")
    if last > count:
        raise TunesmithError(f"--bars {spec}: the tune has {count} bars (1-{count}, a pickup counting as bar 1)")
    for bar in tune.bars[first - 1:last]:
        if bar.why_not:
            raise TunesmithError(f"--bars {spec}: bar {bar.number} {bar.why_not}; tunesmith cannot rewrite it")
    return first, last
