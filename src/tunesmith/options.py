"""What a user asks of sampling in every mode: temperature, top-k, top-p, and the default length cap.

Kept free of torch so that the command line can read its defaults cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import TunesmithError

# ABC's defaults, chosen for fidelity to real tunes once the well-formed
# decoder made every setting valid (benchmarks/defaults_search.py, 200 tunes
# on each of three seeds, docs/abc.md): temperature 1.0 with top-p 0.95 has
# the highest mean histogram overlap with real tunes (0.913, against 0.908 at
# top-p 0.8) and the highest least one; without a nucleus pitch range and the
# tonic endings fall away. MIDI and tabla choose their own (Mode.sampling).
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 0.95
DEFAULT_MAX_LENGTH = 2000   # symbols per piece
# The widest settings accepted: at temperature 10 the model's choice is all but uniform (the constraints
# still hold); a top-k above any vocabulary changes nothing.
MAX_TEMPERATURE = 10.0
MAX_TOP_K = 10_000
# Infill and variations: candidates sampled for each version of a gap, the best kept (see docs/abc.md#infill).
DEFAULT_CANDIDATES = 16
MAX_CANDIDATES = 256


@dataclass(frozen=True)
class Sampling:
    """How each next symbol is chosen from the model's distribution."""

    temperature: float = DEFAULT_TEMPERATURE
    top_k: int | None = None
    top_p: float | None = DEFAULT_TOP_P   # None or 1 turns nucleus sampling off
    argmax: bool = False
    copy: bool = True    # mix the model's copy model into each draw (models/copy.py), when it has one

    def check(self) -> None:
        """Reject values that have no meaning, or none worth sampling with, naming the option."""
        if not 0 < self.temperature <= MAX_TEMPERATURE:  # also refuses NaN and infinity
            raise TunesmithError(f"--temperature must be above 0 and at most {MAX_TEMPERATURE:g} "
                                 f"(got {self.temperature}); use --argmax for greedy")
        if self.top_k is not None and not 1 <= self.top_k <= MAX_TOP_K:
            raise TunesmithError(f"--top-k must be between 1 and {MAX_TOP_K} (got {self.top_k})")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise TunesmithError(f"--top-p must be in (0, 1] (got {self.top_p})")
