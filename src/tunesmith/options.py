"""What a user asks of generation: how to sample, and which header fields to fix.

Kept free of torch so that the command line can read its defaults cheaply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import TunesmithError
from .music.abc.tunes import KEY_RE, meter_fraction, normalize_rhythm



# Defaults chosen on the shipped model, over 300 tunes (seeds 11-13): abc2midi
# found no error in 88 % at temperature 1.0 with top-p 0.8, 88 % at 0.8/0.9,
# 80 % at 0.9/0.9, and under half at 1.0 without a nucleus.
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 0.8


@dataclass(frozen=True)
class Sampling:
    """How each next symbol is chosen from the model's distribution."""

    temperature: float = DEFAULT_TEMPERATURE
    top_k: int | None = None
    top_p: float | None = DEFAULT_TOP_P   # None or 1 turns nucleus sampling off
    argmax: bool = False

    def check(self) -> None:
        """Reject values that have no meaning, naming the option."""
        if not self.temperature > 0:
            raise TunesmithError(f"--temperature must be above 0 (got {self.temperature}); use --argmax for greedy")
        if self.top_k is not None and self.top_k < 1:
            raise TunesmithError(f"--top-k must be at least 1 (got {self.top_k})")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise TunesmithError(f"--top-p must be in (0, 1] (got {self.top_p})")


@dataclass(frozen=True)
class Style:
    """Header fields the user fixes; the model writes the others."""

    meter: str | None = None
    length: str | None = None
    rhythm: str | None = None
    key: str | None = None

    def checked(self) -> "Style":
        """The style with each value validated and normalised."""
        meter = self.meter.strip() if self.meter else None
        if meter is not None and meter not in ("C", "C|") and (
            not re.fullmatch(r"\d+/\d+", meter) or meter_fraction(meter) in (None, 0)
        ):
            raise TunesmithError(f"--meter {self.meter!r}: not a meter; write it like 6/8, 3/4, C or C|")
        length = self.length.strip() if self.length else None
        if length is not None and (not re.fullmatch(r"1/\d+", length) or int(length[2:]) == 0):
            raise TunesmithError(f"--length {self.length!r}: not a unit note length; write it like 1/8 or 1/16")
        key = re.sub(r"\s+", "", self.key) if self.key else None
        if key is not None and not KEY_RE.match(key):
            raise TunesmithError(f"--key {self.key!r}: not an ABC key; write it like D, Am, Ador, Gmix or F#m")
        rhythm = normalize_rhythm(self.rhythm) if self.rhythm else None
        return Style(meter, length, rhythm, key)

    def fields(self) -> list[tuple[str, str | None]]:
        """(letter, value) in canonical header order."""
        return [("M", self.meter), ("L", self.length), ("R", self.rhythm), ("K", self.key)]
