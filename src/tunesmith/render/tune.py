"""One ABC tune -> MIDI or WAV bytes: the ABC reader's note events, at the tune's tempo."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import TunesmithError
from ..music.abc.to_events import TuneParts, tune_parts
from .audio import events_to_wav, midi_to_wav, timbre_for_program
from .midi import accent, events_to_midi
from .tempo import default_qpm

_KEY_LINE = re.compile(r"^K:", re.MULTILINE)


def read_tune(abc: str) -> TuneParts:
    """The parts of one tune to play; text without a tune or without notes is a TunesmithError."""
    if not _KEY_LINE.search(abc):
        raise TunesmithError("not an ABC tune: it has no K: line (a tune's header ends with one, e.g. K:D)")
    parts = tune_parts(abc)
    if not parts.melody:
        raise TunesmithError("the tune has no notes to play")
    return parts


def _tempo(abc: str, qpm: float | None) -> float:
    if qpm is not None and qpm <= 0:
        raise TunesmithError(f"--qpm {qpm:g}: a tempo is a positive number of quarter notes per minute")
    return qpm if qpm is not None else default_qpm(abc)


def render_midi(abc: str, *, program: int = 0, chords: bool = False, qpm: float | None = None) -> bytes:
    """A MIDI file of one tune: melody with the General MIDI `program`, chord symbols as a second track if `chords`.

    The tempo is `qpm`, else the tune's Q:, else the usual one for its rhythm.
    """
    parts = read_tune(abc)
    return events_to_midi(parts.melody, qpm=_tempo(abc, qpm), program=program,
                          accompaniment=parts.accompaniment if chords else None,
                          meter=parts.meter, pickup=parts.pickup, end=parts.end)


def render_wav(abc: str, *, program: int = 0, chords: bool = False, qpm: float | None = None,
               soundfont: Path | None = None) -> bytes:
    """WAV audio of one tune, as long as its MIDI file: the built-in synthesiser, or `soundfont` (.sf2)."""
    if soundfont is not None:
        return midi_to_wav(render_midi(abc, program=program, chords=chords, qpm=qpm), soundfont=soundfont)
    if not 0 <= program <= 127:
        raise TunesmithError(f"--program {program}: a General MIDI program is 0..127")
    parts = read_tune(abc)
    return events_to_wav(accent(parts.melody,  # the accents the MIDI file has
                         parts.meter, parts.pickup), qpm=_tempo(abc, qpm),
                         accompaniment=parts.accompaniment if chords else None,
                         timbre=timbre_for_program(program), end=parts.end)
