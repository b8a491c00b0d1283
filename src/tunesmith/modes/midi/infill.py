"""Infill and variations for MIDI: new music for some bars of a piece, leading into the bars after them.

The method is ABC's (modes/abc/infill.py): K candidates are sampled for the
gap with the mode's own constrained writer, each primed with the piece
before it, and the one after which the model finds the rest of the piece
likeliest (`score.continuation_bits`) is kept.

What stays and what is new, in note events (a MIDI file has no text to keep
byte for byte):
- every note that starts before the gap or at or after its end is kept as it
  is, a note held from before the gap into it (or across it) included: the
  new notes are written around it and never strike its pitch while it sounds;
- every note that starts inside the gap is replaced, and every new note ends
  by the gap's end: nothing new is tied into the fixed continuation (a note
  of the old bars that sounded past the gap goes with them). So bars that
  only hold a note sounding from the gap (a chorale's held last chord) are
  rewritten with it: a range that leaves them after it is refused;
- the gap's bars keep their meter and length (a bar is the piece's time
  signature's length, as in `music/midi.py`), so the bar lines after the gap
  stay where they were. A gap may start with a change of meter, which is
  kept; a change inside it is refused.
The writer's own rules hold inside the gap (MidiWriter: positions rising,
no silence but as a breath after a held chord); a gap that ends the piece
also ends on its cadence.
"""

from __future__ import annotations

import copy
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ...errors import TunesmithError
from ...generate import Primed, prime, write_batched
from ...music.midi import GridNote, MidiPiece, TextReader, normal_piece
from ...options import DEFAULT_CANDIDATES, Sampling
from ..rewriting import best_of_groups, changed_most, check_amount, check_counts, drawn_units, runs, unit_range
from .tables import Tables
from .writer import TOKENS_PER_BAR, MidiWriter, fit_to_vocabulary

if TYPE_CHECKING:
    from ...checkpoint import Checkpoint


# -- the gap ------------------------------------------------------------------------------
@dataclass(frozen=True)
class BarGap:
    """Bars `first`..`last` (1-based) of a piece: the piece as it is and as the model reads it."""

    piece: MidiPiece    # as the file has it: what is kept outside the gap
    view: MidiPiece     # fitted to the model's vocabulary (tempo, onsets, lengths): what the model reads
    first: int
    last: int

    @property
    def start(self) -> int:
        """The gap's first step."""
        return self.piece.bar_starts[self.first - 1]

    @property
    def end(self) -> int:
        """The step after the gap: where the fixed continuation begins."""
        return self.piece.bar_starts[self.last]

    @property
    def bars(self) -> int:
        """Bars in the piece."""
        return len(self.piece.bar_starts) - 1

    @property
    def name(self) -> str:
        return f"bar {self.first}" if self.first == self.last else f"bars {self.first}-{self.last}"

    def inside(self, note: GridNote) -> bool:
        """Does the note start in the gap (and so is rewritten)?"""
        return self.start <= note.start < self.end

    def filled(self, new: list[GridNote], of: MidiPiece | None = None) -> MidiPiece:
        """The piece (or its model's view, `of`) with `new` in place of the notes that start in the gap."""
        base = self.piece if of is None else of
        kept = [n for n in base.notes if not self.inside(n)]
        return normal_piece(kept + new, list(base.meters), base.qpm, base.title)

    def original(self) -> list[GridNote]:
        """The notes of the gap as the model reads them."""
        return [n for n in self.view.notes if self.inside(n)]

    def keeps_the_piece(self, filled: MidiPiece) -> bool:
        """The same bars and meters, and every note outside the gap as it was."""
        outside = [n for n in self.piece.notes if not self.inside(n)]
        return (filled.bar_starts == self.piece.bar_starts and filled.meters == self.piece.meters
                and [n for n in filled.notes if not self.inside(n)] == outside)


def bar_gap(piece: MidiPiece, view: MidiPiece, spec: str | None) -> BarGap:
    """The gap `--bars 5-8` of a piece; a clear error for a range it does not have or a meter change inside."""
    count = len(piece.bar_starts) - 1
    first, last = unit_range(spec, count, "--bars", "bar", "the piece")
    changes = [bar + 1 for bar, _, _ in piece.meters if first <= bar < last]
    if changes:
        raise TunesmithError(f"--bars {spec}: the meter changes at bar {changes[0]}; rewrite the bars before it and "
                             "those from it separately")
    held = last_onset_bar(piece)
    if last < count and held <= last:
        after = f"bar {count} only holds notes" if last + 1 == count else f"bars {last + 1}-{count} only hold notes"
        raise TunesmithError(f"--bars {spec}: {after} sounding from before, and a new bar ends its notes by the "
                             f"range's end; rewrite {'it' if last + 1 == count else 'them'} too (--bars {first}-{count})")
    if view.bar_starts != piece.bar_starts:
        raise TunesmithError("the piece's bars move when its notes are fitted to the model's grid; "
                             "tunesmith cannot rewrite its bars with this model")
    return BarGap(piece, view, first, last)


def last_onset_bar(piece: MidiPiece) -> int:
    """The last bar (1-based) in which a note starts; the bars after it only hold notes sounding into them."""
    last = max((n.start for n in piece.notes), default=0)
    return bisect_right(piece.bar_starts, last)


def _lines(piece: MidiPiece) -> list[str]:
    """The piece's text by line: the header, then one line per bar (1-based: line k is bar k)."""
    return piece.text.split("\n")[:-1]


# -- the writer ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BarPlan:
    """A gap as ids for one model: the piece before it, read once, and what each candidate starts from."""

    gap: BarGap
    tables: Tables
    prefix: list[int]       # the header and the bars before the gap
    reader: TextReader      # the grammar's reader after them
    opening: list[int]      # forced at the gap's start: `Bar TS_..` where the gap's first bar changes the meter
    max_symbols: int


def plan_of(ckpt: "Checkpoint", gap: BarGap) -> BarPlan:
    """The gap's plan for this model."""
    codec, lines = ckpt.codec, _lines(gap.view)
    text = "\n".join(lines[:gap.first]) + "\n"
    prefix = codec.encode(text, "the piece")
    reader = TextReader()
    for token in (codec.vocab[i] for i in prefix):
        reader.feed(token)
    meter = next((m for m in gap.view.meters if m[0] == gap.first - 1 and m[0] > 0), None)
    opening = [] if meter is None else codec.encode(f"Bar TS_{meter[1]}/{meter[2]}", "the piece")
    cap = TOKENS_PER_BAR * (gap.last - gap.first + 1) + 1
    return BarPlan(gap, Tables(codec), prefix, reader, opening, cap)


class BarsWriter(MidiWriter):
    """One candidate for a gap: MidiWriter's rules from the piece's state before it, ending at the gap's end.

    `bars` is the gap's last bar, so no new note lasts past the gap and the
    writer stops there; the cadence that ends a piece is asked for only when
    the gap ends the piece.
    """

    def __init__(self, plan: BarPlan):
        super().__init__(plan.tables, deque(plan.opening), plan.max_symbols, bars=plan.gap.last)
        self.reader = copy.deepcopy(plan.reader)
        self.before = len(self.reader.notes)
        self.ends_piece = plan.gap.last == plan.gap.bars

    def closing(self) -> tuple[int, int] | None:
        return super().closing() if self.ends_piece else None

    def new_notes(self) -> list[GridNote] | None:
        """The notes written in the gap; None when the candidate did not finish its bars."""
        r = self.reader
        if self.truncated or r.bar + 1 != self.bars or r.phase not in ("line_start", "end"):
            return None
        return r.notes[self.before:]


def sample_candidates(ckpt: "Checkpoint", gap: BarGap, count: int, sampling: Sampling,
                      seed: int) -> list[list[GridNote] | None]:
    """`count` candidates for the gap (each its new notes), None for one that failed or changed the rest."""
    plan = plan_of(ckpt, gap)
    start: Primed = prime(ckpt, plan.prefix)
    writers = write_batched(ckpt, count, lambda: BarsWriter(plan), sampling, seed, start=start)
    out = []
    for w in writers:
        notes = w.new_notes()
        out.append(notes if notes is not None and gap.keeps_the_piece(gap.filled(notes)) else None)
    return out


def score(ckpt: "Checkpoint", gap: BarGap, fills: list[list[GridNote]]) -> tuple[np.ndarray, int]:
    """Bits the model spends on the bars after the gap after each fill, and the symbols of the first one's.

    The continuation's events are the same after every fill; its tokens can
    differ (a `Vel_` token repeats only where the velocity changed), so each
    fill is scored on its own spelling (`continuation_bits` with a tail each).
    """
    from ...score import continuation_bits

    codec = ckpt.codec
    shared = len(codec.encode("\n".join(_lines(gap.view)[:gap.first]) + "\n", "the piece"))
    heads, tails = [], []
    for notes in fills:
        lines = _lines(gap.filled(notes, gap.view))
        after = lines[gap.last + 1:]
        heads.append(codec.encode("\n".join(lines[:gap.last + 1]) + "\n", "the piece"))
        # the bars after the gap and the blank line that ends the piece (only that when the gap ends it)
        tails.append(codec.encode("\n".join(after) + "\n\n", "the piece") if after else [codec.index["\n"]])
    return continuation_bits(ckpt, heads, tails, shared=shared), len(tails[0])


# -- infill and vary ----------------------------------------------------------------------
@dataclass(frozen=True)
class BarsInfilled:
    """A version of a piece with its gap filled: the best of its candidates."""

    piece: MidiPiece
    bits: float                  # on the continuation after the chosen candidate
    group: tuple[tuple[tuple[GridNote, ...], float], ...]  # every usable candidate of its group: new notes, bits
    tail_symbols: int
    original_bits: float         # on the continuation after the piece's own bars
    gap: BarGap


def infill(ckpt: "Checkpoint", gap: BarGap, n: int = 1, candidates: int = DEFAULT_CANDIDATES,
           sampling: Sampling = Sampling(), seed: int = 0) -> list[BarsInfilled]:
    """`n` versions of the piece with the gap rewritten, each the best of `candidates` by `score`."""
    check_counts(n, candidates)
    sampling.check()
    drawn = sample_candidates(ckpt, gap, n * candidates, sampling, seed)
    usable = [d for d in drawn if d is not None]
    bits, tail = score(ckpt, gap, usable + [gap.original()])  # the piece's own bars last
    by_index = dict(zip([i for i, d in enumerate(drawn) if d is not None], bits.tolist()))
    out = []
    for best, group in best_of_groups(drawn, bits[:-1], n, candidates, gap.name):
        out.append(BarsInfilled(gap.filled(drawn[best]), by_index[best],
                                tuple((tuple(drawn[i]), by_index[i]) for i in group), tail, float(bits[-1]), gap))
    return out


def may_vary(piece: MidiPiece) -> list[int]:
    """The bars a variation may rewrite (1-based): all but the first and the last, which open and close it (the
    last with a note starting in it: bars after it only hold its notes)."""
    return list(range(2, last_onset_bar(piece)))


@dataclass(frozen=True)
class BarsVaried:
    """A variation of a piece: which bars were asked to change and did."""

    piece: MidiPiece
    bars: int
    asked: float
    rewritten: tuple[int, ...]
    changed: tuple[int, ...]

    @property
    def achieved(self) -> float:
        return len(self.changed) / self.bars


def bar_notes(piece: MidiPiece, bar: int) -> list[GridNote]:
    """The notes that start in a bar (1-based)."""
    starts = piece.bar_starts
    return [n for n in piece.notes if starts[bar - 1] <= n.start < starts[bar]]


def vary(ckpt: "Checkpoint", piece: MidiPiece, amount: float, candidates: int = DEFAULT_CANDIDATES,
         sampling: Sampling = Sampling(), seed: int = 0, version: int = 0,
         progress: Callable[[str], None] | None = None) -> BarsVaried:
    """A variation with about `amount` of its bars rewritten: runs of drawn bars, each by infill, left to right."""
    check_amount(amount)
    tables = Tables(ckpt.codec)
    may = may_vary(piece)
    if not may:
        raise TunesmithError(f"the piece has {len(piece.bar_starts) - 1} bars; a variation keeps the first and the "
                             "last, so it needs 3 or more (rewrite bars with `tunesmith infill --bars` instead)")
    rng = np.random.default_rng([seed, version])
    total = len(piece.bar_starts) - 1
    chosen = drawn_units(amount, total, may, rng)
    current = piece
    todo = _split_at_meters(runs(chosen), piece)
    for done, (first, last) in enumerate(todo, 1):
        gap = bar_gap(current, fit_to_vocabulary(current, tables), f"{first}-{last}")
        best = infill(ckpt, gap, 1, candidates, sampling, int(rng.integers(2**31)))[0]
        current = _most_changed(gap, best)
        if progress is not None:
            progress(f"{gap.name} rewritten ({done} of {len(todo)} runs)")
    changed = tuple(b for b in range(1, total + 1) if bar_notes(current, b) != bar_notes(piece, b))
    return BarsVaried(current, total, amount, tuple(chosen), changed)


def _most_changed(gap: BarGap, best: BarsInfilled) -> MidiPiece:
    """The best-ranked candidate among those that change the most bars of the gap (one can come out as it was)."""
    group = best.group

    def changed(i: int) -> int:
        filled = gap.filled(list(group[i][0]))
        return sum(bar_notes(filled, b) != bar_notes(gap.piece, b) for b in range(gap.first, gap.last + 1))

    chosen = next(i for i, (_, bits) in enumerate(group) if bits == best.bits)
    pick = changed_most(list(range(len(group))), chosen, changed, lambda i: group[i][1])
    return gap.filled(list(group[pick][0]))


def _split_at_meters(todo: list[tuple[int, int]], piece: MidiPiece) -> list[tuple[int, int]]:
    """Runs cut where the meter changes inside them (a gap keeps a meter change only at its start)."""
    changes = {bar + 1 for bar, _, _ in piece.meters if bar > 0}
    out = []
    for first, last in todo:
        start = first
        for bar in range(first + 1, last + 1):
            if bar in changes:
                out.append((start, bar - 1))
                start = bar
        out.append((start, last))
    return out
