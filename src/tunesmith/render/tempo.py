"""How fast a tune is played: its Q: field, else a usual tempo for its rhythm or meter.

Tempi are in quarter notes per minute (qpm), what MIDI files store.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..errors import TunesmithError
from ..music.abc.tunes import normalize_rhythm, rhythm_from_title

# Usual dance tempi, in quarter notes per minute: a jig at 116 dotted quarters
# is 174 qpm; a reel at 100 half notes is 200 qpm, a little below session speed
# so that the notes can be heard.
RHYTHM_QPM: dict[str, float] = {
    "jig": 174, "slip jig": 174, "slide": 195, "set dance": 120,
    "reel": 190, "hornpipe": 150, "clog": 150, "strathspey": 120, "fling": 150,
    "march": 120, "quickstep": 165, "polka": 140, "schottische": 140,
    "waltz": 160, "mazurka": 140, "minuet": 110, "gavotte": 110,
    "country dance": 130, "air": 80,
}
# When a tune names no rhythm (or one not above), its meter says the most.
METER_QPM: dict[str, float] = {
    "6/8": 174, "9/8": 174, "12/8": 195, "3/8": 150,
    "2/4": 140, "4/4": 160, "C": 160, "C|": 180, "2/2": 180, "3/4": 150,
}
DEFAULT_QPM = 120.0
_FIELD_RE = re.compile(r"^([A-Za-z]):(.*)$", re.MULTILINE)
_Q_NOTE_RE = re.compile(r"(\d{1,4})\s*/\s*(\d{1,4})")
_Q_RATE_RE = re.compile(r"=\s*(\d{1,4}(?:\.\d+)?)")


def parse_q(value: str, unit: Fraction = Fraction(1, 8)) -> float | None:
    """Quarter notes per minute of a Q: value ("1/4=120", "3/8=116", "\"Allegro\" 1/4=132", "120").

    A bare number is the old form: that many unit notes (L:) per minute.
    None when the value names no rate.
    """
    text = re.sub(r'"[^"]*"', " ", value)  # "Allegro" and the like are words, not rates
    rate = _Q_RATE_RE.search(text)
    if rate:
        beat = sum((Fraction(int(n), int(d)) for n, d in _Q_NOTE_RE.findall(text[: rate.start()]) if int(d)),
                   Fraction(0))
        beat = beat or Fraction(1, 4)
        bpm = float(rate.group(1))
    else:
        bare = re.fullmatch(r"\s*(\d{1,4})\s*", text)
        if not bare:
            return None
        beat, bpm = unit, float(bare.group(1))
    qpm = bpm * float(beat) * 4
    return qpm if qpm > 0 else None


def default_qpm(abc_or_rhythm: str) -> float:
    """Tempo of a tune: its Q: field if present, else the usual one for its rhythm (R:, title) or meter.

    Takes a tune's ABC text or a rhythm name ("jig", "reel", ...).
    """
    if "\n" not in abc_or_rhythm and ":" not in abc_or_rhythm:
        rhythm = normalize_rhythm(abc_or_rhythm)
        return RHYTHM_QPM.get(rhythm or "", DEFAULT_QPM)
    fields: dict[str, str] = {}
    for letter, value in _FIELD_RE.findall(abc_or_rhythm):
        if letter == "K":
            fields.setdefault("K", value)
            break
        fields.setdefault(letter, value.strip())  # the first T: is the title
    unit = _unit(fields.get("L"))
    if "Q" in fields:
        qpm = parse_q(fields["Q"], unit)
        if qpm is None:
            raise TunesmithError(f"Q:{fields['Q']}: not a tempo; write e.g. Q:1/4=120")
        return qpm
    rhythm = normalize_rhythm(fields.get("R", "")) or rhythm_from_title(fields.get("T", ""))
    if rhythm in RHYTHM_QPM:
        return RHYTHM_QPM[rhythm]
    return METER_QPM.get(fields.get("M", "").replace(" ", ""), DEFAULT_QPM)


def _unit(value: str | None) -> Fraction:
    match = _Q_NOTE_RE.fullmatch((value or "").strip())
    if match and int(match.group(2)):
        return Fraction(int(match.group(1)), int(match.group(2)))
    return Fraction(1, 8)
