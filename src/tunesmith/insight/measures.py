"""What insight needs from a mode: its units, a profile of each piece, structure features.

The evaluation report and the neuron finder are the same for every mode;
the music they measure comes from one `Measures` per mode (ABC now; MIDI and
tabla supply theirs: events and bols as units, cycles instead of bars).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import TunesmithError

# Mode name -> module with a MEASURES attribute; imported on first use.
MODULES = {"abc": "tunesmith.insight.abc_measures"}


@dataclass
class PieceProfile:
    """What the report measures in one piece (generated, held-out or training)."""

    bars: list[str] = field(default_factory=list)          # normalised bar keys, in written order
    notes_per_bar: list[int] = field(default_factory=list)  # onsets in each bar with music
    pitches: list[int] = field(default_factory=list)        # melody (top note per onset), in playing order
    lengths: list[str] = field(default_factory=list)        # melody note lengths in whole notes, "1/8"
    key: str | None = None                                  # e.g. "D", "Ador", "Em"
    meter: str | None = None                                # e.g. "6/8"
    checker_ok: bool = False                                # our checker found no problem
    bars_total: int = 0                                     # bars the checker timed
    bars_right: int = 0                                     # ... of which have the meter's length


@dataclass
class Feature:
    """A structure feature per symbol: its value, and where it is defined."""

    label: str               # what it tracks, for people
    values: np.ndarray       # (T,) float
    defined: np.ndarray      # (T,) bool: symbols the correlation is taken over


@dataclass(frozen=True)
class Measures:
    """A mode's music, as insight sees it."""

    mode: str
    bar: str                                              # what a bar is called: bar, cycle
    profile: Callable[[str, bool], PieceProfile]          # (text, check validity too) -> its profile
    features: Callable[[str], dict[str, tuple[str, np.ndarray, np.ndarray]]]
    # ^ text -> name -> (label, per-character value, per-character defined); see symbol_features


def measures_for(mode: str) -> Measures:
    """The measures of a mode, or a clear error for a mode insight cannot read yet."""
    if mode not in MODULES:
        raise TunesmithError(f"evaluate/visualize cannot read {mode} models yet (they know: {', '.join(MODULES)})")
    return importlib.import_module(MODULES[mode]).MEASURES


def unit_name(mode_unit: str, codec_name: str) -> str:
    """What one symbol is called: the mode's unit, except "token" for the ABC token codec."""
    return "token" if codec_name == "abc-tokens" else mode_unit


def symbol_features(measures: Measures, text: str, symbols: list[str]) -> dict[str, Feature]:
    """Structure features per symbol: each symbol takes the value at its last character,
    i.e. where the network stands once it has read the symbol."""
    ends = np.cumsum([len(s) for s in symbols]) - 1  # (T,) index of each symbol's last character
    out = {}
    for name, (label, values, defined) in measures.features(text).items():
        out[name] = Feature(label, values[ends], defined[ends])
    return out
