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


def _keys() -> list[tuple[str, str]]:
    from ...music.tabla.lehra import SA_NAMES

    return [(name, f"Sa = {name}") for name in SA_NAMES]


def _layas() -> list[tuple[str, str]]:
    return [("1", "1× (as written)"), ("2", "2× (dugun)"), ("3", "3× (tigun)"), ("4", "4× (chaugun)")]


@dataclass(frozen=True)
class TablaPractice:
    """How a composition is played for practice: by `tunesmith render` (its flags) and the tab's player (its form).

    Declared like the generation options, so that the command line, the web form and the API read the same
    names, helps and ranges (see render/tabla_practice.py for what each does to the sound).
    """

    lehra: bool = option(False, "play a lehra (a melodic loop one cycle long) on a harmonium-like synth.",
                         label="a lehra (harmonium)", group="Practice")
    sa: str = option("C#", "the key: the lehra's Sa, to which the dayan and the drone are tuned too (C, C#, D ... B).",
                     label="Key", choices=_keys, max_chars=3)
    laya: int = option(1, "layakari: the composition's bols at 1, 2, 3 or 4 times the density, against the "
                          "theka and lehra at the tala's tempo.", label="Layakari", choices=_layas)
    tempo: float | None = option(None, "matras a minute, where a ramp starts (default: the composition's "
                                       "tempo line, else 90).", label="Tempo (matras a minute)",
                                 minimum=1, maximum=1000)
    ramp_to: float | None = option(None, "a tempo ramp: the tempo it reaches, in matras a minute (with "
                                         "--ramp-cycles).", label="Ramp to (matras a minute)", minimum=1, maximum=1000)
    ramp_cycles: int | None = option(None, "a tempo ramp: over how many cycles of the tala (2-256); the "
                                           "composition is played over until they are done.",
                                     label="Ramp over (cycles)", minimum=2, maximum=256, step="1")
    theka: bool = option(False, "the theka looped quietly underneath.", label="the theka", group="Practice")
    drone: bool = option(False, "a tanpura-like drone on Sa and Pa.", label="a tanpura drone", group="Practice")
