"""When each stroke of a composition sounds, in matras from the start (exact fractions)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from fractions import Fraction

from .bols import COMPOUNDS, SILENCE, strokes
from .notation import Matra
from .talas import Tala


@dataclass(frozen=True)
class Hit:
    """One bol sounding: its start and length in matras, the bol, and its drum strokes."""

    start: Fraction
    length: Fraction
    bol: str
    strokes: tuple[str, ...]
    accent: int          # 2 on sam, 1 on the first matra of another vibhag, 0 elsewhere


def _spread(bol: str, start: Fraction, length: Fraction, accent: int, out: list[Hit]) -> None:
    if bol in COMPOUNDS:
        parts = COMPOUNDS[bol]
        step = length / len(parts)
        for i, part in enumerate(parts):
            _spread(part, start + i * step, step, accent if i == 0 else 0, out)
    elif bol != SILENCE:
        out.append(Hit(start, length, bol, strokes(bol), accent))


def hits(matras: list[Matra], tala: Tala) -> list[Hit]:
    """The sounding bols of `matras` played from sam: bols sharing a matra divide it equally."""
    out: list[Hit] = []
    starts = set((0,) + tala.boundaries)
    for index, matra in enumerate(matras):
        at = index % tala.matras
        accent = 2 if at == 0 else int(at in starts)
        step = Fraction(1, len(matra))
        for i, bol in enumerate(matra):
            _spread(bol, index + i * step, step, accent if i == 0 else 0, out)
    return out


def _accent(start: Fraction, tala: Tala) -> int:
    """2 on sam, 1 on the first matra of another vibhag, 0 elsewhere (between matras too)."""
    if start.denominator != 1:
        return 0
    at = int(start) % tala.matras
    return 2 if at == 0 else int(at in tala.boundaries)


def layakari_hits(cycles: list[Matra], landing: Matra | None, tala: Tala, laya: int = 1,
                  passes: int = 1) -> list[Hit]:
    """The composition played `laya` times as dense against the tala, `passes` times over, then its landing.

    At laya k each matra of the composition takes 1/k of the tala's matra, so its cycles are played k times
    over to fill the cycles they fill at laya 1 (a theme in dugun is played twice in the same span), and
    the landing still falls on sam, after passes x cycles of the tala. Accents follow the tala's sam and
    vibhags, not the composition's. `cycles` is the composition's matras without the landing.
    """
    if laya < 1 or passes < 1:
        raise ValueError("laya and passes count from 1")
    body = hits(cycles * (laya * passes), tala)
    out = [Hit(h.start / laya, h.length / laya, h.bol, h.strokes, _accent(h.start / laya, tala)) for h in body]
    if landing is not None:
        end = Fraction(len(cycles) * passes)
        out += [Hit(h.start + end, h.length, h.bol, h.strokes, _accent(h.start + end, tala))
                for h in hits([landing], tala)]
    return out


@dataclass(frozen=True)
class Schedule:
    """When each matra of a practice playback sounds: the tala's cycles, each at its own tempo.

    `tempos` has one tempo (matras a minute) per cycle played and one more for the cycle whose sam the
    playback lands on (only that sam is played). A tempo ramp from A to B over N cycles plays cycle k
    (from 0) at A + (B - A) k / (N - 1), and B from the Nth cycle on; without a ramp every cycle is at A.
    """

    matras: int                     # matras in one cycle of the tala
    tempos: tuple[float, ...]

    @classmethod
    def ramp(cls, tala: Tala, cycles: int, start: float, end: float | None = None,
             over: int | None = None) -> "Schedule":
        """`cycles` cycles and the landing sam, ramped from `start` to `end` over `over` cycles (None: steady)."""
        if end is None or over is None or over < 2:
            return cls(tala.matras, (start,) * (cycles + 1))
        return cls(tala.matras, tuple(start + (end - start) * min(k, over - 1) / (over - 1) for k in range(cycles + 1)))

    @property
    def length(self) -> int:
        """Matras played: the whole cycles, and the landing sam."""
        return (len(self.tempos) - 1) * self.matras + 1

    @cached_property
    def cycle_starts(self) -> tuple[float, ...]:
        """Seconds from the start at which each cycle's sam sounds, the landing's included."""
        out, now = [], 0.0
        for tempo in self.tempos:
            out.append(now)
            now += self.matras * 60.0 / tempo
        return tuple(out)

    def seconds(self, at: Fraction | float) -> float:
        """Seconds from the start at which matra position `at` (counted from the first sam) sounds."""
        cycle = min(int(at // self.matras), len(self.tempos) - 1)
        return self.cycle_starts[cycle] + (float(at) - cycle * self.matras) * 60.0 / self.tempos[cycle]

    @property
    def total_seconds(self) -> float:
        """How long the playback lasts: its cycles and one matra of the landing sam."""
        return self.seconds(self.length)
