"""One ABC tune -> a MusicXML score (partwise, MusicXML 4.0), written from our own reading of the tune.

Why our own writer: verovio reads MusicXML but does not write it, and a
second ABC reader (music21's, abc2xml) would read some tunes differently
from the MIDI and WAV files that `to_events` plays. Here every pitch and
duration comes from the same rules as `music.abc.to_events` (key signature,
accidentals carried to the end of the bar per octave, unit lengths, tuplets,
broken rhythm, chords with the first note's length, ties that join one
pitch to the next note), so the score and the recordings cannot disagree;
the exports benchmark and tests read the file back with music21 and compare
pitches and durations with `tune_parts(...).melody`.

What the score keeps as notation rather than expanding it:
- repeats and endings: `|:` `:|` `::` as repeat barlines, `[1` `|2` `:|2`
  as endings (an ending runs to the next ending, repeat or section line,
  as `to_events.played_order` plays it). A `:|` that `to_events` does not
  go back at (a second one with no `|:` between) is written as a plain
  thick barline, so that a reader that expands the repeats plays what the
  MIDI file plays;
- ties (the same pitch in the next note or chord), slurs, triplets and other
  tuplets (`<time-modification>`, with a bracket), grace notes, chord
  symbols (`<harmony>`), staccato, accents, fermatas, trills, bowings;
- a note whose length is no single (dotted) note value, e.g. 5/8, is
  written as tied notes (1/2 + 1/8); a length with a factor of 3, 5 ... in
  its denominator outside a tuplet gets a tuplet ratio of its own;
- the first bar when it is short (a pickup) as an implicit measure 0;
- line breaks of the ABC as system breaks; M:, K:, L: changes in the body.

Parts (`P:AABB` in the header, `P:A` in the body) are written out in the
order they are played, as the MIDI file plays them.

Several voices (`V:`) are a part each, named by their V: line's `name=`,
with their clef (`music.abc.voices` splits them).

Not written: lyrics, text annotations that are not chord names, and
decorations other than those above.
The output is the same bytes for the same tune (no date, no random ids).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from xml.sax.saxutils import escape, quoteattr

from ..errors import TunesmithError
from ..music.abc.bars import DurationReader
from ..music.abc.lexer import length, note_parts, tokens
from ..music.abc.support import playable_or_error
from ..music.abc.to_events import (accidentals_carry, endings_follow, key_signature, parts_in_playing_order,
                                     sounding_shift)
from ..music.abc.tunes import meter_fraction
from ..music.abc.voices import split_voices
from ..music.chords import parse_chord
from .limits import RenderLimits, check_chars, check_grid, current

_BASE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}
_ACCIDENTAL_NAME = {2: "double-sharp", 1: "sharp", 0: "natural", -1: "flat", -2: "flat-flat"}
# Note types by their length in whole notes; shorter than a 1024th is refused (see _pieces).
_TYPES = {Fraction(8): "maxima", Fraction(4): "long", Fraction(2): "breve", Fraction(1): "whole",
          Fraction(1, 2): "half", Fraction(1, 4): "quarter", Fraction(1, 8): "eighth", Fraction(1, 16): "16th",
          Fraction(1, 32): "32nd", Fraction(1, 64): "64th", Fraction(1, 128): "128th", Fraction(1, 256): "256th",
          Fraction(1, 512): "512th", Fraction(1, 1024): "1024th"}
_SHORTEST = Fraction(1, 1024)
_LONGEST = Fraction(8)
# Chord-symbol qualities (music/chords.py's spellings) -> MusicXML <kind>; the written text is kept as shown.
_KINDS = {
    "": "major", "maj": "major", "M": "major", "m": "minor", "min": "minor", "-": "minor",
    "7": "dominant", "dom7": "dominant", "maj7": "major-seventh", "M7": "major-seventh",
    "m7": "minor-seventh", "min7": "minor-seventh", "-7": "minor-seventh", "mmaj7": "major-minor",
    "mM7": "major-minor", "dim": "diminished", "o": "diminished", "dim7": "diminished-seventh",
    "o7": "diminished-seventh", "m7b5": "half-diminished", "aug": "augmented", "+": "augmented",
    "sus": "suspended-fourth", "sus4": "suspended-fourth", "sus2": "suspended-second",
    "7sus4": "suspended-fourth", "6": "major-sixth", "m6": "minor-sixth", "9": "dominant-ninth",
    "maj9": "major-ninth", "m9": "minor-ninth", "add9": "major", "5": "power",
}
_CHORD_NAME = re.compile(r"([A-G])([#b]?)([^/]*?)(?:/([A-G])([#b]?))?")
# Decorations -> (MusicXML group, element). Others (rolls, dynamics, fingerings) are left out.
_MARKS = {
    ".": ("articulations", "staccato"), "!staccato!": ("articulations", "staccato"),
    "L": ("articulations", "accent"), "!accent!": ("articulations", "accent"), "!>!": ("articulations", "accent"),
    "!emphasis!": ("articulations", "accent"), "!tenuto!": ("articulations", "tenuto"),
    "H": ("fermata", "fermata"), "!fermata!": ("fermata", "fermata"),
    "T": ("ornaments", "trill-mark"), "!trill!": ("ornaments", "trill-mark"),
    "M": ("ornaments", "mordent"), "!lowermordent!": ("ornaments", "mordent"), "!mordent!": ("ornaments", "mordent"),
    "P": ("ornaments", "inverted-mordent"), "!uppermordent!": ("ornaments", "inverted-mordent"),
    "!pralltriller!": ("ornaments", "inverted-mordent"), "!turn!": ("ornaments", "turn"),
    "u": ("technical", "up-bow"), "!upbow!": ("technical", "up-bow"),
    "v": ("technical", "down-bow"), "!downbow!": ("technical", "down-bow"),
}
_MODES = {"m": "minor", "min": "minor", "aeo": "aeolian", "maj": "major", "ion": "ionian", "dor": "dorian",
          "phr": "phrygian", "lyd": "lydian", "mix": "mixolydian", "loc": "locrian"}
_KEY_MODE = re.compile(r"\s*[A-G][#b]?\s*([A-Za-z]*)")
_CLEFS = {"bass": ("F", 4), "alto": ("C", 3), "tenor": ("C", 4)}
# Bar lines after which an open ending stops (as to_events.played_order skips an ending).
_SECTION = re.compile(r":|\d$|^(?:\|\||\|\]|\[\|)$")


@dataclass
class _Note:
    """A note, chord or rest as written: its sounding length may still grow (a `>` after it)."""

    pitches: list[tuple[str, int, int, bool]]  # (step, alter, octave, accidental written); empty: a rest
    midi: list[int]
    duration: Fraction                          # sounding, in whole notes
    tuplet: tuple[int, int] | None = None       # (actual, normal) of the ABC tuplet it is in
    tuplet_start: bool = False
    tuplet_stop: bool = False
    ties_in: set[int] = field(default_factory=set)   # MIDI pitches tied from the note before
    ties_out: set[int] = field(default_factory=set)  # ... tied to the note after
    grace: bool = False
    invisible: bool = False                     # an `x` rest
    whole_bar: bool = False                     # a `Z` rest: the whole bar
    marks: list[tuple[str, str]] = field(default_factory=list)
    slurs_start: list[int] = field(default_factory=list)
    slurs_stop: list[int] = field(default_factory=list)
    written: Fraction = Fraction(1, 8)          # grace notes: their written length, for the note type
    beam: str | None = None                     # "begin", "continue", "end": its place in a beamed group


@dataclass
class _Measure:
    items: list = field(default_factory=list)   # _Note, or XML text (attributes, harmony, direction)
    forward: bool = False                       # |: before it (or where to_events starts a repeat after a :|)
    backward: bool = False                      # :| after it
    left_style: str | None = None
    right_style: str | None = None
    ending_start: str | None = None             # "1", "1, 2"
    ending_stop: tuple[str, str] | None = None  # (numbers, "stop" or "discontinue")
    new_system: bool = False

    @property
    def duration(self) -> Fraction:
        return sum((n.duration for n in self.items if isinstance(n, _Note) and not n.grace), Fraction(0))

    @property
    def has_music(self) -> bool:
        return any(isinstance(n, _Note) for n in self.items)


def _ending_numbers(text: str) -> str:
    """"1", "1,2", "1-3" -> MusicXML's number list "1", "1, 2", "1, 2, 3"."""
    digits = re.search(r"[\d,-]+$", text)
    numbers: list[int] = []
    for part in (digits.group().split(",") if digits else []):
        ends = [int(x) for x in part.split("-") if x]
        if ends:
            numbers += [n for n in range(ends[0], ends[-1] + 1) if n not in numbers]
    return ", ".join(str(n) for n in numbers[:16])


def _bar_style(core: str, backward: bool, forward: bool) -> tuple[str | None, str | None]:
    """(right style of the bar before, left style of the bar after) for a bar line's text without its colons."""
    if backward:
        return "light-heavy", ("heavy-light" if forward else None)
    if forward:
        return None, "heavy-light"
    return {"||": ("light-light", None), "|]": ("light-heavy", None), "[|": ("heavy-light", None)}.get(core, (None, None))


class _Reader:
    """Walks one tune's tokens in written order, as `to_events.tune_parts` walks them in played order."""

    def __init__(self, abc: str):
        self.abc = abc
        self.reader = DurationReader()
        self.toks = tokens(abc)
        self.title = ""
        self.key_value = ""
        self.body_at = len(self.toks)
        for i, tok in enumerate(self.toks):
            if tok.kind == "field":
                letter, value = tok.text[0], tok.text[2:]
                if letter == "T" and not self.title:
                    self.title = value.strip()
                self.reader.field(letter, value)
                if letter == "K":
                    self.key_value, self.body_at = value, i + 1
                    break
        self.key = key_signature(self.key_value)
        self.measures: list[_Measure] = [_Measure()]
        self.carried: dict[tuple[str, int], int] = {}
        self.carry = accidentals_carry(abc)  # False under %%MIDI nobarlines: an accidental is its note's only
        self.tied: dict[int, _Note] = {}     # pitch -> the note a tie from the last group continues from
        self.last_group: _Note | None = None
        self.chord: list[tuple[str, int, int, bool]] = []
        self.chord_midi: list[int] = []
        self.chord_tie = False
        self.tuplet: tuple[int, int] | None = None
        self.tuplet_fresh = False
        self.marks: list[tuple[str, str]] = []
        self.slurs_open: list[int] = []      # numbers of open slurs, innermost last
        self.slurs_pending: list[int] = []   # opened, waiting for their first note
        self.passes = 1                      # as played_order counts them: 1 until a :| is taken
        self.ended = False                   # past the :| of a repeat whose last ending follows (played_order)
        self.open_ending: str | None = None
        self.line_broke = False
        self.beam_group: list[_Note] = []    # notes written together, with no space between them (ABC's beams)
        self.beam_groups: list[list[_Note]] = []
        self.continued = False               # a `\\` before the line's end joins the next line to it

    @property
    def measure(self) -> _Measure:
        return self.measures[-1]

    # -- pitches ---------------------------------------------------------------

    def pitch(self, text: str, carry: bool = True) -> tuple[tuple[str, int, int, bool], int]:
        """((step, alter, octave, accidental written), MIDI pitch) of a note, as to_events reads it."""
        accidental, letter, octave = note_parts(text)
        if accidental and carry and self.carry:
            self.carried[(letter, octave)] = _ACCIDENTAL[accidental]
        if accidental:
            alter = _ACCIDENTAL[accidental]
        else:
            alter = self.carried.get((letter, octave), self.key.get(letter, 0))
        return (letter, alter, octave + 4, bool(accidental)), 60 + 12 * octave + _BASE[letter] + alter

    # -- notes -----------------------------------------------------------------

    def sound(self, pitches, midi: list[int], value: Fraction, tie_next: bool) -> None:
        """A note or chord of `value`; ties join the pitches it shares with the group before (to_events.sound)."""
        note = self.new_note(pitches, midi, value)
        for pitch in midi:
            if pitch in self.tied:
                self.tied[pitch].ties_out.add(pitch)
                note.ties_in.add(pitch)
        self.tied = {pitch: note for pitch in midi} if tie_next else {}
        self.last_group = note

    def new_note(self, pitches, midi: list[int], value: Fraction) -> _Note:
        note = _Note(pitches, midi, value, marks=self.marks, slurs_start=self.slurs_pending)
        self.marks, self.slurs_pending = [], []
        if pitches:
            self.beam_group.append(note)
        else:
            self.close_beam()  # a rest ends a beamed group
        if self.tuplet is not None:
            note.tuplet, note.tuplet_start = self.tuplet, self.tuplet_fresh
            self.tuplet_fresh = False
            if not self.reader.tuplet:  # reader.add counted its last note
                note.tuplet_stop, self.tuplet = True, None
        self.measure.items.append(note)
        return note

    def rest(self, value: Fraction, invisible: bool) -> None:
        note = self.new_note([], [], value)
        note.invisible = invisible
        self.tied, self.last_group = {}, None

    def close_beam(self) -> None:
        if len(self.beam_group) > 1:
            self.beam_groups.append(self.beam_group)
        self.beam_group = []

    def whole_bar_rests(self, count: int) -> None:
        """`Z4`: four whole-bar rests, each a measure of its own (or one long rest inside a bar with notes)."""
        bar = self.reader.meter or Fraction(1)
        if self.measure.has_music:
            self.rest(bar * count, False)
            return
        for i in range(count):
            if i:
                self.measures.append(_Measure())
            note = _Note([], [], bar, whole_bar=True)
            self.measure.items.append(note)
        self.tied, self.last_group = {}, None

    # -- bar lines -------------------------------------------------------------

    def bar(self, text: str, toks: list, at: int) -> None:
        """Close the measure at a bar line: repeats, endings and the line's style.

        Repeats follow `to_events.played_order`: a `:|` goes back when a pass
        is open (passes == 1); after a repeat with no endings, the next repeat
        starts right there, which the score shows as a forward repeat.
        """
        self.carried.clear()
        digits = text[len(text.rstrip("0123456789,-")):]
        written = text.rstrip("0123456789,-")
        backward = written.startswith(":") and self.passes == 1  # to_events goes back here
        forward = written.endswith(":")
        if backward:
            self.passes = 2
        if forward:
            self.passes, self.ended = 1, False
        elif written.startswith(":") and not digits and not endings_follow(toks, at):
            self.passes, forward, self.ended = 1, True, False  # where the next repeat goes back to
        elif written.startswith(":"):
            self.ended = True  # the repeat's last ending follows
        elif self.ended and written in ("||", "|]", "[|"):
            self.passes, forward, self.ended = 1, True, False  # after a repeat's endings, a new part starts here
        core = written.strip(":") or "|"
        right, left = _bar_style(core, backward, written.endswith(":"))
        if written.startswith(":") and not backward:
            right = "light-heavy"  # a :| that to_events does not take: a thick line, no repeat
        closing = self.measure if self.measure.has_music else (self.measures[-2] if len(self.measures) > 1 else None)
        if closing is not None:
            closing.backward = closing.backward or backward
            closing.right_style = right or closing.right_style
            if self.open_ending is not None and (_SECTION.search(text) or backward):
                closing.ending_stop = (self.open_ending, "stop" if backward else "discontinue")
                self.open_ending = None
        if self.measure.has_music:
            self.measures.append(_Measure())
        self.measure.forward = self.measure.forward or forward
        self.measure.left_style = left or self.measure.left_style
        if digits:
            self.start_ending(digits)

    def start_ending(self, text: str) -> None:
        """An ending (`[2`, `|2`, `:|2`) starts with the next measure; one still open stops before it."""
        if self.open_ending is not None:
            previous = self.measures[-2] if not self.measure.has_music and len(self.measures) > 1 else None
            if previous is not None and previous.ending_stop is None:
                previous.ending_stop = (self.open_ending, "discontinue")
            self.open_ending = None
        numbers = _ending_numbers(text)
        if numbers and self.measure.has_music:  # `f2 [1 d2 :|`: the ending starts inside the bar, which is split
            self.measures.append(_Measure())
        if numbers:
            self.measure.ending_start, self.open_ending = numbers, numbers

    # -- the walk --------------------------------------------------------------

    def read(self) -> list[_Measure]:
        toks = self.toks[self.body_at:]
        reader = self.reader
        for n, tok in enumerate(toks):
            kind, text = tok.kind, tok.text
            next_is_tie = n + 1 < len(toks) and toks[n + 1].kind == "tie"
            if kind in ("field", "inline_field", "grace_open", "grace_close", "tuplet"):
                reader.token(tok)
                if kind == "tuplet":
                    p = int(text[1:].split(":")[0]) or 1
                    self.tuplet, self.tuplet_fresh = (p, int(reader.tuplet[0] * p)), True
                elif kind in ("field", "inline_field"):
                    self.field(text.strip("[]"))
            elif reader.in_grace:
                if kind == "note":
                    pitch, midi = self.pitch(text, carry=False)
                    note = _Note([pitch], [midi], Fraction(0), grace=True, written=length(text) * reader.unit)
                    self.measure.items.append(note)
            elif kind in ("bar", "volta"):
                self.close_beam()
                if kind == "bar":
                    self.bar(text, toks, n)
                else:
                    self.start_ending(text)
            elif kind == "newline":
                self.close_beam()
                self.line_broke, self.continued = not self.continued, False
            elif kind == "continuation":
                self.continued = True
            elif kind in ("space", "comment"):
                self.close_beam()
            else:
                if self.line_broke:  # music on a new line of the ABC: a new system, when it starts a bar
                    self.line_broke = False
                    if not self.measure.has_music and len(self.measures) > 1:
                        self.measure.new_system = True
                self.music(kind, text, next_is_tie)
        if self.open_ending is not None:
            last = self.measure if self.measure.has_music or len(self.measures) < 2 else self.measures[-2]
            last.ending_stop = (self.open_ending, "discontinue")
        if not self.measure.has_music and len(self.measures) > 1:
            dropped = self.measures.pop()
            self.measure.right_style = self.measure.right_style or dropped.left_style
        _drop_unclosed_repeats(self.measures)
        self.close_beam()
        for group in self.beam_groups:
            _beam(group)
        return self.measures

    def music(self, kind: str, text: str, next_is_tie: bool) -> None:
        reader = self.reader
        if kind == "chord_symbol":
            harmony = _harmony(text)
            if harmony:
                self.measure.items.append(harmony)
        elif kind == "decoration":
            text = f"!{text[1:-1]}!" if len(text) > 2 and text[0] == text[-1] == "+" else text  # +fermata+ (ABC 2.0)
            if text in _MARKS:
                self.marks.append(_MARKS[text])
        elif kind == "slur_open":
            number = min(set(range(1, 7)) - set(self.slurs_open), default=None)
            if number is not None:
                self.slurs_open.append(number)
                self.slurs_pending.append(number)
        elif kind == "slur_close":
            if self.slurs_open:
                number = self.slurs_open.pop()
                if number in self.slurs_pending:  # closed before any note: no slur
                    self.slurs_pending.remove(number)
                elif self.last_written() is not None:
                    self.last_written().slurs_stop.append(number)
        elif kind == "chord_open":
            self.chord, self.chord_midi, reader.chord = [], [], [None]
        elif kind == "chord_close" and reader.chord is not None:
            value = reader.add((reader.chord[0] or Fraction(1)) * length(text))
            self.sound(self.chord, self.chord_midi, value, self.chord_tie or next_is_tie)
            reader.chord, self.chord, self.chord_midi, self.chord_tie = None, [], [], False
        elif kind == "note":
            pitch, midi = self.pitch(text)
            if reader.chord is not None:
                reader.chord[0] = reader.chord[0] or length(text)
                self.chord.append(pitch)  # a pitch written twice is kept twice, as to_events plays it
                self.chord_midi.append(midi)
                self.chord_tie = self.chord_tie or next_is_tie
            else:
                self.sound([pitch], [midi], reader.add(length(text)), next_is_tie)
        elif kind == "rest" and reader.chord is None:
            self.rest(reader.add(length(text)), text.startswith("x"))
        elif kind == "measure_rest":
            self.whole_bar_rests(int(text[1:] or 1))
        elif kind == "broken":
            extra = reader.broken(text)
            if self.last_group is not None:
                self.last_group.duration += extra
            else:  # after a rest: to_events moves time on all the same
                last = self.last_written()
                if last is not None:
                    last.duration += extra

    def last_written(self) -> _Note | None:
        for measure in reversed(self.measures):
            for item in reversed(measure.items):
                if isinstance(item, _Note) and not item.grace:
                    return item
        return None

    def field(self, text: str) -> None:
        """A K: or M: in the body: the new key or time, before the next note."""
        letter, value = text[0], text[2:]
        if letter == "K":
            self.key_value, self.key = value, key_signature(value)
            self.measure.items.append(f"<attributes>{_key_xml(value, self.key)}</attributes>")
        elif letter == "M":
            time = _time_xml(self.reader.meter_text)
            if time:
                self.measure.items.append(f"<attributes>{time}</attributes>")


def _beam(group: list[_Note]) -> None:
    """Beam each run of two or more notes shorter than a quarter within a group written together (`ABc`,
    `A>B`): as ABC beams them. A note written as tied pieces, or a quarter or longer, ends a run."""
    runs: list[list[_Note]] = [[]]
    for note in group:
        actual, normal = _ratio(note)
        written = note.duration * actual / normal
        if written < Fraction(1, 4) and len(_pieces(written)) == 1:
            runs[-1].append(note)
        elif runs[-1]:
            runs.append([])
    for run in runs:
        if len(run) > 1:
            for note in run:
                note.beam = "continue"
            run[0].beam, run[-1].beam = "begin", "end"


def _drop_unclosed_repeats(measures: list[_Measure]) -> None:
    """A forward repeat that no backward repeat closes plays nothing twice (`|:` at the start of the last
    part, or before another `|:`): it is left out, so that a reader expanding repeats finds them paired."""
    opened: _Measure | None = None
    for measure in measures:
        if measure.forward:
            if opened is not None:
                opened.forward = False
            opened = measure
        if measure.backward:
            opened = None
    if opened is not None:
        opened.forward = False


def _mode(value: str) -> str:
    match = _KEY_MODE.match(value)
    word = (match.group(1).lower() if match else "")
    if word in ("", "major"):
        return "major"
    if word == "minor" or word == "m":
        return "minor"
    return _MODES.get(word[:3], "none")


def _key_xml(value: str, signature: dict[str, int]) -> str:
    """<key> of a K: value: as many sharps or flats as to_events reads in it, and its mode."""
    mode = _mode(value) if _KEY_MODE.match(value) else "none"
    return f"<key><fifths>{sum(signature.values())}</fifths><mode>{mode}</mode></key>"


def _clef_xml(value: str) -> str:
    """<clef> named in a K: value (`clef=bass`), else the treble clef."""
    sign, line = next((c for name, c in _CLEFS.items() if f"clef={name}" in value.replace(" ", "")), ("G", 2))
    return f"<clef><sign>{sign}</sign><line>{line}</line></clef>"


def _transpose_xml(semitones: int) -> str:
    """<transpose> for a part that sounds `semitones` from where it is written (`%%MIDI transpose`); "" for 0."""
    if not semitones:
        return ""
    octaves, rest = divmod(semitones, 12) if semitones > 0 else (-((-semitones) // 12), -((-semitones) % 12))
    diatonic = round(rest * 7 / 12)  # the nearest step: a minor third (3) is two steps, an octave none
    return (f"<transpose><diatonic>{diatonic}</diatonic><chromatic>{rest}</chromatic>"
            + (f"<octave-change>{octaves}</octave-change>" if octaves else "") + "</transpose>")


def _time_xml(meter: str | None) -> str:
    if meter in ("C", "C|"):
        beats, kind = ("4", "4") if meter == "C" else ("2", "2")
        symbol = "common" if meter == "C" else "cut"
        return f'<time symbol="{symbol}"><beats>{beats}</beats><beat-type>{kind}</beat-type></time>'
    match = re.fullmatch(r"(\d{1,9}(?:\+\d{1,9})*)/(\d{1,9})", meter or "")
    if not match or meter_fraction(meter) is None:
        return ""
    return f"<time><beats>{match.group(1)}</beats><beat-type>{match.group(2)}</beat-type></time>"


def _harmony(text: str) -> str:
    """A chord symbol as <harmony>, or "" for quoted text that names no chord."""
    chord = parse_chord(text)
    if chord is None:
        return ""
    letter, accidental, quality, bass, bass_accidental = _CHORD_NAME.fullmatch(chord.name).groups()
    alter = {"#": 1, "b": -1, "": 0}

    def step(tag: str, note: str, sign: str) -> str:
        extra = f"<{tag}-alter>{alter[sign]}</{tag}-alter>" if sign else ""
        return f"<{tag}-step>{note}</{tag}-step>{extra}"

    out = f"<harmony><root>{step('root', letter, accidental)}</root>"
    out += f"<kind text={quoteattr(quality)}>{_KINDS.get(quality, 'other')}</kind>"
    if bass:
        out += f"<bass>{step('bass', bass, bass_accidental)}</bass>"
    return out + "</harmony>"


def _dyadic(value: Fraction) -> bool:
    return value.denominator & (value.denominator - 1) == 0


def _pieces(written: Fraction) -> list[tuple[Fraction, int, Fraction]]:
    """A written length as (note value, dots, length with dots) pieces to tie: 5/8 -> half + eighth."""
    pieces, left = [], written
    while left > 0:
        base = min(_LONGEST, Fraction(2) ** (left.numerator.bit_length() - left.denominator.bit_length()))
        while base > left:
            base /= 2
        while base * 2 <= left and base * 2 <= _LONGEST:
            base *= 2
        if base < _SHORTEST or len(pieces) >= 32:
            raise TunesmithError(f"musicxml: a note of {written} whole notes cannot be written as note values")
        value, dots, add = base, 0, base / 2
        while dots < 3 and value + add <= left and add >= _SHORTEST:
            value, dots, add = value + add, dots + 1, add / 2
        pieces.append((base, dots, value))
        left -= value
    return pieces


def _ratio(note: _Note) -> tuple[int, int]:
    """(actual, normal) notes of the note's time modification: its tuplet's, times one of its own for a
    length with an odd factor in its denominator outside any tuplet (1/12 = a triplet 16th)."""
    actual, normal = note.tuplet or (1, 1)
    written = note.duration * actual / normal
    odd = written.denominator
    while odd % 2 == 0:
        odd //= 2
    if odd > 1:
        actual, normal = actual * odd, normal * (1 << (odd.bit_length() - 1))
    return actual, normal


class _Writer:
    """Serialises measures to MusicXML text, with one <divisions> for the whole score."""

    def __init__(self, measures: list[_Measure]):
        self.measures = measures
        self.divisions = 1
        for measure in measures:
            for item in measure.items:
                if isinstance(item, _Note) and not item.grace:
                    for sounding in self.sounding_pieces(item):
                        self.divisions = math.lcm(self.divisions, (sounding * 4).denominator)

    def sounding_pieces(self, note: _Note) -> list[Fraction]:
        if note.whole_bar:
            return [note.duration]
        actual, normal = _ratio(note)
        factor = Fraction(normal, actual)
        return [value * factor for _, _, value in _pieces(note.duration / factor)]

    def ticks(self, value: Fraction) -> int:
        ticks = value * 4 * self.divisions
        assert ticks.denominator == 1, "divisions cover every length"
        return int(ticks)

    def note_xml(self, note: _Note) -> str:
        if note.grace:
            pieces = _pieces(note.written) if _dyadic(note.written) and note.written >= _SHORTEST else []
            base, dots = (pieces[0][0], pieces[0][1]) if len(pieces) == 1 else (Fraction(1, 8), 0)
            return "".join(self.one_xml(note, i, None, base, dots, 1, 1, set(), set())
                           for i in range(len(note.pitches)))
        if note.whole_bar:
            return (f'<note><rest measure="yes"/><duration>{self.ticks(note.duration)}</duration>'
                    f"<voice>1</voice></note>")
        actual, normal = _ratio(note)
        factor = Fraction(normal, actual)
        pieces = _pieces(note.duration / factor)
        out = []
        for k, (base, dots, value) in enumerate(pieces):
            ties_in = note.ties_in if k == 0 else set(note.midi)
            ties_out = note.ties_out if k == len(pieces) - 1 else set(note.midi)
            ticks = self.ticks(value * factor)
            count = max(1, len(note.pitches))
            for i in range(count):
                out.append(self.one_xml(note, i, ticks, base, dots, actual, normal, ties_in, ties_out,
                                        first_piece=k == 0, last_piece=k == len(pieces) - 1))
        return "".join(out)

    def one_xml(self, note: _Note, index: int, ticks: int | None, base: Fraction, dots: int, actual: int,
                normal: int, ties_in: set[int], ties_out: set[int], first_piece: bool = True,
                last_piece: bool = True) -> str:
        """One <note> element: the index-th pitch of a note or chord (or the rest), one tied piece of it."""
        parts = ['<note print-object="no">' if note.invisible else "<note>"]
        if note.grace:
            parts.append('<grace slash="yes"/>' if len(note.pitches) == 1 and base == Fraction(1, 8) else "<grace/>")
        if index > 0:
            parts.append("<chord/>")
        midi = None
        if note.pitches:
            step, alter, octave, written = note.pitches[index]
            midi = note.midi[index]
            parts.append(f"<pitch><step>{step}</step>" + (f"<alter>{alter}</alter>" if alter else "")
                         + f"<octave>{octave}</octave></pitch>")
        else:
            parts.append("<rest/>")
        if ticks is not None:
            parts.append(f"<duration>{ticks}</duration>")
        tie_in, tie_out = midi is not None and midi in ties_in, midi is not None and midi in ties_out
        if tie_in:
            parts.append('<tie type="stop"/>')
        if tie_out:
            parts.append('<tie type="start"/>')
        parts.append(f"<voice>1</voice><type>{_TYPES[base]}</type>" + "<dot/>" * dots)
        if note.pitches and first_piece and note.pitches[index][3]:
            parts.append(f"<accidental>{_ACCIDENTAL_NAME[note.pitches[index][1]]}</accidental>")
        if (actual, normal) != (1, 1):
            parts.append(f"<time-modification><actual-notes>{actual}</actual-notes>"
                         f"<normal-notes>{normal}</normal-notes></time-modification>")
        if note.beam and index == 0:
            parts.append(f'<beam number="1">{note.beam}</beam>')
        notations = []
        if tie_in:
            notations.append('<tied type="stop"/>')
        if tie_out:
            notations.append('<tied type="start"/>')
        if index == 0:
            if note.tuplet_start and first_piece:
                notations.append('<tuplet type="start" bracket="yes"/>')
            if note.tuplet_stop and last_piece:
                notations.append('<tuplet type="stop"/>')
            if first_piece:
                notations += [f'<slur type="start" number="{n}"/>' for n in note.slurs_start]
            if last_piece:
                notations += [f'<slur type="stop" number="{n}"/>' for n in note.slurs_stop]
            if first_piece:
                notations += _marks_xml(note.marks)
        if notations:
            parts.append("<notations>" + "".join(notations) + "</notations>")
        parts.append("</note>")
        return "".join(parts)

    def measure_xml(self, number: int, measure: _Measure, implicit: bool, head: str) -> str:
        attrs = f' number="{number}"' + (' implicit="yes"' if implicit else "")
        out = [f"<measure{attrs}>"]
        if measure.new_system:
            out.append('<print new-system="yes"/>')
        if measure.forward or measure.left_style or measure.ending_start:
            out.append('<barline location="left">')
            out.append(f"<bar-style>{measure.left_style or ('heavy-light' if measure.forward else 'regular')}</bar-style>")
            if measure.ending_start:
                out.append(f'<ending number="{measure.ending_start}" type="start">{measure.ending_start}.</ending>')
            if measure.forward:
                out.append('<repeat direction="forward"/>')
            out.append("</barline>")
        out.append(head)
        for item in measure.items:
            out.append(self.note_xml(item) if isinstance(item, _Note) else item)
        if measure.backward or measure.right_style or measure.ending_stop:
            out.append('<barline location="right">')
            out.append(f"<bar-style>{measure.right_style or 'regular'}</bar-style>")
            if measure.ending_stop:
                numbers, kind = measure.ending_stop
                out.append(f'<ending number="{numbers}" type="{kind}"/>')
            if measure.backward:
                out.append('<repeat direction="backward"/>')
            out.append("</barline>")
        out.append("</measure>")
        return "".join(out)


def _marks_xml(marks: list[tuple[str, str]]) -> list[str]:
    groups: dict[str, list[str]] = {}
    for group, element in marks:
        if element not in groups.setdefault(group, []):
            groups[group].append(element)
    out = []
    for group, elements in groups.items():
        if group == "fermata":
            out.append('<fermata type="upright"/>')
        else:
            out.append(f"<{group}>" + "".join(f"<{e}/>" for e in elements) + f"</{group}>")
    return out


def abc_to_musicxml(abc: str, *, qpm: float | None = None, limits: RenderLimits | None = None) -> str:
    """The MusicXML text of one ABC tune (see the module's doc); a tune with no K: or no notes is a TunesmithError.

    `qpm` is the playback tempo written in the score (default: the tune's Q:, else the usual one for its
    rhythm, as the MIDI file has it). The render limits' text size and time grid apply as for MIDI.
    """
    from .tempo import default_qpm
    from .tune import time_grid

    limits = current(limits)
    check_chars(abc, limits)
    check_grid(time_grid(abc, 10 ** limits.max_grid_digits), limits)
    if not re.search(r"^K:", abc, re.MULTILINE):
        raise TunesmithError("not an ABC tune: it has no K: line (a tune's header ends with one, e.g. K:D)")
    playable_or_error(abc)
    tempo = qpm if qpm is not None else default_qpm(abc)
    voices = _voices(abc)
    if len(voices) > 1:
        return voices_musicxml(abc, tempo)
    title, xml = _part_xml(voices[0].text if voices else abc, tempo)
    return _document(title, [("", xml)])


def _voices(abc: str) -> list:
    """The voices of a tune that have music (`music.abc.voices`); [] for a tune that names none."""
    return [v for v in split_voices(abc) if v.has_music]


def voices_musicxml(abc: str, tempo: float | None = None) -> str | None:
    """A tune of several voices as a score of a part each, named as its V: line names it (`name=`), with its
    clef; None for a tune of one voice. Verovio draws such a tune from this score: its ABC reader puts every
    voice on one staff, one after the other. No limits or playability checks here (`abc_to_musicxml` has them).
    """
    voices = _voices(abc)
    if len(voices) < 2:
        return None
    if tempo is None:
        from .tempo import default_qpm

        tempo = default_qpm(abc)
    parts = [_part_xml(v.text, tempo) for v in voices]
    return _document(parts[0][0], [(v.name or f"Voice {v.id}", xml) for v, (_, xml) in zip(voices, parts)])


def _part_xml(abc: str, tempo: float) -> tuple[str, str]:
    """(title, the measures of one part) of a tune of one voice, its parts written out in the order they are
    played (`to_events.parts_in_playing_order`); a TunesmithError when it has no notes."""
    walk = _Reader(parts_in_playing_order(abc))
    header_meter = walk.reader.meter_text
    header_key = walk.key_value
    measures = walk.read()
    if not any(isinstance(i, _Note) and i.pitches and not i.grace for m in measures for i in m.items):
        raise TunesmithError("the tune has no notes to play")
    writer = _Writer(measures)
    head = (f"<attributes><divisions>{writer.divisions}</divisions>{_key_xml(header_key, key_signature(header_key))}"
            f"{_time_xml(header_meter)}{_clef_xml(header_key)}{_transpose_xml(sounding_shift(abc))}</attributes>"
            f'<sound tempo="{tempo:g}"/>')  # the MIDI file's tempo, for playback
    body = [writer.measure_xml(number, measure, implicit, head if i == 0 else "")
            for i, (measure, number, implicit) in enumerate(_numbered(measures, meter_fraction(header_meter)))]
    return walk.title, "".join(body)


def _document(title: str, parts: list[tuple[str, str]]) -> str:
    """The score of `parts`, (name, measures) each: one unnamed part "Melody" for a tune of one voice."""
    title = escape(title or "Untitled")
    if len(parts) == 1:
        names = ['<score-part id="P1"><part-name print-object="no">Melody</part-name></score-part>']
    else:
        names = [f'<score-part id="P{i}"><part-name>{escape(name)}</part-name></score-part>'
                 for i, (name, _) in enumerate(parts, 1)]
    return ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
            '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
            '"http://www.musicxml.org/dtds/partwise.dtd">\n'
            '<score-partwise version="4.0">'
            f"<work><work-title>{title}</work-title></work><movement-title>{title}</movement-title>"
            "<identification><encoding><software>tunesmith</software></encoding></identification>"
            "<part-list>" + "".join(names) + "</part-list>"
            + "".join(f'<part id="P{i}">{xml}</part>' for i, (_, xml) in enumerate(parts, 1))
            + "</score-partwise>\n")


def _numbered(measures: list[_Measure], bar: Fraction | None) -> list[tuple[_Measure, int, bool]]:
    """(measure, number, implicit) for each measure: a short first bar (a pickup) is bar 0, and the rest of a
    bar split at a repeat line or an ending is implicit, numbered with the part before it, as scores count."""
    out, number = [], 1
    for i, measure in enumerate(measures):
        short = bar is not None and measure.duration < bar
        implicit = i == 0 and short
        if i > 1 and short and not implicit:
            previous = measures[i - 1].duration
            implicit = previous < bar and previous + measure.duration == bar
        out.append((measure, 0 if i == 0 and implicit else number, implicit))
        if not implicit:
            number += 1
    return out
