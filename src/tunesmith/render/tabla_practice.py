"""Tabla for practice: a composition with a lehra, a tempo ramp and layakari, as one WAV.

What a learner plays against (docs/tabla.md, "Practice"):

- the **lehra** (`music/tabla/lehra.py`) on the harmonium (`harmonium.py`),
  one cycle of the tala long, every cycle, in the key `sa` (the dayan and the
  drone are tuned to the same Sa);
- a **tempo ramp**: cycle k at A + (B - A) k / (N - 1) matras a minute, B from
  the Nth on (`music.tabla.timing.Schedule`); the composition is played over
  as many times as the ramp's cycles need, then lands on sam;
- **layakari**: the composition's bols at 2, 3 or 4 times the density while
  the theka and the lehra keep the tala's tempo (`layakari_hits`).

Every layer is placed by the same schedule, so a cycle's sam is on the same
sample in the drums, the theka and the lehra. Like `composition_audio`, the
whole playback is measured against the render limits before any audio is made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import TunesmithError
from ..music.tabla.lehra import Note, nagma, sa_hz
from ..music.tabla.notation import Composition, theka
from ..music.tabla.talas import TALAS, Tala
from ..music.tabla.timing import Hit, Schedule, hits, layakari_hits
from .audio import SAMPLE_RATE, pcm16, wav_file
from .harmonium import add_notes
from .limits import RenderLimits, check_events, check_seconds, current
from .audio import finish_mix
from .tabla_audio import DRONE_GAIN, THEKA_GAIN, add_drone, play_strokes

LEHRA_GAIN = 0.22
LAYAS = (1, 2, 3, 4)
MAX_TEMPO = 1000.0
MAX_RAMP_CYCLES = 256


@dataclass(frozen=True)
class Practice:
    """How to play a composition for practice (the defaults play it as written)."""

    tempo: float                      # matras a minute: the ramp's start
    laya: int = 1                     # the composition's bols at this many times the tala's density
    ramp_to: float | None = None      # the tempo the ramp reaches (None: no ramp)
    ramp_cycles: int | None = None    # over how many cycles of the tala
    lehra: bool = False
    sa: str = "C#"                    # the key: the lehra's, the dayan's and the drone's Sa
    theka: bool = False
    drone: bool = False

    def check(self) -> None:
        """One TunesmithError naming the first setting out of range."""
        for name, tempo in (("tempo", self.tempo), ("ramp-to", self.ramp_to)):
            if tempo is not None and not 0 < tempo <= MAX_TEMPO:  # NaN fails too
                raise TunesmithError(f"{name} {tempo:g}: give matras a minute above 0 and at most {MAX_TEMPO:g}")
        if self.laya not in LAYAS:
            raise TunesmithError(f"laya {self.laya}: layakari plays the bols at 1, 2, 3 or 4 times the density")
        if (self.ramp_to is None) != (self.ramp_cycles is None):
            raise TunesmithError("a tempo ramp needs both ramp-to (the tempo it reaches) and ramp-cycles (over "
                                 "how many cycles)")
        if self.ramp_cycles is not None and not 2 <= self.ramp_cycles <= MAX_RAMP_CYCLES:
            raise TunesmithError(f"ramp-cycles {self.ramp_cycles}: from 2 to {MAX_RAMP_CYCLES} cycles")
        try:
            sa_hz(self.sa)
        except ValueError:
            raise TunesmithError(f"sa {self.sa!r}: a key from C to B (C, C#, D ... B; Db for C# too)") from None


@dataclass
class PracticeAudio:
    """A practice playback: its audio, its schedule, and where each layer's events fell (first samples)."""

    audio: np.ndarray                              # float32, mono, SAMPLE_RATE
    schedule: Schedule
    strokes: list[tuple[int, str]]                 # the composition's strokes
    theka_strokes: list[tuple[int, str]]
    notes: list[tuple[int, int, float]]            # the lehra's notes: first sample, sample after, Hz


@dataclass(frozen=True)
class _Plan:
    """The layers in matras, before any audio: composition, theka and lehra, and their schedule."""

    tala: Tala
    schedule: Schedule
    composition: list[Hit]
    theka: list[Hit]
    lehra: list[Note]


def _plan(comp: Composition, p: Practice) -> _Plan:
    p.check()
    tala = TALAS[comp.tala]
    body = [m for cycle in comp.cycles for m in cycle]
    # with a ramp, the composition is played over until the ramp's cycles are done
    passes = 1 if p.ramp_cycles is None else max(1, math.ceil(p.ramp_cycles / len(comp.cycles)))
    cycles = passes * len(comp.cycles)
    schedule = Schedule.ramp(tala, cycles, p.tempo, p.ramp_to, p.ramp_cycles)
    played = layakari_hits(body, comp.landing, tala, p.laya, passes)
    loop = theka(tala) * cycles + [theka(tala)[0]]
    under = hits(loop, tala) if p.theka else []
    lehra = []
    if p.lehra:
        cycle = nagma(tala)
        lehra = [Note(n.start + c * tala.matras, n.length, n.semitones) for c in range(cycles) for n in cycle]
        lehra.append(Note(Fraction(cycles * tala.matras), Fraction(1), 0))   # Sa on the landing sam
    return _Plan(tala, schedule, played, under, lehra)


def check_practice(comp: Composition, p: Practice, limits: RenderLimits | None = None) -> Schedule:
    """The playback's schedule, once its length and strokes are within `limits`; else a RenderLimitError."""
    return _checked_plan(comp, p, limits).schedule


def _checked_plan(comp: Composition, p: Practice, limits: RenderLimits | None) -> _Plan:
    plan = _plan(comp, p)
    what = (f"the practice playback ({len(plan.schedule.tempos) - 1} cycles of {plan.tala.name}"
            f"{f' at {p.laya}x' if p.laya > 1 else ''})")
    limits = current(limits)
    check_seconds(Fraction(plan.schedule.total_seconds), limits, what)
    strokes = sum(len(h.strokes) for h in plan.composition + plan.theka)
    check_events(strokes + len(plan.lehra), limits, what, "strokes and notes")
    return plan


def lehra_notes(notes: list[Note], schedule: Schedule, sa: float) -> list[tuple[int, int, float]]:
    """The lehra's notes in samples (first, after the last) and Hz, placed by the schedule."""
    def sample(at: Fraction) -> int:
        return round(schedule.seconds(at) * SAMPLE_RATE)
    return [(sample(n.start), sample(n.start + n.length), sa * 2 ** (n.semitones / 12)) for n in notes]


def lehra_cycle(tala: Tala, tempo: float, sa: str = "C#") -> np.ndarray:
    """One cycle of the tala's lehra alone at `tempo`: exactly the cycle's samples long."""
    schedule = Schedule.ramp(tala, 1, tempo)
    out = np.zeros(round(schedule.seconds(tala.matras) * SAMPLE_RATE), dtype=np.float32)
    add_notes(out, lehra_notes(nagma(tala), schedule, sa_hz(sa)), LEHRA_GAIN)
    return out


def practice_audio(comp: Composition, p: Practice, seed: int = 0,
                   limits: RenderLimits | None = None) -> PracticeAudio:
    """The composition played for practice (see the module docstring), measured against `limits` first."""
    plan = _checked_plan(comp, p, limits)
    schedule, sa = plan.schedule, sa_hz(p.sa)

    def sample_at(at: Fraction) -> int:
        return round(schedule.seconds(at) * SAMPLE_RATE)

    out = np.zeros(round(schedule.total_seconds * SAMPLE_RATE), dtype=np.float32)
    strokes = play_strokes(out, plan.composition, sample_at, 1.0, seed, sa)   # the dayan tuned to Sa
    theka_strokes = play_strokes(out, plan.theka, sample_at, THEKA_GAIN, seed + 1, sa) if plan.theka else []
    notes = lehra_notes(plan.lehra, schedule, sa)
    add_notes(out, notes, LEHRA_GAIN)
    if p.drone:
        add_drone(out, DRONE_GAIN * max(float(out.max(initial=1.0)), -float(out.min(initial=0.0))), seed, sa / 2)
    return PracticeAudio(finish_mix(out), schedule, strokes, theka_strokes, notes)


def practice_wav(comp: Composition, p: Practice, seed: int = 0, limits: RenderLimits | None = None) -> bytes:
    """A 16-bit mono WAV of the practice playback."""
    return wav_file(pcm16(practice_audio(comp, p, seed, limits).audio))
