"""One ABC tune -> MIDI or WAV bytes: the ABC reader's note events, at the tune's tempo."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

from ..errors import TunesmithError
from ..music.abc.lexer import length, tokens
from ..music.abc.support import playable_or_error
from ..music.abc.to_events import TuneParts, tune_parts
from ..music.abc.tunes import meter_fraction
from .audio import event_voices, events_to_wav, midi_to_wav, timbre_for_program
from .limits import RenderLimits, check_chars, check_grid, check_note_events, current
from .midi import accent, events_to_midi, whole_seconds
from .tempo import default_qpm

_KEY_LINE = re.compile(r"^K:", re.MULTILINE)


@lru_cache(maxsize=4)  # a batch checks every tune against the limits, then renders it: read it once
def _parts(abc: str) -> TuneParts:
    return tune_parts(abc)


def time_grid(abc: str, cap: int) -> int:
    """A whole number of parts of a whole note that every time in the tune falls on, or any number above `cap`.

    Every length is unit x written length (x a chord's own) x tuplet q/p x a broken rhythm's 2^-n, and a
    multi-bar rest is meters; so the product of the least common multiples of those denominators bounds the
    denominator of every note's time, and of their sums. Small integers only: it is worked out from the
    tokens before the exact sums are made, and stops as soon as it passes `cap`.
    """
    factors = {"unit": 16, "note": 1, "chord": 1, "tuplet": 1, "meter": 1}  # 16: a default L: is 1/8 or 1/16
    deepest_broken = 0
    for tok in tokens(abc):
        kind, text = tok.kind, tok.text
        if kind in ("note", "rest"):
            factors["note"] = math.lcm(factors["note"], length(text).denominator)
        elif kind == "chord_close":
            factors["chord"] = math.lcm(factors["chord"], length(text).denominator)
        elif kind == "tuplet":
            factors["tuplet"] = math.lcm(factors["tuplet"], int(text[1:].split(":")[0]) or 1)
        elif kind == "broken":
            deepest_broken = max(deepest_broken, len(text))
        elif kind in ("field", "inline_field") and text.strip("[")[:2] in ("L:", "M:"):
            value = text.strip("[]")[2:].strip()
            fraction = meter_fraction(value)
            if fraction is not None:
                key = "unit" if text.strip("[")[0] == "L" else "meter"
                factors[key] = math.lcm(factors[key], fraction.denominator)
        else:
            continue
        if deepest_broken > cap.bit_length() or any(f > cap for f in factors.values()):
            return cap + 1
    grid = 1 << deepest_broken
    for f in factors.values():
        grid *= f
        if grid > cap:
            return grid
    return grid


def read_tune(abc: str, limits: RenderLimits | None = None) -> TuneParts:
    """The parts of one tune to play; text without a tune or without notes is a TunesmithError.

    A text longer than the limits' `max_chars`, or one whose lengths need a finer time grid than
    `max_grid_digits` allow, is refused before it is read; so is a tune with something the reader would
    play wrong (a voice overlay, a tempo change ...: `music.abc.support.unplayable`), naming each thing.
    """
    limits = current(limits)
    check_chars(abc, limits)
    check_grid(time_grid(abc, 10 ** limits.max_grid_digits), limits)
    if not _KEY_LINE.search(abc):
        raise TunesmithError("not an ABC tune: it has no K: line (a tune's header ends with one, e.g. K:D)")
    playable_or_error(abc)
    parts = _parts(abc)
    if not parts.melody:
        raise TunesmithError("the tune has no notes to play")
    return parts


def _tempo(abc: str, qpm: float | None) -> float:
    if qpm is not None and qpm <= 0:
        raise TunesmithError(f"--qpm {qpm:g}: a tempo is a positive number of quarter notes per minute")
    return qpm if qpm is not None else default_qpm(abc)


def check_tune(abc: str, *, chords: bool = False, qpm: float | None = None, audio: bool = False,
               limits: RenderLimits | None = None) -> TuneParts:
    """The tune's parts, once its MIDI file (and with `audio`, its WAV) is known to be within `limits`.

    Refuses (RenderLimitError) a text too long or too finely divided to read,
    and a tune with too many notes, too long in all, or with a note or rest
    held too long, at its tempo; for audio, one whose different notes would
    take too long to synthesise. Other problems (no K:, no notes, a bad Q:)
    are TunesmithErrors as when it is rendered. No audio or MIDI is made.
    """
    limits = current(limits)
    parts = read_tune(abc, limits)
    if audio:
        event_voices(accent(parts.melody, parts.meter, parts.pickup), qpm=_tempo(abc, qpm),
                     accompaniment=parts.accompaniment if chords else None, end=parts.end, limits=limits)
    else:
        check_note_events(parts.melody, parts.accompaniment if chords else [], parts.end,
                          whole_seconds(_tempo(abc, qpm)), limits)
    return parts


def render_midi(abc: str, *, program: int = 0, chords: bool = False, qpm: float | None = None,
                limits: RenderLimits | None = None) -> bytes:
    """A MIDI file of one tune: melody with the General MIDI `program`, chord symbols as a second track if `chords`.

    The tempo is `qpm`, else the tune's Q:, else the usual one for its rhythm.
    A tune beyond `limits` (default: RenderLimits.from_env()) is a RenderLimitError.
    """
    limits = current(limits)
    parts = read_tune(abc, limits)
    return events_to_midi(parts.melody, qpm=_tempo(abc, qpm), program=program,
                          accompaniment=parts.accompaniment if chords else None,
                          meter=parts.meter, pickup=parts.pickup, end=parts.end, limits=limits)


def render_wav(abc: str, *, program: int = 0, chords: bool = False, qpm: float | None = None,
               soundfont: Path | None = None, limits: RenderLimits | None = None) -> bytes:
    """WAV audio of one tune, as long as its MIDI file: the built-in synthesiser, or `soundfont` (.sf2).

    A tune beyond `limits` (default: RenderLimits.from_env()) is a RenderLimitError, before any audio is made.
    """
    limits = current(limits)
    if soundfont is not None:
        return midi_to_wav(render_midi(abc, program=program, chords=chords, qpm=qpm, limits=limits),
                           soundfont=soundfont, limits=limits)
    if not 0 <= program <= 127:
        raise TunesmithError(f"--program {program}: a General MIDI program is 0..127")
    parts = read_tune(abc, limits)
    return events_to_wav(accent(parts.melody,  # the accents the MIDI file has
                         parts.meter, parts.pickup), qpm=_tempo(abc, qpm),
                         accompaniment=parts.accompaniment if chords else None,
                         timbre=timbre_for_program(program), end=parts.end, limits=limits)
