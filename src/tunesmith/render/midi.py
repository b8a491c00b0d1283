"""Note events -> a Standard MIDI File (type 1), written with mido.

Track 0 holds the tempo and time signature, track 1 the melody (channel 1,
the chosen General MIDI program), track 2 the accompaniment when there is
one (channel 2, a nylon guitar). Times are exact fractions of a whole note
until the last step, where each start and end is rounded to a tick on its
own, so rounding never accumulates along a tune.
"""

from __future__ import annotations

import io
import re
from fractions import Fraction

import mido

from ..errors import TunesmithError
from ..music.events import NoteEvent, total_length
from .limits import RenderLimits, check_note_events, current

TICKS_PER_BEAT = 480                 # per quarter note: triplets and quintuplets land on whole ticks
TICKS_PER_WHOLE = 4 * TICKS_PER_BEAT
ACCOMPANIMENT_PROGRAM = 24           # General MIDI "Acoustic Guitar (nylon)"
DOWNBEAT_ACCENT = 16                 # velocity added on the first beat of a bar
BEAT_ACCENT = 8                      # ... and on the other strong beats


MAX_TEMPO_MICROSECONDS = 0xFFFFFF    # a MIDI file keeps a quarter note's length in 24 bits: 3.58 qpm at the slowest


def _microseconds(qpm: float) -> int:
    if not 1 <= qpm <= 2000:  # NaN fails too
        raise TunesmithError(f"tempo {qpm:g} quarter notes per minute is out of range (1..2000)")
    return round(60_000_000 / qpm)


def tempo_microseconds(qpm: float) -> int:
    """The MIDI tempo (microseconds per quarter note) for `qpm`; the WAV uses the same rounded value."""
    microseconds = _microseconds(qpm)
    if microseconds > MAX_TEMPO_MICROSECONDS:
        raise TunesmithError(f"tempo {qpm:g} quarter notes per minute: a MIDI file plays at least "
                             f"{60_000_000 / MAX_TEMPO_MICROSECONDS:.2f}")
    return microseconds


def seconds_per_whole(qpm: float) -> float:
    """How long a whole note lasts at `qpm`, as the MIDI file plays it (audio may be slower than MIDI allows)."""
    return 4 * _microseconds(qpm) / 1_000_000


def whole_seconds(qpm: float) -> Fraction:
    """seconds_per_whole, exactly: for measuring a piece of any length against the render limits."""
    return Fraction(4 * _microseconds(qpm), 1_000_000)


def meter_parts(meter: Fraction | str | None) -> tuple[int, int] | None:
    """(numerator, denominator) of a meter: "6/8" -> (6, 8), "C" -> (4, 4); None when free or unknown."""
    if meter is None:
        return None
    if isinstance(meter, Fraction):
        return (meter.numerator, meter.denominator) if meter > 0 else None
    text = meter.replace(" ", "")
    named = {"C": (4, 4), "C|": (2, 2)}
    if text in named:
        return named[text]
    match = re.fullmatch(r"(\d{1,3}(?:\+\d{1,3})*)/(\d{1,3})", text)
    if not match or int(match.group(2)) == 0:
        return None
    return sum(int(n) for n in match.group(1).split("+")), int(match.group(2))


def accent(events: list[NoteEvent], meter: Fraction | str | None, pickup: Fraction = Fraction(0)) -> list[NoteEvent]:
    """Events with light accents on the strong beats of `meter`.

    The first beat of a bar gets the most; a second, lighter one falls in
    the middle of bars of an even number of beats (beat 3 of 4/4, the second
    half of 6/8) and on each beat of 9/8. Compound meters (6/8, 9/8, 12/8)
    count their beats in dotted quarters. `pickup` is how short the first
    bar is, so that an anacrusis is not taken for a downbeat.
    """
    parts = meter_parts(meter)
    if parts is None:
        return list(events)
    num, den = parts
    bar = Fraction(num, den)
    compound = num % 3 == 0 and num > 3 and den >= 8
    beat = Fraction(3 if compound else 1, den)
    beats = num // 3 if compound else num
    if beats % 2 == 0:
        secondary = {bar / 2}
    elif compound and beats == 3:
        secondary = {beat, 2 * beat}
    else:
        secondary = set()
    out = []
    for e in events:
        position = (e.start + pickup) % bar
        extra = DOWNBEAT_ACCENT if position == 0 else BEAT_ACCENT if position in secondary else 0
        out.append(NoteEvent(e.start, e.duration, e.pitch, min(127, e.velocity + extra)))
    return out


def _ticks(t: Fraction) -> int:
    return round(t * TICKS_PER_WHOLE)


def _track(events: list[NoteEvent], channel: int, program: int, name: str) -> mido.MidiTrack:
    messages = []  # (absolute tick, order, pitch, velocity): note-offs before note-ons at the same tick
    for e in events:
        start, end = _ticks(e.start), _ticks(e.start + e.duration)
        if end <= start:
            end = start + 1  # a note shorter than a tick still sounds
        messages.append((start, 1, e.pitch, e.velocity))
        messages.append((end, 0, e.pitch, 0))
    messages.sort(key=lambda m: (m[0], m[1]))
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0),
                            mido.Message("program_change", channel=channel, program=program, time=0)])
    now = 0
    for tick, on, pitch, velocity in messages:
        # Pitches and velocities were checked in events_to_midi: mido's own checks of every message
        # were three quarters of the time of a long tune.
        track.append(mido.Message("note_on" if on else "note_off", skip_checks=True, channel=channel, note=pitch,
                                  velocity=velocity, time=tick - now))
        now = tick
    return track


def events_to_midi(melody: list[NoteEvent], *, qpm: float, program: int = 0,
                   accompaniment: list[NoteEvent] | None = None, meter: Fraction | str | None = None,
                   pickup: Fraction = Fraction(0), end: Fraction | None = None,
                   limits: RenderLimits | None = None) -> bytes:
    """A MIDI file of a melody (and an optional accompaniment) at `qpm` quarter notes per minute.

    `meter` writes a time signature and accents the strong beats (`pickup`:
    how short the first bar is); `end` is where the piece ends when it is
    after the last note (a final rest). A piece beyond `limits` (default:
    RenderLimits.from_env()) is a RenderLimitError.
    """
    if not 0 <= program <= 127:
        raise TunesmithError(f"--program {program}: a General MIDI program is 0..127")
    check_note_events(melody, accompaniment or [], end or Fraction(0), whole_seconds(qpm), current(limits))
    for e in [*melody, *(accompaniment or [])]:
        if not 0 <= e.pitch <= 127:
            raise TunesmithError(f"pitch {e.pitch} at {e.start} whole notes is outside MIDI's 0..127")
        if not 0 <= e.velocity <= 127:
            raise TunesmithError(f"velocity {e.velocity} at {e.start} whole notes is outside MIDI's 0..127")
    song = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    tempo_track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo_microseconds(qpm), time=0)])
    parts = meter_parts(meter)
    if parts is not None and parts[1] & (parts[1] - 1) == 0:  # MIDI writes denominators as powers of two
        tempo_track.append(mido.MetaMessage("time_signature", numerator=min(parts[0], 255),
                                            denominator=parts[1], time=0))
    last = max(total_length(melody), total_length(accompaniment or []), end or Fraction(0))
    tempo_track.append(mido.MetaMessage("end_of_track", time=_ticks(last)))  # the piece's length, rests included
    song.tracks.append(tempo_track)
    song.tracks.append(_track(accent(melody, meter, pickup), 0, program, "melody"))
    if accompaniment:
        song.tracks.append(_track(accompaniment, 1, ACCOMPANIMENT_PROGRAM, "chords"))
    buffer = io.BytesIO()
    song.save(file=buffer)
    return buffer.getvalue()


def read_midi(data: bytes, name: str = "MIDI data") -> mido.MidiFile:
    """Parse MIDI bytes; anything that is not a Standard MIDI File is a TunesmithError naming `name`."""
    try:
        return mido.MidiFile(file=io.BytesIO(data))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise TunesmithError(f"{name}: not a readable MIDI file ({exc})") from None
