"""music21 as an independent reader of our MusicXML: does it hear the notes our ABC reader plays?

`render/musicxml.py` writes a score from our own reading of a tune; here
music21 (its MusicXML parser, which shares no code with ours) reads the file
back, expands its repeats and endings (`expandRepeats`: each `:|` goes back
to its `|:`, each ending is played on its pass), joins tied notes
(`stripTies`) and lists every sounding note. The list must equal
`to_events.tune_parts(abc).melody`, the notes the MIDI and WAV files play:
same onsets, pitches and durations, in quarter notes, exactly (fractions).
Grace notes (no time in either) and chord symbols (the accompaniment, not the
melody) are left out on both sides.
"""

from __future__ import annotations

import warnings
from fractions import Fraction

from ..music.abc.to_events import tune_parts

Note = tuple[Fraction, int, Fraction]  # (onset, MIDI pitch, duration), in quarter notes


def our_notes(abc: str) -> list[Note]:
    """The melody our reader plays (repeats expanded, ties joined), sorted."""
    return sorted((e.start * 4, e.pitch, e.duration * 4) for e in tune_parts(abc).melody)


def music21_notes(xml: str) -> list[Note]:
    """The notes music21 reads from a MusicXML score (every part: a tune of several voices has one each),
    repeats expanded and ties joined, sorted."""
    from music21 import converter, harmony

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 warns about what it fixes up; a wrong note shows in the result
        score = converter.parseData(xml, format="musicxml", forceSource=True)
        # a part per voice, all heard, at the pitch they sound (a <transpose>: %%MIDI transpose)
        parts = [part.toSoundingPitch().expandRepeats().stripTies() for part in score.parts]
    notes = []
    for part in parts:
        for element in part.flatten().notes:
            if isinstance(element, harmony.ChordSymbol) or element.duration.isGrace:
                continue
            onset, length = Fraction(element.offset), Fraction(element.quarterLength)
            notes += [(onset, pitch.midi, length) for pitch in element.pitches]
    return sorted(notes)


def disagreement(abc: str, xml: str) -> str | None:
    """None when music21 hears in `xml` exactly the notes our reader plays in `abc`; else the first difference."""
    ours, theirs = our_notes(abc), music21_notes(xml)
    if ours == theirs:
        return None
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return f"note {i + 1}: ours {_show(a)}, music21 {_show(b)}"
    return f"{len(ours)} notes ours, {len(theirs)} music21's"


def _show(note: Note) -> str:
    onset, pitch, length = note
    return f"pitch {pitch} at {onset} for {length} quarters"
