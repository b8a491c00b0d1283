"""ABC tune -> timed note events, in the order the tune is played.

Pitches follow the key signature and accidentals carried through the bar;
tied notes of one pitch merge; repeats (`|:` `:|` `::`) and first/second
endings (`|1`, `[2`, `:|2`) are expanded; grace notes take no time.

Chord symbols (`"Am"`, `"G7"`, `"D/F#"`) make a second part, the
accompaniment: each chord's notes in a low register, held until the next
chord symbol or the end of the section (a repeat sign, `||`, `|]`, an
ending), so that a chord never sounds across a jump in the music.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ..chords import parse_chord
from ..events import NoteEvent
from .bars import DurationReader
from .lexer import Token, length, note_parts, tokens
from .tunes import meter_fraction

_MAJOR_SHARPS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7,
                 "F": -1, "Bb": -2, "Eb": -3, "Ab": -4, "Db": -5, "Gb": -6, "Cb": -7}
_MODE_SHIFT = {"maj": 0, "ion": 0, "aeo": -3, "dor": -2, "phr": -4, "lyd": 1, "mix": -1, "loc": -5}
_SHARP_ORDER, _FLAT_ORDER = "FCGDAEB", "BEADGCF"
_BASE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}
_KEY_RE = re.compile(r"\s*([A-G])([#b]?)\s*([A-Za-z]*)")
_SECTION_END = re.compile(r":|\|\||\|\]|\[\||\d$")  # bar lines after which a held chord stops
CHORD_VELOCITY = 60  # the accompaniment sits under the melody


@dataclass(frozen=True)
class TuneParts:
    """What a renderer needs from one tune: its parts, meter and where it ends."""

    melody: list[NoteEvent]
    accompaniment: list[NoteEvent]   # the chord symbols' notes; empty when the tune has none
    meter: str | None                # the header's M: value, e.g. "6/8" ("C" for common time)
    pickup: Fraction                 # how much shorter than the meter the first bar is (an anacrusis)
    end: Fraction                    # where the music ends, a final rest included
    # Where each melody event was written: the offset in the text of the note that starts it (for a
    # player that follows the score, and loops bars as written); parallel to `melody`.
    sources: tuple[int, ...] = ()
    # Each bar line (or ending mark) as it is played: (time, offset of the token in the text).
    bar_lines: tuple[tuple[Fraction, int], ...] = ()


def key_signature(value: str) -> dict[str, int]:
    """Semitone shift per note letter for a K: value ("D" -> F and C sharp)."""
    value = value.strip()
    if value in ("HP", ""):
        return {}
    if value == "Hp":
        return {"F": 1, "C": 1}
    match = _KEY_RE.match(value)
    if not match:
        return {}
    tonic, mode = match.group(1) + match.group(2), match.group(3).lower()
    shift = -3 if mode == "m" or mode.startswith("min") else _MODE_SHIFT.get(mode[:3], 0)
    # Every tonic by its letter (G#m: 5 sharps, not a lookup that misses it); beyond 7 the signature is full.
    sharps = _MAJOR_SHARPS.get(tonic, _MAJOR_SHARPS[match.group(1)] + 7 * (1 if match.group(2) == "#" else -1)) + shift
    letters = _SHARP_ORDER[:sharps] if sharps > 0 else _FLAT_ORDER[:-sharps]
    return {letter: 1 if sharps > 0 else -1 for letter in letters}


def _volta_numbers(text: str) -> set[int]:
    digits = re.search(r"[\d,-]+$", text)
    numbers: set[int] = set()
    for part in (digits.group().split(",") if digits else []):
        ends = [int(x) for x in part.split("-") if x]
        if ends:
            numbers.update(range(ends[0], ends[-1] + 1))
    return numbers


_SECTION_LINES = ("||", "|]", "[|")


def endings_follow(body: list[Token], i: int) -> bool:
    """Whether an ending (`[2`, `|2`) comes right after the bar line at `i` (spaces and line ends aside)."""
    for tok in body[i + 1:]:
        if tok.kind in ("space", "newline", "continuation", "comment"):
            continue
        return tok.kind == "volta" or (tok.kind == "bar" and tok.text[-1].isdigit())
    return False


def played_order(body: list[Token], limit: int = 8) -> list[Token]:
    """The body's tokens in playing order: repeats taken, endings chosen.

    A repeat goes back to the last `|:` (or `::`), else to the end of the
    repeat before it or the section line (`||`, `|]`) after its endings, else
    to the start. So in `A :| B :|` both parts are played twice, and in
    `A :| B [1 C :| [2 D` the second part has its two endings, as abc2midi
    plays them; in `A |1 B :|2 C || D |1 E :|2 F |]` the second part is
    played with both its endings too, where abc2midi (reporting an error)
    leaves its first ending out.
    """
    out: list[Token] = []
    start, passes, i, budget = 0, 1, 0, limit * max(len(body), 1)
    ended = False  # past the :| of a repeat whose last ending is being played
    while i < len(body) and budget > 0:
        budget -= 1
        tok = body[i]
        if tok.kind in ("bar", "volta"):
            endings = _volta_numbers(tok.text) if (tok.kind == "volta" or tok.text[-1].isdigit()) else set()
            bar = tok.text.rstrip("0123456789,-") if tok.kind == "bar" else ""
            if bar.startswith(":") and passes == 1:  # end of a repeat: go back once
                out.append(tok)
                i, passes = start, 2
                continue
            if bar.endswith(":") or bar == "::":
                start, passes, ended = i + 1, 1, False
            elif bar.startswith(":") and not endings and not endings_follow(body, i):
                start, passes, ended = i + 1, 1, False  # a repeat played twice, no endings: the next starts here
            elif bar.startswith(":"):
                ended = True  # its last ending follows
            elif ended and bar in _SECTION_LINES:
                start, passes, ended = i + 1, 1, False  # a repeat done with its endings: a new part starts here
            if endings and passes not in endings:  # skip this ending on this pass
                out.append(tok)
                i += 1
                while i < len(body) and not (body[i].kind == "volta" or (body[i].kind == "bar" and (
                        ":" in body[i].text or body[i].text[-1].isdigit() or body[i].text in ("||", "|]", "[|")))):
                    i += 1
                continue
        out.append(tok)
        i += 1
    return out


def tune_events(text: str) -> list[NoteEvent]:
    """The melody of one ABC tune as note events, repeats expanded."""
    return tune_parts(text).melody


def tune_parts(text: str) -> TuneParts:
    """Melody and chord-symbol accompaniment of one ABC tune, repeats expanded."""
    reader = DurationReader()
    toks = tokens(text)
    line_starts = [0]  # where each line starts, for a token's offset (tokens know their line and column)
    while (found := text.find("\n", line_starts[-1])) >= 0:
        line_starts.append(found + 1)

    def offset(tok: Token) -> int:
        return line_starts[tok.line - 1] + tok.col - 1

    body_at = len(toks)
    key: dict[str, int] = {}
    for i, tok in enumerate(toks):
        if tok.kind == "field":
            reader.field(tok.text[0], tok.text[2:])
            if tok.text[0] == "K":
                key, body_at = key_signature(tok.text[2:]), i + 1
                break
    events: list[NoteEvent] = []
    sources: list[int] = []                     # per event, the offset of the note that starts it
    bar_lines: list[tuple[Fraction, int]] = []
    now = Fraction(0)
    carried: dict[tuple[str, int], int] = {}   # accidentals written in this bar
    tied: dict[int, int] = {}                   # pitch -> index of the event a tie continues
    last_group: list[int] = []                 # events of the last note or chord
    chord: list[int] = []                       # pitches in an open chord
    chord_at: list[int] = []                    # and the offsets of their notes
    chord_tie = False
    backing: list[NoteEvent] = []
    held: tuple[Fraction, list[int]] | None = None  # the chord symbol sounding: since when, its pitches
    first_bar: Fraction | None = None
    header_meter = reader.meter_text

    def release() -> None:
        nonlocal held
        if held is not None and now > held[0]:
            backing.extend(NoteEvent(held[0], now - held[0], p, CHORD_VELOCITY) for p in held[1])
        held = None

    def sound(pitches: list[int], at: list[int], value: Fraction, tie_next: bool) -> None:
        nonlocal tied, last_group
        still, last_group = {}, []
        for pitch, where in zip(pitches, at):
            if pitch in tied:  # continue a tied note
                e = events[tied[pitch]]
                events[tied[pitch]] = NoteEvent(e.start, e.duration + value, pitch, e.velocity)
                index = tied[pitch]
            else:
                events.append(NoteEvent(now, value, pitch))
                sources.append(where)
                index = len(events) - 1
            last_group.append(index)
            if tie_next:
                still[pitch] = index
        tied = still

    def pitch_of(tok_text: str) -> int:
        accidental, letter, octave = note_parts(tok_text)
        if accidental:
            carried[(letter, octave)] = _ACCIDENTAL[accidental]
        shift = carried.get((letter, octave), key.get(letter, 0))
        return 60 + 12 * octave + _BASE[letter] + shift

    played = played_order(toks[body_at:])
    for n, tok in enumerate(played):
        kind = tok.kind
        next_is_tie = n + 1 < len(played) and played[n + 1].kind == "tie"
        if kind in ("field", "inline_field", "grace_open", "grace_close", "tuplet"):
            reader.token(tok)  # unit, meter, grace and tuplet state live in the reader
            if kind != "tuplet" and tok.text.strip("[")[:2] == "K:":
                key = key_signature(tok.text.strip("[]")[2:])
        elif reader.in_grace:
            continue
        elif kind in ("bar", "volta"):
            bar_lines.append((now, offset(tok)))
            if kind == "bar":
                carried.clear()
                if first_bar is None and now > 0:
                    first_bar = now
            if _SECTION_END.search(tok.text):
                release()
        elif kind == "chord_symbol":
            symbol = parse_chord(tok.text)
            if symbol is not None:
                release()
                held = (now, symbol.pitches())
        elif kind == "chord_open":
            chord, chord_at, reader.chord = [], [], [None]
        elif kind == "chord_close" and reader.chord is not None:
            value = reader.add((reader.chord[0] or Fraction(1)) * length(tok.text))
            sound(chord, chord_at, value, chord_tie or next_is_tie)
            now += value
            reader.chord, chord, chord_tie = None, [], False
        elif kind == "note":
            if reader.chord is not None:
                reader.chord[0] = reader.chord[0] or length(tok.text)
                chord.append(pitch_of(tok.text))
                chord_at.append(offset(tok))
                chord_tie = chord_tie or next_is_tie
            else:
                value = reader.add(length(tok.text))
                sound([pitch_of(tok.text)], [offset(tok)], value, next_is_tie)
                now += value
        elif kind == "rest" and reader.chord is None:
            now += reader.add(length(tok.text))
            tied, last_group = {}, []
        elif kind == "measure_rest":
            now += (reader.meter or Fraction(1)) * int(tok.text[1:] or 1)
        elif kind == "broken":
            extra = reader.broken(tok.text)  # stretches the note before, shortens the next
            for index in last_group:
                e = events[index]
                events[index] = NoteEvent(e.start, e.duration + extra, e.pitch, e.velocity)
            now += extra
    release()
    bar = meter_fraction(header_meter)
    pickup = bar - first_bar if bar and first_bar and first_bar < bar else Fraction(0)
    return TuneParts(events, backing, header_meter, pickup, now, tuple(sources), tuple(bar_lines))
