"""Transpose a tune in canonical ABC by a number of semitones, through our own reader and writer.

Every `K:` (header, body line or inline `[K:...]`) moves to the key the
tradition would write: of the spellings of the new tonic, the one whose
signature has fewer sharps or flats (D +1 -> Eb, not D#), with the mode kept
as written (Ador +2 -> Bdor, "E Minor" +2 -> "F# Minor"). Each note's
sounding pitch is read as `to_events` reads it (key signature, accidentals
carried to the end of the bar, per octave), moved by the semitones, and
written on the letter moved by the key's diatonic steps, with the octave
marks its pitch needs. Accidentals are written where the original had one
(a cautionary accidental stays) and wherever the new key or the bar's
carried accidentals would otherwise give the wrong pitch; a pitch that
would need more than a double sharp or flat on that letter is spelled on
the neighbouring letter. Chord symbols that read as chords ("Am", "D7/F#")
move by the same rule; other quoted text, lengths, bar lines, decorations
and every other character are kept byte for byte, so bar lengths do not
change.

Since accidentals map one to one from the old letters to the new, a tie
across a bar line, a grace note's accidental and the like read the same in
the copy as in the original, whichever way a reader takes them.

A tune whose key is not a tonic and mode (`K:Hp`, `K:HP`, `K:none`, a key
with explicit accidentals such as `K:Dmix=c`, or one with a clef) is refused
with `NotTransposable`: there is no key to move it to.
"""

from __future__ import annotations

import re

from ...errors import TunesmithError
from .lexer import note_parts, tokens
from .to_events import key_signature

LETTERS = "CDEFGAB"
_BASE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}
_WRITE = {2: "^^", 1: "^", 0: "=", -1: "_", -2: "__"}
# Sharps in the major key of each natural tonic; a sharp tonic adds 7, a flat one takes 7 away.
_LETTER_SHARPS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F": -1}
_MODE_SHIFT = {"maj": 0, "ion": 0, "": 0, "m": -3, "min": -3, "aeo": -3, "dor": -2, "phr": -4, "lyd": 1,
               "mix": -1, "loc": -5}
_KEY = re.compile(
    r"([A-G])([#b]?)(\s*)(maj|major|m|min|minor|mix|mixolydian|dor|dorian|phr|phrygian|lyd|lydian"
    r"|loc|locrian|aeo|aeolian|ion|ionian)?",
    re.IGNORECASE,
)
_CHORD = re.compile(r'"(\s*)([A-G])([#b]?)([^/"]*?)(?:/([A-G])([#b]?))?(\s*)"')
_NOTE_HEAD = re.compile(r"(?:\^\^|\^|__|_|=)?[A-Ga-g][,']*")


class NotTransposable(TunesmithError):
    """A tune without a key to transpose (K:Hp, K:none, explicit accidentals...)."""


def _sharps(letter: str, accidental: str, mode: str) -> int:
    """Sharps (negative: flats) of the signature of a tonic and mode."""
    mode = mode.lower()
    shift = _MODE_SHIFT.get(mode if mode in ("m", "") else mode[:3], 0)
    return _LETTER_SHARPS[letter] + 7 * {"#": 1, "b": -1, "": 0}[accidental] + shift


def parse_key(value: str) -> tuple[str, str, str, str] | None:
    """(letter, accidental, space, mode) of a K: value that is a tonic and a mode, else None."""
    match = _KEY.fullmatch(value.strip())
    if match is None or match.group(2) and match.group(2) not in "#b":
        return None
    letter, accidental, space, mode = match.groups()
    if mode is None and space:
        return None
    return letter, accidental, space, mode or ""


_FAMILIES = {"": "major", "maj": "major", "ion": "major", "m": "minor", "min": "minor", "aeo": "minor",
             "dor": "dorian", "mix": "mixolydian", "phr": "phrygian", "lyd": "lydian", "loc": "locrian"}


def mode_family(mode: str) -> str:
    """The mode a K: value's mode names, folded: "m", "min", "Minor", "aeolian" -> "minor"; "Dor" -> "dorian"."""
    mode = mode.lower()
    return _FAMILIES.get(mode if mode in ("", "m") else mode[:3], "major")


def is_transposable_key(value: str) -> bool:
    """Whether a K: value names a tonic and a mode that can move to another key."""
    return parse_key(value) is not None


def transpose_key(value: str, semitones: int) -> tuple[str, int]:
    """The K: value moved by `semitones`, and how many letters the tonic moved (0..6).

    The new tonic is spelled with the fewest sharps or flats in the
    signature; a tie (F# major or Gb major) keeps the old key's side
    (sharps or flats), else goes the way of the transposition.
    """
    parsed = parse_key(value)
    if parsed is None:
        raise NotTransposable(f"K:{value.strip()} is not a key that can be transposed (a tonic and a mode)")
    letter, accidental, space, mode = parsed
    old = _sharps(letter, accidental, mode)
    target = (_BASE[letter] + {"#": 1, "b": -1, "": 0}[accidental] + semitones) % 12
    side = old if old else semitones
    best = None
    for new_letter in LETTERS:
        for new_accidental, alter in (("", 0), ("#", 1), ("b", -1)):
            if (_BASE[new_letter] + alter) % 12 != target:
                continue
            sharps = _sharps(new_letter, new_accidental, mode)
            if abs(sharps) > 7:
                continue
            rank = (abs(sharps), 0 if sharps * side >= 0 else 1)
            if best is None or rank < best[0]:
                best = (rank, new_letter, new_accidental)
    _, new_letter, new_accidental = best  # a pitch class always has a spelling within 7 sharps or flats
    steps = (LETTERS.index(new_letter) - LETTERS.index(letter)) % 7
    head = value[: len(value) - len(value.lstrip())]
    tail = value[len(value.rstrip()):]
    return f"{head}{new_letter}{new_accidental}{space}{mode}{tail}", steps


def _natural(position: int) -> int:
    """MIDI pitch of the natural note at a staff position (7 per octave; 0 is middle C)."""
    octave, index = divmod(position, 7)
    return 60 + 12 * octave + _BASE[LETTERS[index]]


def _write_note(position: int, accidental: str) -> str:
    octave, index = divmod(position, 7)
    letter = LETTERS[index]
    if octave >= 1:
        return accidental + letter.lower() + "'" * (octave - 1)
    return accidental + letter + "," * (-octave)


def _spell_root(letter: str, accidental: str, semitones: int, steps: int) -> str:
    """A chord symbol's root (or bass) moved: the letter moved by `steps`, else the nearest spelling."""
    target = (_BASE[letter] + {"#": 1, "b": -1, "": 0}[accidental] + semitones) % 12
    new_letter = LETTERS[(LETTERS.index(letter) + steps) % 7]
    alter = (target - _BASE[new_letter] + 6) % 12 - 6
    if abs(alter) > 1:  # e.g. a C# root in a flat key: write Db rather than a double sharp
        # The nearest spelling: a natural, else the original's direction (a sharp stays a sharp), else the move's.
        prefer = {"#": 1, "b": -1, "": 0}[accidental] or (1 if semitones > 0 else -1)
        spellings = [(c, (target - _BASE[c] + 6) % 12 - 6) for c in LETTERS]
        new_letter, alter = min(((c, a) for c, a in spellings if abs(a) <= 1), key=lambda ca: (ca[1] != 0, ca[1] != prefer))
    return new_letter + {1: "#", -1: "b", 0: ""}[alter]


def transpose_chord_symbol(text: str, semitones: int, steps: int) -> str:
    """A quoted chord symbol moved ("Am" +2 -> "Bm"); other quoted text unchanged."""
    from ..chords import parse_chord

    match = _CHORD.fullmatch(text)
    if match is None or parse_chord(text) is None:
        return text
    lead, letter, accidental, quality, bass, bass_accidental, trail = match.groups()
    out = f'"{lead}{_spell_root(letter, accidental, semitones, steps)}{quality}'
    if bass:
        out += "/" + _spell_root(bass, bass_accidental, semitones, steps)
    return out + f'{trail}"'


def transpose_tune(text: str, semitones: int) -> str:
    """The tune moved by `semitones` (positive: up), every note and key respelled; see the module's doc.

    Raises NotTransposable when a K: of the tune is not a tonic and a mode.
    """
    out: list[str] = []
    in_header = True
    old_key: dict[str, int] = {}
    new_key: dict[str, int] = {}
    steps = 0
    old_carried: dict[tuple[str, int], int] = {}
    new_carried: dict[int, int] = {}  # by staff position
    in_grace = False
    seen_key = False

    def set_key(value: str) -> str:
        nonlocal old_key, new_key, steps, seen_key
        new_value, steps = transpose_key(value, semitones)
        old_key, new_key, seen_key = key_signature(value), key_signature(new_value), True
        return new_value

    def note(tok_text: str) -> str:
        head = _NOTE_HEAD.match(tok_text).group()
        accidental, letter, octave = note_parts(tok_text)
        if accidental:
            alter = _ACCIDENTAL[accidental]
            if not in_grace:
                old_carried[(letter, octave)] = alter
        else:
            alter = old_carried.get((letter, octave), old_key.get(letter, 0))
        target = 60 + 12 * octave + _BASE[letter] + alter + semitones
        old_position = 7 * octave + LETTERS.index(letter)
        position = min((old_position + steps, old_position + steps - 7),
                       key=lambda p: abs(target - _natural(p)))
        while abs(target - _natural(position)) > 2:  # beyond a double sharp or flat: the next letter
            position += 1 if target > _natural(position) else -1
        new_alter = target - _natural(position)
        current = new_carried.get(position, new_key.get(LETTERS[position % 7], 0))
        written = ""
        if accidental or new_alter != current:
            written = _WRITE[new_alter]
            if not in_grace:
                new_carried[position] = new_alter
        return _write_note(position, written) + tok_text[len(head):]

    for tok in tokens(text):
        kind, piece = tok.kind, tok.text
        if kind == "field" and piece.startswith("K:"):
            piece = "K:" + set_key(piece[2:])
            in_header = False
        elif in_header:
            pass
        elif kind == "inline_field" and piece.startswith("[K:"):
            piece = "[K:" + set_key(piece[3:-1]) + "]"
        elif kind == "note":
            piece = note(piece)
        elif kind == "bar":
            old_carried.clear()
            new_carried.clear()
        elif kind == "chord_symbol":
            piece = transpose_chord_symbol(piece, semitones, steps)
        elif kind == "grace_open":
            in_grace = True
        elif kind == "grace_close":
            in_grace = False
        out.append(piece)
    if not seen_key:
        raise NotTransposable("the tune has no K: line, so no key to transpose")
    return "".join(out)
