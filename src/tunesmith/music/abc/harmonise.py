"""Chord symbols for a tune that has none: one a bar, or one a half bar, from its melody and its key.

The bundled folk collections print no chord symbols, while the tunes people
paste (the Nottingham Music Database, session transcriptions) carry one in
most bars; a model that never saw them pays dearly for every `"G"`. This
writes them the way accompanists and those transcriptions do:

- **Where.** A chord at the start of every bar, on its first struck note or
  rest, repeated when it does not change (`|"D"A2d2 f2d2|"D"...`); a second
  one at the half bar (4/4, 2/2, 2/4, 6/8, 12/8, 6/4: an even number of
  beats) when the halves want different chords and the split fits the
  melody clearly better (`SPLIT_GAIN`). A pickup bar gets none, nor does a
  bar of rests or one whose only note is tied over from the bar before.
- **Which.** The triads the key signature spells on each degree of the mode
  (diminished ones left out: folk accompanists avoid them), a dominant
  seventh on a major fifth degree where the melody sounds that seventh, and
  in a minor key also the major V and V7 of harmonic minor (`"E7"` in A
  minor). Each candidate scores the share of the segment's melody that is a
  chord tone, each note weighted by its length and more when it is struck
  on the segment's first beat or on a beat, plus a small prior per degree
  (tonic, then IV and V, ...), a bonus for keeping the previous chord and
  one for the tonic at the end of a section.
- **How it is written.** A quoted name (`"Am"`, `"D7"`, `"F#m"`: the root
  spelled from the key signature) inserted before the note's decorations,
  tuplet or slur, after its grace notes (abc2midi reads a chord symbol after
  a decoration as a broken note, and the well-formed automaton wants the
  same order). Nothing else of the text changes, so every bar keeps its
  length and `tunesmith check` finds what it found before.

Refused (`NotHarmonisable`): a tune with chord symbols of its own, one
whose key is not a tonic and a mode (`K:Hp`, `K:Dmix=c`), one without a
meter, and one with no bar that takes a chord.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from ...errors import TunesmithError
from ..chords import parse_chord
from .bars import DurationReader
from .lexer import Token, note_parts, tokens
from .to_events import key_signature
from .transpose import mode_family, parse_key

LETTERS = "CDEFGAB"
_BASE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}
_SPELLING = {-1: "b", 0: "", 1: "#"}
# Tokens that belong to the note after them: a chord symbol goes before them (see the module's doc).
_BEFORE_A_NOTE = frozenset({"decoration", "slur_open", "tuplet", "chord_symbol"})
# Degree (0 = tonic) -> how much an accompanist leans to its chord when the melody allows several.
DEGREE_PRIOR = {0: 0.30, 4: 0.20, 3: 0.18, 6: 0.12, 5: 0.10, 1: 0.08, 2: 0.08}
SEVENTH_PRIOR = -0.02   # a seventh chord only where its seventh sounds, and then only just above its triad
SEVENTH_SHARE = 0.10    # ... that is, at least this share of the segment's weighted melody
KEEP_BONUS = 0.05       # the same chord as the segment before: accompaniment changes only for a reason
CADENCE_BONUS = 0.15    # the tonic in a section's last bar
SPLIT_GAIN = 0.20       # two chords in a bar only when the halves fit this much better (share of melody)
STRUCK_ON_FIRST = 2.0   # weight of a note struck on the segment's first beat, per whole note
STRUCK_ON_BEAT = 1.5    # ... struck on another beat
# Bar lines that end a section: the tonic is likely in the bar before them.
_SECTION_END = (":|", "::", "||", "|]")


class NotHarmonisable(TunesmithError):
    """A tune the harmoniser leaves alone; `reason` names why in a word (own_chords, no_key, no_meter, no_bar)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Chord:
    """A candidate chord of a key: its written name, its pitch classes, its prior."""

    name: str
    tones: frozenset[int]
    prior: float
    seventh: int | None = None   # the pitch class that must sound for a seventh chord to be chosen
    tonic: bool = False


@dataclass
class Sounding:
    """A note, chord or rest of one bar: when it starts and stops (whole notes from the bar's start)."""

    start: Fraction
    end: Fraction
    pitch_classes: tuple[int, ...]   # empty for a rest
    struck: bool                     # False for a note tied over from the one before
    at: int                          # token index a chord symbol for it goes before


@dataclass
class MusicBar:
    """One bar in source order, with what sounds in it and the key in force."""

    length: Fraction
    expected: Fraction | None
    meter: str | None
    closing: str
    key: str
    notes: list[Sounding] = field(default_factory=list)


def chords_of_key(key: str) -> list[Chord]:
    """The chords an accompanist picks from in a key (`K:` value): see the module's doc."""
    parsed = parse_key(key)
    if parsed is None:
        raise NotHarmonisable(f"K:{key} is not a tonic and a mode, so there is no key to harmonise in", "no_key")
    letter, _, _, mode = parsed
    signature = key_signature(key)
    start = LETTERS.index(letter)
    degrees = []
    for d in range(7):
        name = LETTERS[(start + d) % 7]
        alter = signature.get(name, 0)
        degrees.append((name + _SPELLING[alter], (_BASE[name] + alter) % 12))
    chords = []
    for d, (root, pc) in enumerate(degrees):
        third = (degrees[(d + 2) % 7][1] - pc) % 12
        fifth = (degrees[(d + 4) % 7][1] - pc) % 12
        if fifth != 7 or third not in (3, 4):
            continue  # diminished or augmented
        quality = "" if third == 4 else "m"
        chords.append(Chord(root + quality, frozenset({pc, (pc + third) % 12, (pc + 7) % 12}),
                            DEGREE_PRIOR[d], tonic=d == 0))
        if d == 4 and third == 4:
            chords.append(_dominant_seventh(root, pc))
    if mode_family(mode) == "minor":  # harmonic minor: the raised leading note makes V major
        root, pc = degrees[4]
        chords.append(Chord(root, frozenset({pc, (pc + 4) % 12, (pc + 7) % 12}), DEGREE_PRIOR[4] - 0.05))
        chords.append(_dominant_seventh(root, pc, DEGREE_PRIOR[4] - 0.05))
    return chords


def _dominant_seventh(root: str, pc: int, prior: float = DEGREE_PRIOR[4]) -> Chord:
    seventh = (pc + 10) % 12
    return Chord(root + "7", frozenset({pc, (pc + 4) % 12, (pc + 7) % 12, seventh}), prior + SEVENTH_PRIOR,
                 seventh=seventh)


def has_chord_symbols(text: str) -> bool:
    """Whether a tune's body already names chords (annotations such as "D.C." or "^Segno" do not count)."""
    return any(_names_a_chord(t) for t in _body_tokens(tokens(text)))


def chord_symbol_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of every chord symbol of a text, quotes included."""
    spans, at = [], 0
    for tok in tokens(text):
        if _names_a_chord(tok):
            spans.append((at, at + len(tok.text)))
        at += len(tok.text)
    return spans


def without_chord_symbols(text: str) -> str:
    """The text with its chord symbols taken out (annotations stay)."""
    return "".join(t.text for t in tokens(text) if not _names_a_chord(t))


def _names_a_chord(tok: Token) -> bool:
    return tok.kind == "chord_symbol" and parse_chord(tok.text) is not None


def _body_tokens(toks: list[Token]) -> list[Token]:
    for i, tok in enumerate(toks):
        if tok.kind == "field" and tok.text.startswith("K:"):
            return toks[i + 1:]
    return []


def read_music_bars(toks: list[Token]) -> list[MusicBar]:
    """The bars of a tune with their notes' times and pitch classes, in source order (repeats not taken)."""
    reader = DurationReader()
    key = ""
    i = 0
    for i, tok in enumerate(toks):
        if tok.kind == "field":
            reader.field(tok.text[0], tok.text[2:])
            if tok.text.startswith("K:"):
                key = tok.text[2:].strip()
                break
    signature = key_signature(key)
    carried: dict[tuple[str, int], int] = {}
    bars: list[MusicBar] = []
    notes: list[Sounding] = []
    bar_key = key
    tie_pending = False
    chord: list[int] | None = None   # pitch classes of an open [chord]
    chord_at = 0

    def pitch_class(text: str) -> int:
        accidental, letter, octave = note_parts(text)
        if accidental:
            carried[(letter, octave)] = _ACCIDENTAL[accidental]
        return (_BASE[letter] + carried.get((letter, octave), signature.get(letter, 0))) % 12

    def sound(at: int, before: Fraction, pcs: tuple[int, ...], tied: bool) -> None:
        nonlocal tie_pending
        notes.append(Sounding(before, reader.duration, pcs, not tied, _anchor(toks, at)))
        tie_pending = False

    def close_bar(tok: Token, closing: str) -> None:
        nonlocal notes, bar_key
        count = len(reader.bars)
        reader.close(tok, closing)
        if len(reader.bars) > count:
            bar = reader.bars[-1]
            bars.append(MusicBar(bar.duration, bar.expected, bar.meter, closing, bar_key, notes))
        notes, bar_key = [], key
        carried.clear()

    last = toks[i] if toks else None
    for j in range(i + 1, len(toks)):
        tok = last = toks[j]
        kind = tok.kind
        if kind in ("field", "inline_field"):
            reader.token(tok)
            body = tok.text.strip("[]")
            if body.startswith("K:"):
                key = body[2:].strip()
                signature = key_signature(key)
                if not notes:
                    bar_key = key
        elif kind in ("grace_open", "grace_close"):
            reader.token(tok)
        elif reader.in_grace:
            continue
        elif kind == "bar":
            close_bar(tok, tok.text)
        elif kind == "tie":
            tie_pending = True
        elif kind == "chord_open":
            reader.token(tok)
            chord, chord_at = [], j
        elif kind == "chord_close":
            before = reader.duration
            reader.token(tok)
            if chord is not None:
                sound(chord_at, before, tuple(chord), tie_pending)
            chord = None
        elif kind in ("note", "rest"):
            if chord is not None:
                if kind == "note":
                    chord.append(pitch_class(tok.text))
                reader.token(tok)
                continue
            before = reader.duration
            pcs = (pitch_class(tok.text),) if kind == "note" else ()
            reader.token(tok)
            sound(j, before, pcs, tie_pending and kind == "note")
        elif kind == "broken":
            before = reader.duration
            reader.token(tok)
            if notes:  # `>` lengthens the note before (and shortens the next, which `add` times)
                notes[-1].end += reader.duration - before
        elif kind in ("tuplet", "measure_rest"):
            reader.token(tok)
    if last is not None:
        close_bar(last, "")
    return bars


def _anchor(toks: list[Token], at: int) -> int:
    """Where a chord symbol for the note at token `at` goes: before its decorations, tuplet, slur."""
    while at > 0 and toks[at - 1].kind in _BEFORE_A_NOTE:
        at -= 1
    return at


def _beat(meter: str | None, expected: Fraction) -> Fraction:
    """One beat of a meter: a dotted quarter in 6/8, 9/8, 12/8; else the meter's note value."""
    if meter in ("C", "C|"):
        return Fraction(1, 4) if meter == "C" else Fraction(1, 2)
    numerator, _, denominator = (meter or "").partition("/")
    if numerator.isdigit() and denominator.isdigit() and int(denominator):
        if int(denominator) == 8 and int(numerator) % 3 == 0 and int(numerator) > 3:
            return Fraction(3, 8)
        return Fraction(1, int(denominator))
    return expected


def _weights(notes: list[Sounding], start: Fraction, end: Fraction, beat: Fraction) -> dict[int, float]:
    """Weighted time of each pitch class sounding in [start, end): longer and accented notes count more."""
    weights: dict[int, float] = {}
    low, high = float(start), float(end)
    for note in notes:
        overlap = min(float(note.end), high) - max(float(note.start), low)
        if overlap <= 0 or not note.pitch_classes:
            continue
        accent = 1.0
        if note.struck and note.start == start:
            accent = STRUCK_ON_FIRST
        elif note.struck and note.start > start and (note.start - start) % beat == 0:
            accent = STRUCK_ON_BEAT
        for pc in note.pitch_classes:
            weights[pc] = weights.get(pc, 0.0) + overlap * accent
    return weights


def _fit(chord: Chord, weights: dict[int, float]) -> float | None:
    """Share of the weighted melody that is a chord tone; None when a seventh chord's seventh is not heard."""
    total = sum(weights.values())
    if chord.seventh is not None and weights.get(chord.seventh, 0.0) < SEVENTH_SHARE * total:
        return None
    return sum(w for pc, w in weights.items() if pc in chord.tones) / total


def _best(chords: list[Chord], weights: dict[int, float], previous: Chord | None,
          cadence: bool) -> tuple[Chord, float] | None:
    """The best chord for a segment and its fit, or None for a segment with no pitch in it."""
    if not weights:
        return None
    scored = []
    for n, chord in enumerate(chords):
        fit = _fit(chord, weights)
        if fit is None:
            continue
        score = fit + chord.prior + (KEEP_BONUS if chord == previous else 0) + (CADENCE_BONUS if cadence and chord.tonic else 0)
        scored.append((score, -n, chord, fit))  # ties: the earlier candidate (lower degree)
    _, _, chord, fit = max(scored, key=lambda s: (s[0], s[1]))
    return chord, fit


def _first_struck(notes: list[Sounding], start: Fraction, end: Fraction) -> Sounding | None:
    """The first note or rest struck in [start, end) (a note tied over into it is not struck); None: none is."""
    struck = [n for n in notes if n.struck and start <= n.start < end]
    return struck[0] if struck else None


def _splits(meter: str | None, expected: Fraction | None) -> bool:
    """Whether a bar of this meter has an even number of beats (a chord may change at its half)."""
    if expected is None:
        return False
    beats = expected / _beat(meter, expected)
    return beats.denominator == 1 and beats.numerator % 2 == 0


def _is_pickup(bars: list[MusicBar], i: int) -> bool:
    """A short bar that opens the tune or a section (the bar before it, short too, ends at a repeat line)."""
    bar = bars[i]
    if bar.expected is None or bar.length >= bar.expected:
        return False
    if i == 0:
        return True
    before = bars[i - 1]
    return before.expected is not None and before.length < before.expected and any(
        mark in before.closing for mark in (":", "||", "|]", "[|"))


def plan_chords(bars: list[MusicBar]) -> list[tuple[int, str]]:
    """(token index, chord name) for every chord symbol the tune gets, in order."""
    placed: list[tuple[int, str]] = []
    previous: Chord | None = None
    candidates: dict[str, list[Chord]] = {}
    for i, bar in enumerate(bars):
        if bar.expected is None or _is_pickup(bars, i):
            continue
        chords = candidates.get(bar.key)
        if chords is None:
            chords = candidates[bar.key] = chords_of_key(bar.key)
        cadence = i == len(bars) - 1 or any(end in bar.closing for end in _SECTION_END)
        beat = _beat(bar.meter, bar.expected)
        whole = _best(chords, _weights(bar.notes, Fraction(0), bar.length, beat), previous, cadence)
        first = _first_struck(bar.notes, Fraction(0), bar.length)
        if whole is None or first is None:
            continue
        split = _half_bar_split(bar, chords, previous, cadence, beat, whole[1])
        if split is None:
            placed.append((first.at, whole[0].name))
            previous = whole[0]
        else:
            opening, second_note, closing = split
            if _first_struck(bar.notes, Fraction(0), bar.expected / 2) is not None:
                placed.append((first.at, opening.name))
            placed.append((second_note.at, closing.name))
            previous = closing
    return placed


def _half_bar_split(bar: MusicBar, chords: list[Chord], previous: Chord | None, cadence: bool, beat: Fraction,
                    whole_fit: float) -> tuple[Chord, Sounding, Chord] | None:
    """(first half's chord, the note the second half's chord goes on, that chord) when the bar changes chord
    at its half: the meter allows it, a note is struck there, and two chords fit clearly better than one."""
    half = bar.expected / 2
    if not _splits(bar.meter, bar.expected) or bar.length <= half:
        return None
    one = _best(chords, _weights(bar.notes, Fraction(0), half, beat), previous, False)
    second_note = next((n for n in bar.notes if n.struck and n.start == half), None)
    if one is None or second_note is None:
        return None
    two = _best(chords, _weights(bar.notes, half, bar.length, beat), one[0], cadence)
    if two is None or two[0] == one[0] or (one[1] + two[1]) / 2 < whole_fit + SPLIT_GAIN:
        return None
    return one[0], second_note, two[0]


def harmonise(text: str) -> str:
    """The tune with chord symbols written in (see the module's doc); raises NotHarmonisable."""
    toks = tokens(text)
    if has_chord_symbols(text):
        raise NotHarmonisable("the tune has chord symbols of its own", "own_chords")
    bars = read_music_bars(toks)
    if not bars or all(bar.expected is None for bar in bars):
        raise NotHarmonisable("the tune has no meter (M:), so no bars to put chords in", "no_meter")
    placed = dict(plan_chords(bars))
    if not placed:
        raise NotHarmonisable("no bar of the tune has a note struck on it to carry a chord", "no_bar")
    return "".join(f'"{placed[i]}"{tok.text}' if i in placed else tok.text for i, tok in enumerate(toks))
