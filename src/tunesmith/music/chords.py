"""Chord symbols ("Am", "G7", "D/F#") -> the notes an accompaniment plays.

ABC writes chord symbols and free-text annotations the same way, in double
quotes; only a text that reads as a whole chord name counts as a chord, so
fingerings ("4"), dynamics ("_mf") and directions ("D.C.") are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ROOT = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"": 0, "#": 1, "b": -1}
# Semitones above the root for each written quality (common spellings folded together).
QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7), "maj": (0, 4, 7), "M": (0, 4, 7),
    "m": (0, 3, 7), "min": (0, 3, 7), "-": (0, 3, 7),
    "7": (0, 4, 7, 10), "dom7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11), "M7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10), "min7": (0, 3, 7, 10), "-7": (0, 3, 7, 10),
    "mmaj7": (0, 3, 7, 11), "mM7": (0, 3, 7, 11),
    "dim": (0, 3, 6), "o": (0, 3, 6), "dim7": (0, 3, 6, 9), "o7": (0, 3, 6, 9),
    "m7b5": (0, 3, 6, 10),
    "aug": (0, 4, 8), "+": (0, 4, 8),
    "sus": (0, 5, 7), "sus4": (0, 5, 7), "sus2": (0, 2, 7), "7sus4": (0, 5, 7, 10),
    "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9),
    "9": (0, 4, 7, 10, 14), "maj9": (0, 4, 7, 11, 14), "m9": (0, 3, 7, 10, 14), "add9": (0, 4, 7, 14),
    "5": (0, 7),
}
_CHORD_RE = re.compile(r"([A-G])([#b]?)([^/]*?)(?:/([A-Ga-g])([#b]?))?")  # a bass in either case, as abc2midi reads it
# Register of the accompaniment: the bass note in E2..D#3, the chord's root in C3..B3.
BASS_LOW = 40
CHORD_LOW = 48


@dataclass(frozen=True)
class Chord:
    """A chord symbol read: root and bass as pitch classes (C = 0), and its intervals."""

    name: str
    root: int
    intervals: tuple[int, ...]
    bass: int

    def pitches(self) -> list[int]:
        """MIDI pitches in the accompaniment's low register: a bass note, then the chord above it."""
        bass = BASS_LOW + (self.bass - BASS_LOW) % 12
        root = CHORD_LOW + (self.root - CHORD_LOW) % 12
        upper = sorted({root + i for i in self.intervals} - {bass})
        return [bass] + upper


def parse_chord(text: str) -> Chord | None:
    """The chord a symbol names ("Am", "G7", "D/F#", with or without quotes), or None for other text."""
    name = text.strip().strip('"').strip()
    match = _CHORD_RE.fullmatch(name)
    if not match:
        return None
    letter, accidental, quality, bass_letter, bass_accidental = match.groups()
    intervals = QUALITIES.get(quality)
    if intervals is None:
        return None
    root = (_ROOT[letter] + _ACCIDENTAL[accidental]) % 12
    bass = (_ROOT[bass_letter.upper()] + _ACCIDENTAL[bass_accidental]) % 12 if bass_letter else root
    return Chord(name, root, intervals, bass)
