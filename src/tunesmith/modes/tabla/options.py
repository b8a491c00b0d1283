"""The tabla mode's own generation options: the frame (tala, cycles, tempo) and the audio's layers."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import option

DEFAULT_TALA = "teentaal"
DEFAULT_CYCLES = None    # each form as long as the corpus makes it (modes/tabla/plans.py)
COUNTED_CYCLES = 4       # cycles of a form with no rule here (a user's model's), when none are asked
MAX_CYCLES = 64
DEFAULT_TEMPO = 90.0     # matras per minute: madhya laya
RENDERS = ("wav", "midi", "drone", "theka")  # what --render can add beside the text (drone, theka: WAV layers)


def _talas() -> list[tuple[str, str]]:
    from ...music.tabla.talas import TALAS

    return [(t.name, f"{t.name} — {t.matras} ({t.shape})") for t in TALAS.values()]


@dataclass(frozen=True)
class TablaOptions:
    """The frame a composition is written in; it is kept exactly."""

    tala: str = option(DEFAULT_TALA, "the cycle, e.g. teentaal, jhaptaal, rupak.", label="Tala", choices=_talas,
                       max_chars=40)
    tempo: float = option(DEFAULT_TEMPO, "matras (beats) per minute.", label="Tempo (matras a minute)",
                          minimum=1, maximum=1000)
    cycles: int | None = option(DEFAULT_CYCLES, "how many cycles, before the landing sam (default: as long as "
                                "the corpus makes the form: a theka 1, a tihai the fewest that hold it, a kaida "
                                "its theme, a variation and a closing tihai).", label="Cycles",
                         minimum=1, maximum=MAX_CYCLES, step="1")
    theka: bool = option(False, "the audio has the tala's theka looped quietly underneath.",
                         label="the theka, looped quietly", group="In the audio", cli=False)
    drone: bool = option(False, "the audio has a tanpura-like drone on Sa and Pa.",
                         label="a tanpura drone", group="In the audio", cli=False)
