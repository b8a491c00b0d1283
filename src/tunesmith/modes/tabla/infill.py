"""Infill and variations for tabla: whole cycles of a composition rewritten, leading into the cycles after them.

The method is ABC's and MIDI's: K candidates are sampled for the cycles
with the mode's tala-true writer, each primed with the composition before
them, and the one after which the model finds the rest likeliest
(`score.continuation_bits`) is kept.

A tabla composition is counted in cycles, so that is what infill rewrites
(`--cycles 2-3`): each new cycle has the tala's matras, with the writer
putting `|` between the tala's vibhags and `||` at the cycle's end, as when
it composes. In a kaida or a rela, whose cycles are all made of the theme's
bols, the new cycles use only the bols the rest of the composition uses
(as the writer's variations use only the theme's). The cycles outside the
range, the landing sam and the header lines stay as they are; the versions
are written in the canonical notation (`Composition.file_text`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

import numpy as np

from ...codecs.tabla_bols import known_talas
from ...errors import TunesmithError
from ...generate import prime, write_batched
from ...music.tabla.bols import SILENCE
from ...music.tabla.notation import Composition, Matra
from ...music.tabla.talas import TALAS, Tala
from ...options import DEFAULT_CANDIDATES, Sampling
from ..rewriting import best_of_groups, changed_most, check_amount, check_counts, drawn_units, runs, unit_range
from .plans import Plan, Slot, in_material, strokes_of
from .writer import MAX_GROUP, Symbols, TablaWriter

if TYPE_CHECKING:
    from ...checkpoint import Checkpoint


# -- the gap ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CycleGap:
    """Cycles `first`..`last` (1-based) of a composition."""

    comp: Composition
    first: int
    last: int

    @property
    def tala(self) -> Tala:
        return TALAS[self.comp.tala]

    @property
    def count(self) -> int:
        """Cycles in the gap."""
        return self.last - self.first + 1

    @property
    def name(self) -> str:
        return f"cycle {self.first}" if self.first == self.last else f"cycles {self.first}-{self.last}"

    def original(self) -> list[Matra]:
        """The gap's matras as the composition has them."""
        return [m for cycle in self.comp.cycles[self.first - 1:self.last] for m in cycle]

    def outside(self) -> list[Matra]:
        """Every matra outside the gap, the landing included."""
        cycles = self.comp.cycles[:self.first - 1] + self.comp.cycles[self.last:]
        return [m for cycle in cycles for m in cycle] + ([self.comp.landing] if self.comp.landing else [])

    def filled(self, matras: list[Matra]) -> Composition:
        """The composition with `matras` in the gap's cycles."""
        per = self.tala.matras
        new = tuple(tuple(matras[i:i + per]) for i in range(0, len(matras), per))
        cycles = self.comp.cycles[:self.first - 1] + new + self.comp.cycles[self.last:]
        return replace(self.comp, cycles=cycles)

    def header_lines(self) -> int:
        """Lines of the canonical text before the first cycle (tala, and form when it has one)."""
        return 2 if self.comp.form else 1


def cycle_gap(comp: Composition, spec: str | None) -> CycleGap:
    """The gap `--cycles 2-3` of a composition; a clear error for a range it does not have."""
    first, last = unit_range(spec, len(comp.cycles), "--cycles", "cycle", "the composition")
    return CycleGap(comp, first, last)


# -- the writer ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CyclePlan:
    """A gap as ids for one model: the composition before it, and what the new cycles may use."""

    gap: CycleGap
    symbols: Symbols
    prefix: list[int]
    only: frozenset[int] | None     # the ids a matra may use (None: any bol, rest or group)
    max_symbols: int


def _lines(comp: Composition) -> list[str]:
    return comp.text.split("\n")[:-1]


def plan_of(ckpt: "Checkpoint", gap: CycleGap) -> CyclePlan:
    """The gap's plan for this model; a clear error when the model does not know the tala or a bol."""
    codec, tala = ckpt.codec, gap.tala
    if codec.name != "tabla-bols":
        raise TunesmithError(f"this model's codec is {codec.name}, not tabla-bols; infill --cycles needs a tabla model")
    if f"tala: {tala.name}" not in codec.index:
        known = ", ".join(known_talas(codec.vocab))
        raise TunesmithError(f"the composition is in {tala.name}, which this model never saw (it knows {known})")
    sym = Symbols(codec, tala)
    lines = _lines(gap.comp)
    prefix = codec.encode("\n".join(lines[:gap.header_lines() + gap.first - 1]) + "\n", "the composition")
    codec.encode(gap.comp.text, "the composition")  # every bol of it known: one clear error now rather than later
    only = None
    if gap.comp.form in ("kaida", "rela"):
        rest = gap.outside()
        material = strokes_of(rest)
        ids = {i for i in sym.bols if in_material(codec.vocab[i], material)}
        ids |= {sym.rest} if any(SILENCE in m for m in rest) else set()
        ids |= {sym.open} if any(len(m) > 1 for m in rest) else set()
        only = frozenset(ids) if ids & set(sym.bols) else None
    cap = gap.count * (tala.matras * (MAX_GROUP + 2) + len(tala.vibhags) + 1) + 2
    return CyclePlan(gap, sym, prefix, only, cap)


class CyclesWriter(TablaWriter):
    """One candidate for a gap: the tala-true writer's matras and marks, for the gap's cycles and no more."""

    def __init__(self, plan: CyclePlan):
        tala = plan.gap.tala
        super().__init__(plan.symbols, tala, {}, [], [], False, plan.max_symbols)
        self.plan = Plan(plan.gap.comp.form or "", plan.gap.count,
                         tuple(Slot("free") for _ in range(plan.gap.count * tala.matras)), ())
        self.allowed = plan.only
        self.total = plan.gap.count * tala.matras

    def _only(self, slot: Slot) -> frozenset[int] | None:
        return self.allowed

    def _matra_done(self, matra: Matra) -> None:
        self.matras.append(matra)
        count = len(self.matras)
        if count % self.tala.matras == 0:
            self.marks.extend([self.sym.cycle_end, self.sym.newline])
            if count == self.total:
                self.stage = "end"
        elif count % self.tala.matras in self.tala.boundaries:
            self.marks.append(self.sym.bar)

    def new_matras(self) -> list[Matra] | None:
        """The gap's matras, None when the candidate did not finish its cycles."""
        return None if self.truncated or len(self.matras) != self.total else list(self.matras)


def sample_candidates(ckpt: "Checkpoint", gap: CycleGap, count: int, sampling: Sampling,
                      seed: int) -> list[list[Matra] | None]:
    """`count` candidates for the gap (each its matras), None for one that failed (none by design)."""
    plan = plan_of(ckpt, gap)
    writers = write_batched(ckpt, count, lambda: CyclesWriter(plan), sampling, seed, start=prime(ckpt, plan.prefix))
    return [w.new_matras() for w in writers]


def score(ckpt: "Checkpoint", gap: CycleGap, fills: list[list[Matra]]) -> tuple[np.ndarray, int]:
    """Bits the model spends on the rest of the composition (cycles after the gap, the landing) after each fill."""
    from ...score import continuation_bits

    codec, h = ckpt.codec, gap.header_lines()
    lines = _lines(gap.comp)
    shared = len(codec.encode("\n".join(lines[:h + gap.first - 1]) + "\n", "the composition"))
    after = lines[h + gap.last:]
    tail = codec.encode("\n".join(after) + "\n\n", "the composition") if after else [codec.index["\n"]]
    heads = [codec.encode("\n".join(_lines(gap.filled(m))[:h + gap.last]) + "\n", "the composition") for m in fills]
    return continuation_bits(ckpt, heads, tail, shared=shared), len(tail)


# -- infill and vary ----------------------------------------------------------------------
@dataclass(frozen=True)
class CyclesInfilled:
    """A version of a composition with its gap filled: the best of its candidates."""

    comp: Composition
    bits: float
    group: tuple[tuple[tuple[Matra, ...], float], ...]   # every usable candidate of its group: matras, bits
    tail_symbols: int
    original_bits: float
    gap: CycleGap


def infill(ckpt: "Checkpoint", gap: CycleGap, n: int = 1, candidates: int = DEFAULT_CANDIDATES,
           sampling: Sampling = Sampling(), seed: int = 0) -> list[CyclesInfilled]:
    """`n` versions of the composition with the gap rewritten, each the best of `candidates` by `score`."""
    check_counts(n, candidates)
    sampling.check()
    drawn = sample_candidates(ckpt, gap, n * candidates, sampling, seed)
    usable = [d for d in drawn if d is not None]
    bits, tail = score(ckpt, gap, usable + [gap.original()])  # the composition's own cycles last
    by_index = dict(zip([i for i, d in enumerate(drawn) if d is not None], bits.tolist()))
    return [CyclesInfilled(gap.filled(drawn[best]), by_index[best],
                           tuple((tuple(drawn[i]), by_index[i]) for i in group), tail, float(bits[-1]), gap)
            for best, group in best_of_groups(drawn, bits[:-1], n, candidates, gap.name)]


@dataclass(frozen=True)
class CyclesVaried:
    """A variation of a composition: which cycles were asked to change and did."""

    comp: Composition
    cycles: int
    asked: float
    rewritten: tuple[int, ...]
    changed: tuple[int, ...]

    @property
    def achieved(self) -> float:
        return len(self.changed) / self.cycles


def may_vary(comp: Composition) -> list[int]:
    """The cycles a variation may rewrite (1-based): all but the first, which states the theme or the theka
    (most compositions of the corpus have two cycles; the landing sam is kept, as everywhere)."""
    return list(range(2, len(comp.cycles) + 1))


def vary(ckpt: "Checkpoint", comp: Composition, amount: float, candidates: int = DEFAULT_CANDIDATES,
         sampling: Sampling = Sampling(), seed: int = 0, version: int = 0,
         progress: Callable[[str], None] | None = None) -> CyclesVaried:
    """A variation with about `amount` of its cycles rewritten: runs of drawn cycles, each by infill, in turn."""
    check_amount(amount)
    may = may_vary(comp)
    if not may:
        raise TunesmithError("the composition has one cycle; a variation keeps the first, so it needs 2 or more")
    rng = np.random.default_rng([seed, version])
    chosen = drawn_units(amount, len(comp.cycles), may, rng)
    current = comp
    todo = runs(chosen)
    for done, (first, last) in enumerate(todo, 1):
        gap = CycleGap(current, first, last)
        best = infill(ckpt, gap, 1, candidates, sampling, int(rng.integers(2**31)))[0]
        current = _most_changed(gap, best)
        if progress is not None:
            progress(f"{gap.name} rewritten ({done} of {len(todo)} runs)")
    changed = tuple(i for i, (old, new) in enumerate(zip(comp.cycles, current.cycles), 1) if old != new)
    return CyclesVaried(current, len(comp.cycles), amount, tuple(chosen), changed)


def _most_changed(gap: CycleGap, best: CyclesInfilled) -> Composition:
    """The best-ranked candidate among those that change the most cycles of the gap (one can come out as it was)."""
    group, per = best.group, gap.tala.matras
    original = gap.original()

    def changed(i: int) -> int:
        new = group[i][0]
        return sum(tuple(new[k:k + per]) != tuple(original[k:k + per]) for k in range(0, len(new), per))

    chosen = next(i for i, (_, bits) in enumerate(group) if bits == best.bits)
    pick = changed_most(list(range(len(group))), chosen, changed, lambda i: group[i][1])
    return gap.filled(list(group[pick][0]))
