"""The ABC mode's own generation options: header fields the user fixes (the model writes the others)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from ...errors import TunesmithError
from ...music.abc.tunes import KEY_RE, meter_fraction, normalize_rhythm
from ..base import option

if TYPE_CHECKING:
    from .forms import Form

# What --length and --meter may be (see Style.checked).
UNIT_LENGTHS = ("1/2", "1/4", "1/8", "1/16", "1/32", "1/64")
METER_DENOMINATORS = (1, 2, 4, 8, 16)
MAX_BAR = 4          # whole notes
MAX_BAR_UNITS = 64   # unit notes (L:)
# The least --max-length: a header (a quarter of the cap at most) and a body with room to end (see writer).
MIN_LENGTH = 128


@dataclass(frozen=True)
class Style:
    """What the user fixes of a tune: header fields (the model writes the others), its form, and how many
    bars in a row it may share with one training tune."""

    meter: str | None = option(None, "M: of every tune, e.g. 6/8.", label="Meter", max_chars=20,
                               suggest=("6/8", "4/4", "3/4", "2/4", "9/8", "C", "C|"))
    length: str | None = option(None, "L: (unit note length) of every tune, e.g. 1/8.", max_chars=10)
    rhythm: str | None = option(None, "R: of every tune, e.g. jig, reel, hornpipe.", label="Rhythm",
                                max_chars=40, suggest=("jig", "reel", "hornpipe", "polka", "waltz", "slip jig",
                                                       "march", "strathspey"))
    key: str | None = option(None, "K: of every tune, e.g. D, Ador.", label="Key", max_chars=20,
                             suggest=("D", "G", "A", "C", "F", "Em", "Am", "Bm", "Ador", "Edor", "Gmix"))
    form: str | None = option(None, "the parts, a doubled letter for a repeated one (AABB, AB, AABBCC), or none "
                                    "to let the model decide (default: a form of the corpus's tunes in the meter).",
                              label="Form", max_chars=12, suggest=("AABB", "AB", "AABBCC", "AAB", "none"))
    part_bars: str | None = option(None, "bars per part with --form, or one length per part (4,8); default 8.",
                                   label="Bars a part", max_chars=20, suggest=("8", "4", "16", "4,8"))
    origin: str | None = option(None, "O: (origin) of every tune, e.g. Germany, China: for a model trained on "
                                      "a corpus with origins (essen).", label="Origin", max_chars=30,
                                suggest=("Germany", "China", "Luxembourg", "Lorraine", "Austria"))
    max_copy_bars: int = option(3, "no tune shares more than this many bars in a row with one training tune: "
                                   "the bar that would copy more is not written (docs/abc.md); 0 turns it off.",
                                label="Copy at most (bars)", minimum=0)

    def checked(self) -> "Style":
        """The style with each value validated and normalised.

        Only what the well-formed sampler can keep is accepted: a unit note
        length 1/2 ... 1/64 (ABC's are 1/2^k), and a meter of at most four
        whole notes a bar over 1, 2, 4, 8 or 16, so that a bar is a whole number
        of quarter units whatever L: the model writes (1/4, 1/8, 1/16), and at
        most 64 unit notes (a bar the sampler can fill before the length cap).
        """
        meter = self.meter.strip() if self.meter else None
        bar = meter_fraction(meter) if meter else None
        if meter is not None and meter not in ("C", "C|") and (
            not re.fullmatch(r"\d+/\d+", meter) or bar is None or bar == 0
            or int(meter.split("/")[1]) not in METER_DENOMINATORS or bar > MAX_BAR
        ):
            raise TunesmithError(f"--meter {self.meter!r}: not a meter tunesmith writes; write it like 6/8, 3/4, "
                                 f"C or C|: a count over {', '.join(map(str, METER_DENOMINATORS))}, "
                                 f"at most {MAX_BAR} whole notes a bar")
        length = self.length.strip() if self.length else None
        if length is not None and length not in UNIT_LENGTHS:
            raise TunesmithError(f"--length {self.length!r}: not a unit note length; ABC's are 1/2^k: "
                                 f"write one of {', '.join(UNIT_LENGTHS)}")
        if bar is not None and length is not None:
            units = bar / Fraction(length)
            if (units * 4).denominator != 1 or units > MAX_BAR_UNITS:
                raise TunesmithError(f"--meter {meter} and --length {length}: a bar of {meter} is {units} units of "
                                     f"{length}; it must be a whole number of quarter units, at most {MAX_BAR_UNITS}")
        key = re.sub(r"\s+", "", self.key) if self.key else None
        if key is not None and not KEY_RE.match(key):
            raise TunesmithError(f"--key {self.key!r}: not an ABC key; write it like D, Am, Ador, Gmix or F#m")
        rhythm = normalize_rhythm(self.rhythm) if self.rhythm else None
        form = self.form.strip() if self.form else None
        part_bars = self.part_bars.strip() if self.part_bars else None
        origin = re.sub(r"\s+", " ", self.origin).strip() if self.origin else None
        if origin is not None and not re.fullmatch(r"[A-Za-z][A-Za-z .'-]*", origin):
            raise TunesmithError(f"--origin {self.origin!r}: write a country in English, e.g. Germany or China")
        if self.max_copy_bars < 0:
            raise TunesmithError(f"--max-copy-bars {self.max_copy_bars}: give a number of bars, at least 1, "
                                 "or 0 to turn the guard off")
        style = Style(meter, length, rhythm, key, form, part_bars, origin, self.max_copy_bars)
        style.the_form()  # a form that cannot be built fails now
        return style

    def the_form(self) -> "Form | None | str":
        """The form asked for: a Form, "none" (the model decides), or None (draw one from the corpus)."""
        from .forms import parse_form

        if self.form is not None and self.form.lower() == "none":
            if self.part_bars is not None:
                raise TunesmithError("--part-bars is for a --form; drop it with --form none")
            return "none"
        if self.form is None and self.part_bars is None:
            return None
        return parse_form(self.form or "AABB", self.part_bars)

    def fields(self) -> list[tuple[str, str | None]]:
        """(letter, value) in canonical header order (X and T come first)."""
        return [("O", self.origin), ("M", self.meter), ("L", self.length), ("R", self.rhythm), ("K", self.key)]
