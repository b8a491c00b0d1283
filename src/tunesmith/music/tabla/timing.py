"""When each stroke of a composition sounds, in matras from the start (exact fractions)."""

from __future__ import annotations

from dataclasses import dataclass
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
