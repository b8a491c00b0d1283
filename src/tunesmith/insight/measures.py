"""What insight needs from a mode: its units, a profile of each piece, structure features.

The evaluation report and the neuron finder are the same for every mode;
the music they measure comes from one `Measures` per mode (its package's
`measures` module, named on its `Mode`): ABC's, MIDI's (bars of the token
text, onsets, polyphony) and tabla's (cycles, bols, matras). MIDI and tabla have no structure features yet, so `visualize
--neuron auto` reads ABC models only. Each mode also declares the per-piece
features `evaluate` compares in the manner of Yang & Lerch (features.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Callable, Hashable, Sequence

import numpy as np

from ..errors import TunesmithError
from .metrics import FLAG_BARS

if TYPE_CHECKING:
    from ..checkpoint import Checkpoint
    from ..modes import GenerateRequest
    from .features import FeatureSet

@dataclass
class PieceProfile:
    """What the report measures in one piece (generated, held-out or training)."""

    bars: list[str] = field(default_factory=list)          # normalised bar keys, in written order
    notes_per_bar: list[int] = field(default_factory=list)  # onsets in each bar with music
    pitches: list[int] = field(default_factory=list)        # melody (top note per onset), in playing order
    lengths: list[str] = field(default_factory=list)        # melody note lengths in whole notes, "1/8"
    onsets: list[Fraction] = field(default_factory=list)    # melody onsets (whole notes from the start; tabla:
                                                            # matras, of its struck bols), in playing order
    key: str | None = None                                  # e.g. "D", "Ador", "Em"
    meter: str | None = None                                # e.g. "6/8"
    checker_ok: bool = False                                # our checker found no problem
    bars_total: int = 0                                     # bars the checker timed
    bars_right: int = 0                                     # ... of which have the meter's length
    checks: dict[str, bool] = field(default_factory=dict)   # further per-piece checks, label -> passed
    values: dict[str, list] = field(default_factory=dict)   # a mode's own statistics' values (see Measures), and
                                                            # what its features read
    events: list[Hashable] = field(default_factory=list)    # the mode's events in order (ABC: none, its pitches)


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
    features: Callable[[str], dict[str, tuple[str, np.ndarray, np.ndarray]]] | None
    # ^ text -> name -> (label, per-character value, per-character defined); see symbol_features
    statistics: dict[str, tuple[str, Callable[[PieceProfile], list[Hashable]]]] | None = None
    # ^ name -> (label, values of one profile); None: the ABC statistics of reference.STATISTICS
    flag: int = FLAG_BARS                                 # a run of this many shared bars flags a copy
    event: str = "note"                                   # what the diversity n-grams count
    bars_right: str = "with the right length"             # what bars_right counts, after "bars"
    bar_key: str = "without spaces, decorations, chord symbols or bar lines"  # how bars are compared
    judge: tuple[str, Callable[[str], bool]] | None = None  # an independent judge of a piece's text
    generate: Callable[["Checkpoint", "GenerateRequest"], list[str]] | None = None
    # ^ how evaluate generates its pieces; None: the mode's own generate as `tunesmith generate` runs it
    piece_features: "FeatureSet | None" = None
    # ^ the per-piece features evaluate compares with real pieces (features.py); None: no such table

    def events_of(self, profile: PieceProfile) -> Sequence[Hashable]:
        """The sequence whose n-grams the diversity counts: the mode's events (ABC: the melody's pitches)."""
        return profile.events or profile.pitches


def measures_for(mode: str) -> Measures:
    """The measures of a mode (read off its `Mode`)."""
    from ..modes import get_mode

    return get_mode(mode).measures()


def symbol_features(measures: Measures, text: str, symbols: list[str]) -> dict[str, Feature]:
    """Structure features per symbol: each symbol takes the value at its last character,
    i.e. where the network stands once it has read the symbol."""
    if measures.features is None:
        raise TunesmithError(f"--neuron auto has no structure features for {measures.mode} models yet; "
                             "choose a neuron with --neuron N")
    ends = np.cumsum([len(s) for s in symbols]) - 1  # (T,) index of each symbol's last character
    out = {}
    for name, (label, values, defined) in measures.features(text).items():
        out[name] = Feature(label, values[ends], defined[ends])
    return out
