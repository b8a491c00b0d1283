"""MIDI pieces as insight measures them: bars of the token text, onsets, and what sounds at once.

A piece is its token text (music/midi.py), read with the grammar's own
`TextReader`. Its bars for copy detection are the bar lines of that text
with the `Vel_` tokens left out (a velocity is written only where it
changes, so the same bar reads differently after another bar), and only
bars where some note starts: a run of held or silent bars says nothing
about copying. The events whose n-grams the diversity counts are onsets:
the pitches and lengths that start together.
"""

from __future__ import annotations

from fractions import Fraction

from ...music.midi import STEPS_PER_WHOLE, GridNote, MidiPiece, midi_bytes, piece_from_midi, text_problem
from ...insight.features import Line, pitched
from ...insight.measures import Measures, PieceProfile
from ...insight.metrics import intervals
from ...insight.reference import PITCH_CLASSES

NO_HANGING = "pieces with no note hanging past the end"
MAX_POLYPHONY = 12  # notes sounding at once beyond this share the last bin


def bar_keys(text: str) -> list[str]:
    """The bars of a piece's token text that start a note, velocities aside, in order."""
    keys = []
    for line in text.split("\n")[1:]:
        tokens = line.split()
        if tokens[:1] == ["Bar"] and any(t.startswith(("Pitch_", "Drum_")) for t in tokens):
            keys.append(" ".join(t for t in tokens[1:] if not t.startswith("Vel_")))
    return keys


def sounding(notes: list[GridNote]) -> tuple[list[int], list[GridNote]]:
    """(polyphony, top voice): at each onset, how many notes sound (starting there or still held),
    and the notes that are the highest sounding when they start (a bass note under a held soprano is not)."""
    counts, top = [], []
    active: list[GridNote] = []
    for start, group in _onset_groups(notes):
        active = [n for n in active if n.start + n.duration > start] + group
        counts.append(min(len(active), MAX_POLYPHONY))
        highest = max(active, key=lambda n: (n.pitch, n.start))
        if highest.start == start:
            top.append(highest)
    return counts, top


def _onset_groups(notes: list[GridNote]) -> list[tuple[int, list[GridNote]]]:
    groups: dict[int, list[GridNote]] = {}
    for n in notes:
        groups.setdefault(n.start, []).append(n)
    return sorted(groups.items())


def onsets(notes: list[GridNote]) -> list[tuple]:
    """What starts at each onset, in time order: ((pitch, length), ...) rising."""
    return [tuple(sorted((n.pitch, n.duration) for n in group)) for _, group in _onset_groups(notes)]


def _length(steps: int) -> str:
    return str(Fraction(steps, STEPS_PER_WHOLE))


def profile(text: str, check: bool = True) -> PieceProfile:
    """Everything the report measures in one piece's token text (read up to its first fault, if any)."""
    reader, problem = text_problem(text)
    notes = sorted((n for n in reader.notes if not n.drum), key=GridNote.order)
    counts, melody = sounding(notes)
    begun = reader.bar + 1
    bar_lines = [line.split() for line in text.split("\n")[1:] if line.split()[:1] == ["Bar"]]
    result = PieceProfile(
        bars=bar_keys(text), notes_per_bar=[sum(t.startswith("Pitch_") for t in line) for line in bar_lines],
        pitches=[n.pitch for n in melody],
        lengths=[_length(n.duration) for n in notes],
        onsets=[Fraction(n.start, STEPS_PER_WHOLE) for n in melody],
        meter=f"{reader.meters[0][1]}/{reader.meters[0][2]}" if reader.meters else None,
        values={"pitch_class": [PITCH_CLASSES[n.pitch % 12] for n in notes], "polyphony": counts,
                "top_lengths": [Fraction(n.duration, STEPS_PER_WHOLE) for n in melody]},
        events=onsets(notes),
    )
    if check:
        result.checker_ok = problem is None
        result.bars_total = len(bar_lines)
        # A fault inside a bar leaves that bar unfinished; at a line start every bar begun was read whole.
        result.bars_right = max(begun if reader.phase in ("line_start", "end") else begun - 1, 0)
        result.checks = {NO_HANGING: begun > 0 and reader.max_end <= reader.now}
    return result


def round_trip(text: str) -> bool:
    """The piece written as a MIDI file and read back by symusic is the same piece (a MIDI file can hold it)."""
    reader, problem = text_problem(text)
    if problem is not None or not reader.notes:
        return False
    piece = MidiPiece(tuple(sorted(reader.notes, key=GridNote.order)), tuple(reader.meters), reader.qpm)
    try:
        back = piece_from_midi(midi_bytes(piece), "round trip", drums=True)
    except Exception:  # a file symusic cannot read back is exactly what this judge reports
        return False
    return back.text == piece.text


STATISTICS = {
    "pitch_class": ("pitch class (every note)", lambda p: p.values.get("pitch_class", [])),
    "interval": ("melodic interval of the top voice (semitones, +-13 = beyond an octave)",
                 lambda p: intervals(p.pitches)),
    "note_length": ("note length (whole notes)", lambda p: p.lengths),
    "pitch_range": ("pitch range of the top voice (semitones)",
                    lambda p: [max(p.pitches) - min(p.pitches)] if p.pitches else []),
    "notes_per_bar": ("notes starting per bar", lambda p: p.notes_per_bar),
    "polyphony": ("polyphony (notes sounding at each onset)", lambda p: p.values.get("polyphony", [])),
}


def top_voice(p: PieceProfile) -> Line:
    """The top voice (the highest note sounding where it starts), the line the features read."""
    return Line(p.pitches, p.values.get("top_lengths", []), p.onsets)


# The paper's features of the top voice: a chorale's soprano, most of the time.
PIECE_FEATURES = pitched(top_voice)

MEASURES = Measures(
    mode="midi", bar="bar", profile=profile, features=None, statistics=STATISTICS, event="onset",
    bars_right="read whole by the grammar",
    bar_key="as the bar lines of the token text, velocities aside, bars where no note starts left out",
    judge=("a MIDI file round trip (symusic)", round_trip), piece_features=PIECE_FEATURES,
)
