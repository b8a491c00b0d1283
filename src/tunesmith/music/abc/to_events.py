"""ABC tune -> timed note events, in the order the tune is played.

Pitches follow the key signature and accidentals carried through the bar;
tied notes of one pitch merge; repeats (`|:` `:|` `::`) and first/second
endings (`|1`, `[2`, `:|2`) are expanded; grace notes take no time.

Parts: a header `P:` (`P:AABB`, `P:A2B`, `P:(AB)2C`) is the playing order of
the parts the body marks with `P:A` lines (or `[P:A]`); each part's own repeats are
expanded within it. Music before the first marked part is played first,
once. Without a header `P:`, the body is played as written.

Voices (`V:`): each voice is read as a tune of its own (`voices.py`) and
their events are merged, every voice starting at time 0. A voice's (or the
tune's) `%%MIDI transpose N` moves its sound N semitones, and an octave
clef (`clef=treble-8`) an octave, as abc2midi does; the score stays as written.
Under `%%MIDI nobarlines` an accidental applies to its own note only.

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
from .tunes import meter_fraction, strip_comment
from .voices import split_voices

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


_MIDI_TRANSPOSE = re.compile(r"^%%MIDI\s+transpose\s+(-?\d{1,3})\b", re.MULTILINE)


_NOBARLINES = re.compile(r"^%%MIDI\s+nobarlines\b", re.MULTILINE)


def accidentals_carry(text: str) -> bool:
    """Whether an accidental holds to the end of its bar (ABC's rule), or, under abc2midi's
    `%%MIDI nobarlines` (old tunebooks written without bar lines), applies to its own note only."""
    return _NOBARLINES.search(text) is None


_OCTAVE_CLEF = re.compile(r"^K:.*?\b(?:treble|bass|alto|tenor|baritone|mezzo|soprano)\d?([+-])8\b", re.MULTILINE)


def sounding_shift(text: str) -> int:
    """Semitones the sound of a tune (of one voice) is moved from its written notes, as abc2midi moves it:
    by a `%%MIDI transpose N` directive, and an octave by an octave clef on its K: line (`clef=treble-8`,
    a tenor part written an octave above where it sounds); 0 without either."""
    directive = _MIDI_TRANSPOSE.search(text)
    clef = _OCTAVE_CLEF.search(text)
    return (int(directive.group(1)) if directive else 0) + (12 if clef and clef.group(1) == "+" else -12 if clef else 0)


_PART_ITEM = re.compile(r"\s*(?:([A-Z])|(\()|(\))|(\d{1,3})|(\.))")
MAX_PARTS = 256  # parts played in all: a P:(((AB)9)9)9 is refused, not expanded into thousands


def part_order(value: str) -> list[str] | None:
    """The parts a header `P:` plays, in order: "AABB" -> A A B B, "A2B" -> A A B, "(AB)2C" -> A B A B C.

    Parts are capital letters (ABC 2.1); dots and spaces separate; a number repeats the part or bracket
    before it. None when the value is not such a list (a `P:` of words, unbalanced brackets) or would play more than MAX_PARTS parts.
    """
    stack: list[list[str]] = [[]]
    last: list[str] | None = None    # what a number after it repeats
    at, value = 0, strip_comment(value).strip()  # "P:ABA % Aird uses a da capo"
    while at < len(value):
        match = _PART_ITEM.match(value, at)
        if not match:
            return None
        at = match.end()
        letter, opened, closed, count, _ = match.groups()
        if letter:
            last = [letter]
            stack[-1] += last
        elif opened:
            stack.append([])
            last = None
        elif closed:
            if len(stack) == 1:
                return None
            last = stack.pop()
            stack[-1] += last
        elif count:
            if last is None or int(count) == 0:
                return None
            stack[-1] += last * (int(count) - 1)
        if len(stack[-1]) > MAX_PARTS:
            return None
    return stack[0] if len(stack) == 1 and stack[0] else None


def part_marker(tok: Token) -> str | None:
    """The letter of a body `P:A` line or inline `[P:A]`, or None for any other token."""
    if (tok.kind == "field" and tok.text.startswith("P:")) or (tok.kind == "inline_field" and tok.text[1:3] == "P:"):
        letter = tok.text.strip("[]")[2:].strip()[:1]
        return letter if "A" <= letter <= "Z" else None
    return None


def parts_played(body: list[Token], order: list[str] | None) -> list[Token]:
    """The body's tokens in playing order: the parts in `order` (a header P:), each with its repeats expanded.

    The body's tokens before its first `P:` line are played first; a part `order` names that the body does
    not mark is skipped (`support.py` reports it). Without an order or parts, `played_order` of the body.
    """
    sections: dict[str, list[Token]] = {}
    intro: list[Token] = []
    current = intro
    for tok in body:
        letter = part_marker(tok)
        if letter is not None:
            current = sections.setdefault(letter, [])
        current.append(tok)
    if not order or not sections:
        return played_order(body)
    out = played_order(intro)
    for letter in order:
        out += played_order(sections.get(letter, []))
    return out


def parts_in_playing_order(text: str) -> str:
    """The tune with its parts written out in the order its header's `P:` plays them (and that P: line left
    out), for a score that any reader plays as the MIDI file does (the MusicXML export); else the text itself."""
    toks = tokens(text)
    body_at = next((i + 1 for i, t in enumerate(toks) if t.kind == "field" and t.text.startswith("K:")), len(toks))
    order_at = next((i for i, t in enumerate(toks[:body_at]) if t.kind == "field" and t.text.startswith("P:")), None)
    order = part_order(toks[order_at].text[2:]) if order_at is not None else None
    sections: dict[str, list[Token]] = {}
    intro: list[Token] = []
    current = intro
    for tok in toks[body_at:]:
        letter = part_marker(tok)
        if letter is not None:
            current = sections.setdefault(letter, [])
        current.append(tok)
    if not order or not sections:
        return text
    pieces = ["".join(t.text for t in intro)] + [_repeats_from_its_start(sections.get(letter, [])) for letter in order]
    header = "".join(t.text for i, t in enumerate(toks[:body_at]) if i != order_at and not (
        i == order_at + 1 and t.kind == "newline"))
    return header + "".join(p if p.endswith("\n") or not p else p + "\n" for p in pieces)


_MUSIC_KINDS = frozenset({"note", "rest", "chord_open", "measure_rest", "bar", "volta", "chord_symbol", "decoration",
                          "grace_open", "tuplet", "slur_open"})


def _repeats_from_its_start(part: list[Token]) -> str:
    """A part's text, written so that its first `:|` goes back to the part's start (as `parts_played` plays
    it alone) when parts are written one after another: a `|:` at its start when its first repeat sign
    closes a repeat that nothing in the part opened."""
    bars = [t.text.rstrip("0123456789,-") for t in part if t.kind == "bar"]
    first_repeat = next((b for b in bars if ":" in b), "")
    if not first_repeat.startswith(":") or first_repeat.endswith(":"):
        return "".join(t.text for t in part)
    at = next((i for i, t in enumerate(part) if t.kind in _MUSIC_KINDS), len(part))
    texts = [t.text for t in part]
    if at < len(part) and part[at].kind == "bar" and part[at].text in ("|", "||", "[|"):
        texts[at] = "|:"
    else:
        texts.insert(at, "|:")
    return "".join(texts)


def tune_parts(text: str) -> TuneParts:
    """Melody and chord-symbol accompaniment of one ABC tune, repeats expanded, parts in order, voices merged."""
    voices = [v for v in split_voices(text) if v.has_music]
    if len(voices) == 1:
        return _one_voice(voices[0].text)
    if voices:
        return _merged([_one_voice(v.text) for v in voices])
    return _one_voice(text)


def _merged(voices: list[TuneParts]) -> TuneParts:
    """Several voices played together: their events by start time, the first voice's meter and pickup."""
    melody = sorted((e for v in voices for e in v.melody), key=lambda e: e.start)
    backing = sorted((e for v in voices for e in v.accompaniment), key=lambda e: e.start)
    first = voices[0]
    return TuneParts(melody, backing, first.meter, first.pickup, max(v.end for v in voices))


def _one_voice(text: str) -> TuneParts:
    """Melody and accompaniment of a tune of one voice."""
    reader = DurationReader()
    toks = tokens(text)
    line_starts = [0]  # where each line starts, for a token's offset (tokens know their line and column)
    while (found := text.find("\n", line_starts[-1])) >= 0:
        line_starts.append(found + 1)

    def offset(tok: Token) -> int:
        return line_starts[tok.line - 1] + tok.col - 1

    body_at = len(toks)
    key: dict[str, int] = {}
    order: list[str] | None = None
    for i, tok in enumerate(toks):
        if tok.kind == "field":
            reader.field(tok.text[0], tok.text[2:])
            if tok.text[0] == "P":
                order = part_order(tok.text[2:])
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

    carry = accidentals_carry(text)

    def pitch_of(tok_text: str) -> int:
        accidental, letter, octave = note_parts(tok_text)
        if accidental and not carry:
            return 60 + 12 * octave + _BASE[letter] + _ACCIDENTAL[accidental]
        if accidental:
            carried[(letter, octave)] = _ACCIDENTAL[accidental]
        shift = carried.get((letter, octave), key.get(letter, 0))
        return 60 + 12 * octave + _BASE[letter] + shift

    played = parts_played(toks[body_at:], order)
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
    shift = sounding_shift(text)
    if shift:  # %%MIDI transpose: the sound moves, the written notes (and the score) stay
        events = [NoteEvent(e.start, e.duration, e.pitch + shift, e.velocity) for e in events]
    return TuneParts(events, backing, header_meter, pickup, now, tuple(sources), tuple(bar_lines))
