"""Note events or a MIDI file -> WAV audio (44.1 kHz, 16-bit, mono).

The built-in synthesiser needs nothing but numpy: additive synthesis, where
each harmonic of a note has its own envelope. A tune repeats few distinct
notes, so each distinct (timbre, pitch, length) is rendered once and added
in at every place it is played: the synthesis of a 32-bar reel takes well
under 0.1 s, several times faster than note by note. With a SoundFont (.sf2), tinysoundfont plays the MIDI file
instead.

Timing goes through the same tick rounding as the MIDI file, so a WAV is
exactly as long as the MIDI file of the same tune (to the sample).

Memory: a piece is measured against the render limits (`limits.py`) before
anything is allocated; then the mix is float32 (4 bytes a sample), a note
is computed a block of samples at a time however long it is held, and the
16-bit samples are made a block at a time, so that a WAV of N samples
peaks at about 6N bytes (320 MB for 20 minutes), not 40N.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import TunesmithError
from ..music.events import NoteEvent, total_length
from .limits import (RenderLimits, check_events, check_midi_bytes, check_note, check_note_events, check_seconds,
                     check_voices, current)
from .midi import TICKS_PER_WHOLE, read_midi, seconds_per_whole, whole_seconds

SAMPLE_RATE = 44100
PEAK = 0.89                  # -1 dBFS: loud, never clipped
TIMBRES = ("pluck", "bowed", "drum")
ACCOMPANIMENT_GAIN = 0.45    # chords under the melody
_RELEASE = {"pluck": 0.04, "bowed": 0.08, "drum": 0.0}  # seconds a note fades after its end
_END_FADE = 0.01             # the last note is cut at the end of the piece: fade, never click
_BLOCK = 1 << 15             # samples computed at once (0.74 s): a long note costs memory by the block, not by its
                             # length, and a block's arrays stay in the CPU's cache (twice as fast as 6 s blocks)

# One note: (first sample, samples it is held, MIDI pitch, velocity, timbre, gain)
Voice = tuple[int, int, int, int, str, float]


def _harmonics(phase: np.ndarray, amplitudes: np.ndarray, fade: np.ndarray | None = None) -> np.ndarray:
    """sum_k amplitudes[k-1] * fade**(k+1) * sin(k * phase), by recurrences instead of a sin and an exp per harmonic.

    sin((k+1)x) = 2 cos(x) sin(kx) - sin((k-1)x); the k-th harmonic dies as fade**(k+1),
    so upper harmonics fade faster. Two to three times faster than a sin and an exp per harmonic.
    """
    two_cos = 2 * np.cos(phase)
    previous, current = np.zeros_like(phase), np.sin(phase)
    envelope = fade * fade if fade is not None else None
    out = np.zeros_like(phase)
    for amplitude in amplitudes:
        out += amplitude * (current * envelope if envelope is not None else current)
        previous, current = current, two_cos * current - previous
        if envelope is not None:
            envelope = envelope * fade
    return out


def _amplitudes(pitch: int, weights: np.ndarray) -> tuple[float, np.ndarray]:
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    k = np.arange(1, len(weights) + 1)
    return f0, weights[k * f0 < 0.45 * SAMPLE_RATE]  # nothing above Nyquist: no aliasing whistles


_K12 = np.arange(1, 13)
_PLUCK_WEIGHTS = np.abs(np.sin(np.pi * _K12 * 0.18)) / _K12  # a string plucked near the bridge
_BOWED_WEIGHTS = 1 / np.arange(1, 11) ** 1.5                   # a bowed string's sawtooth, softened


def _pluck(pitch: int, i: np.ndarray, n: int) -> np.ndarray:
    """Samples `i` of a plucked string `n` samples long: bright attack, upper harmonics dying first, low notes
    ringing longer."""
    f0, weights = _amplitudes(pitch, _PLUCK_WEIGHTS)
    t = i / SAMPLE_RATE
    decay = 0.8 + f0 / 250  # per second, for the fundamental; harmonic k dies (k+1)/2 times as fast
    wave_ = _harmonics(2 * np.pi * f0 * t, weights, np.exp(-0.5 * decay * t))
    attack = min(n, int(0.003 * SAMPLE_RATE))
    rising = i < attack
    wave_[rising] *= i[rising] / attack
    return wave_


def _bowed(pitch: int, i: np.ndarray, n: int) -> np.ndarray:
    """Samples `i` of a bowed string: a soft attack, a steady tone with a gentle vibrato."""
    f0, weights = _amplitudes(pitch, _BOWED_WEIGHTS)
    t = i / SAMPLE_RATE
    rate, depth = 5.5, 0.004
    onset = np.clip((t - 0.15) / 0.2, 0, 1)  # the vibrato comes in after the attack
    phase = 2 * np.pi * f0 * (t - onset * depth / (2 * np.pi * rate) * np.cos(2 * np.pi * rate * t))
    envelope = np.minimum(1, t / 0.06) * (0.85 + 0.15 * np.exp(-t / 0.3))
    return _harmonics(phase, weights) * envelope


def _drum(pitch: int, i: np.ndarray, n: int) -> np.ndarray:
    """Samples `i` of a struck drum: a falling tone and a noise burst, both short; the pitch sets the tone."""
    t = i / SAMPLE_RATE
    f0 = 60 + 4 * (pitch % 48)
    tone = np.sin(2 * np.pi * f0 * t * (1 + 0.5 * np.exp(-t / 0.02))) * np.exp(-t / 0.12)
    # The same drum, the same sound: the noise is drawn from the pitch, in the first block only
    # (0.74 s in, it has died below 10^-10, a millionth of the 16-bit step: later blocks need none).
    noise = np.zeros(len(i))
    early = i < _BLOCK
    if early.any():
        noise[early] = np.random.default_rng(pitch).standard_normal(min(n, _BLOCK))[i[early]]
    return tone + 0.3 * noise * np.exp(-t / 0.03)


_RENDER = {"pluck": _pluck, "bowed": _bowed, "drum": _drum}


def _note(timbre: str, pitch: int, held: int, first: int = 0, stop: int | None = None) -> np.ndarray:
    """Samples first..stop of a note held `held` samples and released (default: all of it)."""
    release = int(_RELEASE[timbre] * SAMPLE_RATE)
    n = held + release
    stop = n if stop is None else min(stop, n)
    i = np.arange(first, stop)
    wave_ = _RENDER[timbre](pitch, i, n)
    if release and stop > held:  # damped, not cut: a quarter cosine squared over the release
        at = max(first, held)
        wave_[at - first:] *= np.cos((i[at - first:] - held) * (np.pi / 2 / max(release - 1, 1))) ** 2
    return wave_


def synthesize(voices: list[Voice], length: int) -> np.ndarray:
    """Mix notes into `length` samples of float32 audio at -1 dBFS peak (silence stays silent)."""
    out = np.zeros(length + int(max(_RELEASE.values()) * SAMPLE_RATE) + 1, dtype=np.float32)
    by_sound: dict[tuple[str, int, int], list[tuple[int, float]]] = {}
    for start, held, pitch, velocity, timbre, gain in voices:
        if start < length and held > 0:
            by_sound.setdefault((timbre, pitch, held), []).append((start, gain * (velocity / 127) ** 2))
    for (timbre, pitch, held), places in by_sound.items():
        total = held + int(_RELEASE[timbre] * SAMPLE_RATE)
        first_place = min(start for start, _ in places)
        for first in range(0, total, _BLOCK):
            if first_place + first >= len(out):
                break  # the rest of the note rings past the end of the piece
            sound = _note(timbre, pitch, held, first, first + _BLOCK)  # rendered once, played at every place
            for start, gain in places:
                begin = start + first
                end = min(begin + len(sound), len(out))
                if end > begin:
                    out[begin:end] += gain * sound[: end - begin]
    return finish_mix(out[:length])


def finish_mix(audio: np.ndarray) -> np.ndarray:
    """Fade the last 10 ms (the piece ends there, ringing notes or not) and bring the peak to -1 dBFS, in place."""
    fade = min(len(audio), int(_END_FADE * SAMPLE_RATE))
    if fade:
        audio[len(audio) - fade:] *= np.linspace(1, 0, fade)
    peak = max(float(audio.max(initial=0.0)), -float(audio.min(initial=0.0)))  # no temporary |audio|
    if peak > 0:
        audio *= PEAK / peak
    return audio


def pcm16(audio: np.ndarray) -> np.ndarray:
    """16-bit samples of float audio in [-1, 1], made a block at a time (no float64 copy of the whole)."""
    samples = np.empty(len(audio), dtype="<i2")
    for a in range(0, len(audio), _BLOCK):
        block = np.clip(audio[a:a + _BLOCK], -1, 1).astype(np.float64) * 32767
        samples[a:a + _BLOCK] = np.round(block)
    return samples


def wav_file(samples: np.ndarray) -> bytes:
    """A mono 44.1 kHz WAV file of 16-bit samples: the 44-byte header and the samples, copied once."""
    size = 2 * len(samples)
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + size, b"WAVE", b"fmt ", 16, 1, 1, SAMPLE_RATE,
                         2 * SAMPLE_RATE, 2, 16, b"data", size)
    return b"".join([header, memoryview(np.ascontiguousarray(samples, dtype="<i2")).cast("B")])


def wav_bytes(audio: np.ndarray) -> bytes:
    """16-bit mono WAV of float audio in [-1, 1]."""
    return wav_file(pcm16(audio))


def check_synthesis(voices: list[Voice], limits: RenderLimits, what: str = "the tune") -> None:
    """Refuse voices that sound too long added up: `synthesize` mixes every one in, sample by sample, and
    computes each distinct one, so its time grows with their sum, not with the length of the piece."""
    seconds = sum(held + int(_RELEASE[timbre] * SAMPLE_RATE) for _, held, _, _, timbre, _ in voices) / SAMPLE_RATE
    check_voices(seconds, limits, what)


def event_voices(melody: list[NoteEvent], *, qpm: float, accompaniment: list[NoteEvent] | None = None,
                 timbre: str = "pluck", end: Fraction | None = None,
                 limits: RenderLimits | None = None) -> tuple[list[Voice], int]:
    """The voices `events_to_wav` synthesises and its length in samples, once the piece is within `limits`
    (default: RenderLimits.from_env()): a RenderLimitError otherwise. No audio is made."""
    if timbre not in _RENDER:
        raise TunesmithError(f"timbre {timbre!r}: choose one of {', '.join(TIMBRES)}")
    limits = current(limits)
    check_note_events(melody, accompaniment or [], end or Fraction(0), whole_seconds(qpm), limits)
    per_tick = seconds_per_whole(qpm) / TICKS_PER_WHOLE * SAMPLE_RATE

    def sample(t: Fraction) -> int:  # through the MIDI file's ticks, so that both agree
        return round(round(t * TICKS_PER_WHOLE) * per_tick)

    voices: list[Voice] = []
    for part, part_timbre, gain in ((melody, timbre, 1.0), (accompaniment or [], "pluck", ACCOMPANIMENT_GAIN)):
        for e in part:
            start = sample(e.start)
            voices.append((start, max(1, sample(e.start + e.duration) - start), e.pitch, e.velocity, part_timbre, gain))
    check_synthesis(voices, limits)
    last = max(total_length(melody), total_length(accompaniment or []), end or Fraction(0))
    return voices, sample(last)


def events_to_wav(melody: list[NoteEvent], *, qpm: float, accompaniment: list[NoteEvent] | None = None,
                  timbre: str = "pluck", end: Fraction | None = None, limits: RenderLimits | None = None) -> bytes:
    """WAV audio of a melody in `timbre` (pluck, bowed, drum) with an optional plucked accompaniment.

    As long as `events_to_midi` of the same events: to the last note's end, or `end` if later.
    A piece beyond `limits` (default: RenderLimits.from_env()) is a RenderLimitError, before any audio is made.
    """
    voices, length = event_voices(melody, qpm=qpm, accompaniment=accompaniment, timbre=timbre, end=end,
                                  limits=limits)
    return wav_file(pcm16(synthesize(voices, length)))  # the float mix is freed before the file is made


def timbre_for_program(program: int) -> str:
    """The built-in timbre closest to a General MIDI program: strings, winds and pads are bowed."""
    return "bowed" if 40 <= program <= 79 or 88 <= program <= 95 else "pluck"


def midi_voices(midi: bytes, limits: RenderLimits | None = None) -> tuple[list[Voice], int]:
    """The notes of any MIDI file as voices for `synthesize`, and its length in samples.

    The file is checked against `limits` first (its size before parsing; then
    its length, note count and longest note, which a file may claim at any
    size, and the seconds of distinct notes to synthesise), so that nothing
    the size of the audio is allocated for a refused file.
    """
    limits = current(limits)
    check_midi_bytes(len(midi), limits)
    song = read_midi(midi)
    if song.type == 2:
        raise TunesmithError("MIDI data: type 2 (asynchronous tracks) has no single timeline to play")
    if song.ticks_per_beat <= 0:
        raise TunesmithError("MIDI data: the header's division is 0 ticks per beat; no time can be read")
    programs = [0] * 16
    sounding: dict[tuple[int, int], tuple[float, int]] = {}  # (channel, note) -> (start s, velocity)
    notes: list[tuple[float, float, int, int, int, int]] = []  # (start s, end s, note, velocity, channel, program)
    now = 0.0
    for message in song:  # merged tracks, times in seconds through the tempo map; the sum is song.length
        now += message.time
        if message.type == "program_change":
            programs[message.channel] = message.program
        elif message.type in ("note_on", "note_off"):
            key = (message.channel, message.note)
            if key in sounding:  # a note struck again, or released
                start, velocity = sounding.pop(key)
                notes.append((start, now, key[1], velocity, key[0], programs[key[0]]))
            if message.type == "note_on" and message.velocity > 0:
                sounding[key] = (now, message.velocity)
                if len(notes) + len(sounding) > limits.max_events:
                    check_events(len(notes) + len(sounding), limits, "the MIDI file")
    for (channel, note), (start, velocity) in sounding.items():
        notes.append((start, now, note, velocity, channel, programs[channel]))
    check_seconds(now, limits, "the MIDI file")
    longest = max(notes, key=lambda n: n[1] - n[0], default=None)
    if longest is not None:
        check_note(longest[1] - longest[0], longest[0], limits)
    voices: list[Voice] = []
    for start, end, note, velocity, channel, program in notes:
        first = round(start * SAMPLE_RATE)
        timbre = "drum" if channel == 9 else timbre_for_program(program)
        voices.append((first, max(1, round(end * SAMPLE_RATE) - first), note, velocity, timbre, 1.0))
    check_synthesis(voices, limits, "the MIDI file")
    return voices, round(now * SAMPLE_RATE)


def midi_to_wav(midi: bytes, *, soundfont: Path | None = None, limits: RenderLimits | None = None) -> bytes:
    """WAV audio of any MIDI file: the built-in synthesiser, or a SoundFont (.sf2) through tinysoundfont.

    A file beyond `limits` (default: RenderLimits.from_env()) is a RenderLimitError, before any audio is made.
    """
    voices, length = midi_voices(midi, limits)
    if soundfont is not None:
        return wav_file(pcm16(_soundfont_audio(midi, Path(soundfont), length)))
    return wav_file(pcm16(synthesize(voices, length)))


def _load_soundfont(path: Path):
    """A tinysoundfont synthesiser with `path` loaded: (synth, sfid); a missing or bad file names itself."""
    try:
        import tinysoundfont
    except ImportError:
        raise TunesmithError("--soundfont needs tinysoundfont: .venv/bin/pip install --no-deps tinysoundfont==0.3.7") from None
    if not path.is_file():
        raise TunesmithError(f"{path}: no such SoundFont file")
    synth = tinysoundfont.Synth(samplerate=SAMPLE_RATE)
    try:
        return synth, synth.sfload(str(path))
    except Exception as exc:  # noqa: BLE001 - the binding raises plain Exceptions for unreadable files
        raise TunesmithError(f"{path}: not a SoundFont that tinysoundfont can read ({exc})") from None


def check_soundfont(path: Path) -> None:
    """Raise a TunesmithError naming `path` unless it is a readable SoundFont."""
    _load_soundfont(Path(path))


def _soundfont_audio(midi: bytes, path: Path, length: int) -> np.ndarray:
    import tinysoundfont

    synth, sfid = _load_soundfont(path)
    for channel in range(16):
        try:  # a program the file lacks is skipped; the MIDI's program changes may pick another
            synth.program_select(channel, sfid, 128 if channel == 9 else 0, 0, is_drums=channel == 9)
        except Exception:  # noqa: BLE001 - the binding raises plain Exceptions
            pass
    sequencer = tinysoundfont.Sequencer(synth)
    sequencer.add(tinysoundfont.midi.load_memory(midi))
    # A block at a time into one float32 mono buffer: the synthesiser's stereo float32 of the whole piece
    # would be twice the size of the mix.
    out = np.empty(length, dtype=np.float32)
    buffer = memoryview(bytearray(_BLOCK * 2 * 4))
    for a in range(0, length, _BLOCK):
        n = min(_BLOCK, length - a)
        stereo = np.frombuffer(synth.generate(n, buffer=buffer[: n * 8]), dtype=np.float32, count=2 * n)
        out[a:a + n] = stereo.reshape(-1, 2).mean(axis=1)
    return finish_mix(out)
