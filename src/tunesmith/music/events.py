"""The one music type every renderer consumes: timed note events."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class NoteEvent:
    """A sounding note: when it starts and how long it lasts, in whole notes from the start."""

    start: Fraction
    duration: Fraction
    pitch: int            # MIDI note number; middle C (ABC `C`) is 60
    velocity: int = 80


def total_length(events: list[NoteEvent]) -> Fraction:
    """Where the last note ends (0 for no notes)."""
    return max((e.start + e.duration for e in events), default=Fraction(0))
