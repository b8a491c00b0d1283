"""Mode-free measures for the evaluation report: distributions, copying, diversity.

Everything here works on plain Python values (bar keys, pitches, labels), so
the same measures serve every mode: a "bar" is whatever the mode cuts a
piece into (an ABC bar, a tabla cycle), given as a hashable key.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

FLAG_BARS = 4  # a generated piece sharing this many consecutive bars with one training piece is flagged
INTERVAL_CLIP = 13  # melodic steps beyond an octave share the bins +-13


def distribution(values: Iterable[Hashable]) -> dict[Hashable, float]:
    """Counts normalised to sum to 1 (empty input: empty distribution)."""
    counts = Counter(values)
    total = sum(counts.values())
    return {k: c / total for k, c in counts.items()} if total else {}


def overlap(p: dict[Hashable, float], q: dict[Hashable, float]) -> float | None:
    """Overlapping area of two distributions: sum over bins of min(p, q); 1 = identical, 0 = disjoint.

    None when either side is empty (nothing to compare).
    """
    if not p or not q:
        return None
    return sum(min(p.get(k, 0.0), q.get(k, 0.0)) for k in p.keys() & q.keys())


def intervals(pitches: Sequence[int]) -> list[int]:
    """Steps between consecutive melody notes in semitones, clipped to +-INTERVAL_CLIP."""
    return [max(-INTERVAL_CLIP, min(INTERVAL_CLIP, b - a)) for a, b in zip(pitches, pitches[1:])]


def distinct_ratio(sequences: Iterable[Sequence[Hashable]], n: int) -> tuple[int, int]:
    """(distinct, total) n-grams of consecutive items, counted within each sequence."""
    seen: set[tuple] = set()
    total = 0
    for seq in sequences:
        for i in range(len(seq) - n + 1):
            seen.add(tuple(seq[i:i + n]))
            total += 1
    return len(seen), total


@dataclass(frozen=True)
class Match:
    """The training piece nearest to a piece, by bars shared."""

    piece: int | None    # index into the indexed pieces; None when no bar is shared
    longest_run: int     # most consecutive bars shared with that piece
    shared_bars: int     # distinct bars of the piece found in that piece

    @property
    def flagged(self) -> bool:
        """Shares at least FLAG_BARS consecutive bars: likely copied."""
        return self.longest_run >= FLAG_BARS


class BarIndex:
    """Every bar of a set of pieces, indexed for copy detection.

    Holds bar -> (piece, position) occurrences and the set of all runs of
    `span` consecutive bars, so that one query costs a dictionary look-up
    per bar and per occurrence, not a comparison with every piece.
    """

    def __init__(self, pieces: Sequence[Sequence[Hashable]], span: int = FLAG_BARS):
        self.span = span
        self.occurrences: dict[Hashable, list[tuple[int, int]]] = defaultdict(list)
        self.runs: set[tuple] = set()
        for p, bars in enumerate(pieces):
            for j, bar in enumerate(bars):
                self.occurrences[bar].append((p, j))
            for j in range(len(bars) - span + 1):
                self.runs.add(tuple(bars[j:j + span]))

    def nearest(self, bars: Sequence[Hashable], exclude: int | None = None) -> Match:
        """The indexed piece sharing the longest run of consecutive bars with `bars`.

        Ties go to the piece sharing more distinct bars, then to the earlier
        piece. `exclude` leaves one indexed piece out (a piece compared with
        the others of its own set).
        """
        best_run: dict[int, int] = {}
        previous: dict[tuple[int, int], int] = {}
        for bar in bars:
            current: dict[tuple[int, int], int] = {}
            for p, j in self.occurrences.get(bar, ()):
                if p == exclude:
                    continue
                run = previous.get((p, j - 1), 0) + 1
                current[(p, j)] = run
                if run > best_run.get(p, 0):
                    best_run[p] = run
            previous = current
        if not best_run:
            return Match(None, 0, 0)
        shared: Counter = Counter()
        for bar in set(bars):
            shared.update({p for p, _ in self.occurrences.get(bar, ()) if p != exclude})
        piece = min(best_run, key=lambda p: (-best_run[p], -shared[p], p))
        return Match(piece, best_run[piece], shared[piece])

    def runs_found(self, bars: Sequence[Hashable]) -> tuple[int, int]:
        """(found, total) runs of `span` consecutive bars of `bars` that occur in the index."""
        runs = [tuple(bars[j:j + self.span]) for j in range(len(bars) - self.span + 1)]
        return sum(r in self.runs for r in runs), len(runs)


def duplicates(pieces: Sequence[Sequence[Hashable]]) -> tuple[int, int]:
    """(exact, near): pieces whose bars equal an earlier piece's, and pieces sharing
    FLAG_BARS consecutive bars with another piece of the same set."""
    seen: set[tuple] = set()
    exact = 0
    for bars in pieces:
        key = tuple(bars)
        if bars and key in seen:
            exact += 1
        seen.add(key)
    index = BarIndex(pieces)
    near = sum(index.nearest(bars, exclude=i).flagged for i, bars in enumerate(pieces))
    return exact, near
