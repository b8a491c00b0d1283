"""A harmonium-like synthesiser for the tabla's lehra: free reeds, two to a note, a little out of tune.

A harmonium's reed gives a bright, steady tone rich in harmonics (near a
sawtooth's, 1/h, with a little more of the 3rd to 5th: the reed chamber's
resonance). Its keys usually sound two reeds tuned a few cents apart, whose
beating is the instrument's shimmer; the bellows give a soft attack, and a
key let go stops the sound within a few tens of milliseconds. Each note
here is two reeds read from one wavetable (one period of the tone), with an
attack and a release inside the note's own samples, so a track is exactly
as long as the notes ask and a note never spills into the next.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .audio import SAMPLE_RATE

TABLE_SIZE = 4096
HARMONICS = 24
DETUNE_CENTS = 4.0         # the second reed: beats about 1 Hz around Sa
ATTACK = 0.03              # seconds the bellows take to fill a note
RELEASE = 0.04             # seconds a note takes to stop after its key is let go


@lru_cache(maxsize=1)
def reed_table() -> np.ndarray:
    """One period of the reed's tone, peak 1."""
    phase = np.arange(TABLE_SIZE) / TABLE_SIZE
    h = np.arange(1, HARMONICS + 1)
    amplitudes = (1 / h) * (1 + 0.8 * np.exp(-((h - 4) / 1.5) ** 2))
    tone = (amplitudes[:, None] * np.sin(2 * np.pi * h[:, None] * phase[None, :])).sum(0)
    return tone / np.abs(tone).max()


def _reed(hz: float, samples: int) -> np.ndarray:
    """`samples` of one reed at `hz`, read from the wavetable."""
    cycles = hz * np.arange(samples) / SAMPLE_RATE
    return reed_table()[((cycles % 1.0) * TABLE_SIZE).astype(np.int64) % TABLE_SIZE]


def note(hz: float, samples: int) -> np.ndarray:
    """One harmonium note of exactly `samples` samples (peak about 1): two reeds, attack and release inside."""
    if samples <= 0:
        return np.zeros(0)
    sound = 0.5 * (_reed(hz, samples) + _reed(hz * 2 ** (DETUNE_CENTS / 1200), samples))
    attack = min(samples // 2, int(ATTACK * SAMPLE_RATE))
    release = min(samples - attack, int(RELEASE * SAMPLE_RATE))
    if attack:
        sound[:attack] *= np.linspace(0, 1, attack, endpoint=False)
    if release:
        sound[samples - release:] *= np.linspace(1, 0, release)
    return sound


def add_notes(out: np.ndarray, notes: list[tuple[int, int, float]], gain: float) -> None:
    """Add notes (first sample, sample after the last, frequency in Hz) to `out`, each cut at its end."""
    for start, end, hz in notes:
        end = min(end, len(out))
        if end > start:
            out[start:end] += gain * note(hz, end - start)
