"""The lehra (nagma): a melodic loop one cycle of a tala long, which a tabla player keeps time against.

A lehra is played on the harmonium or sarangi, the same phrase every cycle,
so that the player always hears where sam is. Here it is made from the tala
alone, so that every tala (the ones the model never saw included) has one:

- the notes are the swaras of raag Yaman (S R G M' P D N: Sa, then 2, 4, 6,
  7, 9 and 11 semitones above), one note a matra;
- the melody rises from Sa on sam to Pa/Dha at the middle of the cycle and
  falls back (a half sine over the cycle, rounded to the raag's degrees);
- the first matra of every vibhag takes the steadiest note near it (Sa, Ga or
  Pa), so the claps and waves fall on resting notes;
- the last matra is the Ni below Sa, which leads back to Sa on the next sam;
- a note the same as the one before is held instead of struck again.

The notes are in matras (exact fractions) and semitones from Sa; the sound is
render/harmonium.py's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from .talas import Tala

# Semitones above Sa of raag Yaman's degrees, Sa to the Sa above.
YAMAN = (0, 2, 4, 6, 7, 9, 11, 12)
STEADY = (0, 2, 4)             # degrees a vibhag starts on: Sa, Ga, Pa
LEADING_NI = -1                # the Ni below Sa, in semitones
PEAK_DEGREE = 5                # Dha: the top of the phrase
SA_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#"}


@dataclass(frozen=True)
class Note:
    """One lehra note: its start and length in matras from sam, and its pitch in semitones from Sa."""

    start: Fraction
    length: Fraction
    semitones: int


def _degree_at(matra: int, tala: Tala) -> int:
    """The raag degree the phrase reaches on a matra: a half sine over the cycle, vibhag starts steadied."""
    height = PEAK_DEGREE * math.sin(math.pi * matra / tala.matras)
    if matra in (0,) + tala.boundaries:
        return min(STEADY, key=lambda d: (abs(d - height), d))
    return round(height)


def nagma(tala: Tala) -> list[Note]:
    """One cycle of the tala's lehra: notes covering its matras exactly, from sam to the end of the cycle."""
    pitches = [YAMAN[_degree_at(m, tala)] for m in range(tala.matras)]
    pitches[-1] = LEADING_NI
    notes: list[Note] = []
    for matra, pitch in enumerate(pitches):
        if notes and notes[-1].semitones == pitch:
            last = notes[-1]
            notes[-1] = Note(last.start, last.length + 1, pitch)
        else:
            notes.append(Note(Fraction(matra), Fraction(1), pitch))
    return notes


def sa_semitone(name: str) -> int | None:
    """Semitones above C of a key's name (C, C#, Db ... B; any case), else None."""
    cleaned = name.strip()
    cleaned = cleaned[:1].upper() + cleaned[1:].lower().replace("♯", "#").replace("♭", "b")
    cleaned = _FLATS.get(cleaned, cleaned)
    return SA_NAMES.index(cleaned) if cleaned in SA_NAMES else None


def sa_hz(name: str) -> float:
    """Sa's frequency for a key name: A3 (220 Hz) up to G#4, so every key sits in the harmonium's middle."""
    semitone = sa_semitone(name)
    if semitone is None:
        raise ValueError(f"unknown key {name!r}")
    midi = 57 + (semitone - 9) % 12           # A3 = 57 .. G#4 = 68
    return 440.0 * 2 ** ((midi - 69) / 12)
