"""How close a set of ABC tunes comes to real ones: form, repetition, endings, headers, junk.

Each measure is per tune, then summarised over a set; histograms are
compared with the overlapped area (histogram intersection, 1 = identical).
What real folk tunes do (O'Neill, Ryan, Aird, ...): about a quarter of their
bars repeat an earlier bar of the same tune, more than half close two or
more repeats (AABB), four in five end on the key's tonic.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from ...insight.measures import PieceProfile
from ...insight.metrics import distribution, intervals, overlap
from ...music.abc.lexer import tokens
from .measures import _header, body_bars, key_label, profile

# Constructs the corpus almost never writes (1 tune in 4,399), which constrained sampling once produced:
# a slur or tuplet opened and closed at once or piled up, a bar line inside a slur's opening, decorations
# wrapped round rests, a slur left open before a line continuation.
JUNK = re.compile(r"\(\(\(|\(\[\||\(\)|\(\s*\\\s*$|\([0-9]*\s*\)|!\s*[zx]|\(\s*\|", re.MULTILINE)
_NOTE_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_TONIC = re.compile(r"([A-G])([#b]?)")


@dataclass
class TuneForm:
    """One tune's form and what it is made of."""

    bars: int = 0                  # bars with music
    repeated_bars: int = 0         # bars equal to an earlier bar of the tune
    pairs: int = 0                 # 2-bar runs (overlapping)
    repeated_pairs: int = 0        # 2-bar runs equal to an earlier run of the tune
    repeat_closes: int = 0         # :| and :: (and :|2 ...)
    ends_on_tonic: bool = False    # the last melody note has the key's tonic pitch class
    junk_constructs: int = 0       # constructs of JUNK
    meter: str | None = None
    key: str | None = None
    length: str | None = None      # L:
    pitches: list[int] = field(default_factory=list)

    @property
    def junk(self) -> bool:
        """The tune has a construct of JUNK."""
        return self.junk_constructs > 0


def tonic_class(key: str | None) -> int | None:
    """The pitch class of a key's tonic: "Ador" -> 9, "F#m" -> 6, "Bb" -> 10."""
    match = _TONIC.match(key or "")
    if not match:
        return None
    return (_NOTE_PC[match.group(1)] + {"#": 1, "b": -1, "": 0}[match.group(2)]) % 12


def tune_form(text: str, prof: PieceProfile | None = None) -> TuneForm:
    """The form of one tune's text (`prof`: its profile, when it has been read already)."""
    toks = tokens(text)
    fields, _ = _header(toks)
    bars, _ = body_bars(toks)
    prof = prof if prof is not None else profile(text, check=False)
    form = TuneForm(meter=fields.get("M"), key=key_label(fields.get("K")), length=fields.get("L"),
                    pitches=prof.pitches)
    form.bars = len(bars)
    form.repeated_bars = sum(bar in bars[:i] for i, bar in enumerate(bars))
    pairs = list(zip(bars, bars[1:]))
    form.pairs = len(pairs)
    form.repeated_pairs = sum(pair in pairs[:i] for i, pair in enumerate(pairs))
    body = text.split("\nK:", 1)[-1].split("\n", 1)[-1] if "\nK:" in text else ""
    form.repeat_closes = len(re.findall(r":\|", body)) + body.count("::")
    tonic = tonic_class(form.key)
    form.ends_on_tonic = bool(prof.pitches) and tonic is not None and prof.pitches[-1] % 12 == tonic
    form.junk_constructs = len(JUNK.findall(body))
    return form


def form_report(text: str) -> dict:
    """What `check --form` says of one tune: its parts, repeated bars, and whether it ends on the tonic."""
    from .forms import form_of, form_text

    parts = form_of(text)
    shape = tune_form(text)
    words = form_text(parts) if parts else "unknown (no meter to count bars by)"
    share = shape.repeated_bars / shape.bars if shape.bars else 0.0
    tonic = "ends on the tonic" if shape.ends_on_tonic else "does not end on the tonic"
    return {
        "parts": [[bars, repeated] for bars, repeated in parts] if parts else None,
        "bars": shape.bars, "repeated_bars": round(share, 3), "repeat_closes": shape.repeat_closes,
        "ends_on_tonic": shape.ends_on_tonic, "key": shape.key,
        "text": f"{words}; {shape.bars} bars, {share:.0%} repeat an earlier bar; {tonic}"
                + (f" ({shape.key})" if shape.key else ""),
    }


def summary(forms: list[TuneForm]) -> dict:
    """The set's form figures: shares of repeated bars and 2-bar runs, AABB, tonic endings, lengths, junk."""
    n = len(forms) or 1
    lengths = [f.bars for f in forms]
    return {
        "tunes": len(forms),
        "repeated_bars": sum(f.repeated_bars for f in forms) / max(1, sum(f.bars for f in forms)),
        "repeated_pairs": sum(f.repeated_pairs for f in forms) / max(1, sum(f.pairs for f in forms)),
        "two_repeats": sum(f.repeat_closes >= 2 for f in forms) / n,
        "ends_on_tonic": sum(f.ends_on_tonic for f in forms) / n,
        "median_bars": statistics.median(lengths) if lengths else 0,
        "long_tunes": sum(b >= 40 for b in lengths) / n,
        "junk": sum(f.junk for f in forms) / n,
        "distinct_keys": len({f.key for f in forms}),
    }


def _bucket(bars: int) -> int:
    return min(bars // 4 * 4, 64)


HISTOGRAMS = {
    "meter": lambda f: [f.meter],
    "key": lambda f: [f.key],
    "unit length": lambda f: [f.length],
    "length in bars": lambda f: [_bucket(f.bars)],
    "pitch range": lambda f: [max(f.pitches) - min(f.pitches)] if f.pitches else [],
    "interval": lambda f: intervals(f.pitches),
}


def overlaps(forms: list[TuneForm], real: list[TuneForm]) -> dict[str, float | None]:
    """Histogram intersection of each HISTOGRAMS feature between a set and real tunes."""
    return {name: overlap(distribution(v for f in forms for v in get(f)), distribution(v for f in real for v in get(f)))
            for name, get in HISTOGRAMS.items()}


def meter_shares(forms: list[TuneForm]) -> dict[str, float]:
    """Share of tunes per meter, most common first."""
    counts = Counter(f.meter for f in forms)
    return {m: c / len(forms) for m, c in counts.most_common()}
