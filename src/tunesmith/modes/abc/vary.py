"""Variations: a new setting of a tune, with about the asked share of its bars rewritten by infill.

A folk musician varies the inside of a phrase and keeps its landmarks. So
the bars that may change are those inside a part: not the first bar of the
tune, of a part (after a repeat or section line) or of an ending, which say
which tune it is and where it goes, and not a part's last bar (before a
repeat or section line), its cadence. Among those, round(amount x bars) are drawn at random; runs of
neighbouring bars are rewritten together, left to right, each by infill
(primed with the tune as varied so far, ranked by how well it leads into
the rest). A candidate that changes every bar of its run is preferred: a
rewritten bar can come out as it was. The share of bars actually changed is
reported; it can fall short of the asked share when a tune has few bars
inside its parts (docs/abc.md gives the measured shares).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ...errors import TunesmithError
from ...music.abc.bar_spans import TuneBars, part_line, tune_bars
from ...options import DEFAULT_CANDIDATES, Sampling
from ..rewriting import changed_most, drawn_units, runs
from .infill import Candidate, Gap, infill

if TYPE_CHECKING:
    from ...checkpoint import Checkpoint


@dataclass(frozen=True)
class Varied:
    """A variation of a tune: its text, and which bars were asked to change and did."""

    text: str
    bars: int                   # bars in the tune
    asked: float                # the share asked for
    rewritten: tuple[int, ...]  # bars rewritten (1-based)
    changed: tuple[int, ...]    # bars whose music differs from the tune's

    @property
    def achieved(self) -> float:
        """The share of the tune's bars whose music changed."""
        return len(self.changed) / self.bars


def may_vary(tune: TuneBars) -> list[int]:
    """The bars a variation may rewrite (1-based): inside a part, and rewritable."""
    bars = tune.bars
    inside = []
    for i, bar in enumerate(bars):
        last_of_part = i == len(bars) - 1 or part_line(bars[i + 1].opening)
        if bar.steps is not None and not bar.section_start and not last_of_part:
            inside.append(bar.number)
    return inside


def _most_changed(gap: Gap, candidates: tuple[Candidate, ...], chosen: Candidate) -> Candidate:
    """The best-ranked candidate among those that change the most bars of the gap."""
    original = gap.original()

    def changed(c: Candidate) -> int:
        return sum(new != old for new, old in zip(c.music, original))

    return changed_most(list(candidates), chosen, changed, lambda c: c.bits)


def vary(ckpt: "Checkpoint", text: str, amount: float, candidates: int = DEFAULT_CANDIDATES,
         sampling: Sampling = Sampling(), seed: int = 0, version: int = 0,
         progress: Callable[[str], None] | None = None) -> Varied:
    """A variation of one tune's text with about `amount` of its bars rewritten (`version`: one of several).

    `progress` is told of each run of bars as it is rewritten.
    """
    if not 0 < amount <= 1:
        raise TunesmithError(f"--amount must be above 0 and at most 1 (got {amount}): the share of bars to rewrite")
    tune = tune_bars(text)
    inside = may_vary(tune)
    if not inside:
        raise TunesmithError(f"the tune has no bar inside a part to vary (its {len(tune.bars)} bars open or close "
                             "its parts); rewrite bars with `tunesmith infill --bars` instead")
    rng = np.random.default_rng([seed, version])
    chosen = drawn_units(amount, len(tune.bars), inside, rng)
    todo = runs(chosen)
    for done, (first, last) in enumerate(todo, 1):
        gap = Gap(tune, first, last)
        best = infill(ckpt, gap, 1, candidates, sampling, int(rng.integers(2**31)))[0]
        tune = tune_bars(_most_changed(gap, best.candidates, best.chosen).text)
        if progress is not None:
            progress(f"{gap.name} rewritten ({done} of {len(todo)} runs)")
    original = tune_bars(text)
    changed = tuple(new.number for old, new in zip(original.bars, tune.bars) if tune.music(new) != original.music(old))
    return Varied(tune.text, len(tune.bars), amount, tuple(chosen), changed)
