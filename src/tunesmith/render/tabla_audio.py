"""Tabla compositions as sound: a numpy stroke synthesiser (WAV) and MIDI export.

The dayan (right drum, tuned to DAYAN_HZ) has near-harmonic partials, as
C. V. Raman found; its open strokes ring (Na and Ta at the rim, bright; Tin
on the edge of the black patch, mellower; Tun in the middle, mostly the
fundamental) and its closed strokes (Ti, Te, Ra, Tit, Tak) are damped at
once. The bayan (left, bass) rings on Ge with the pitch glide of the palm
releasing the skin, and slaps flat on Ka, Ke, Ki, Kat. Bols on both drums
(Dha = Na + Ge, Dhin = Tin + Ge, Dhi, Dhit) are the sums of their strokes.
A composition lasts exactly `matras x 60 / tempo` seconds; each stroke
starts on its own sample; sam is accented. Options: the tala's theka looped
quietly underneath, and a tanpura-like drone on Sa (DAYAN_HZ / 2) and Pa.

MIDI: one track on the General MIDI percussion channel (10), one quarter
note per matra at the tempo, a time signature of the tala's matras over 4.
There is no tabla in General MIDI, so each drum stroke takes the hand drum
nearest in sound (velocity 110 on sam, 95 on a vibhag's first matra, 80
elsewhere, 15 less for the light strokes Ra, Te, Ki):

| stroke | MIDI note | General MIDI name |
|---|---|---|
| Na, Ta (dayan, rim) | 60 | Hi Bongo |
| Tun (dayan, centre) | 61 | Low Bongo |
| Ti, Te, Ra, Tit, Tak (dayan, damped) | 62 | Mute Hi Conga |
| Tin (dayan, edge) | 63 | Open Hi Conga |
| Ge (bayan, open) | 64 | Low Conga |
| Ka, Ke, Ki, Kat (bayan, closed) | 66 | Low Timbale |

A bol on both drums is two notes at once (Dha = 60 + 64).

A composition is measured against the render limits (`limits.py`: its
length at the tempo, its strokes) before anything is allocated; the mix is
float32, and each drum keeps only its last few seconds of ringing apart
from the mix, so a WAV of N samples peaks at about 6N bytes.
"""

from __future__ import annotations

import io
from fractions import Fraction
from functools import lru_cache
from typing import Callable

import mido
import numpy as np

from ..errors import TunesmithError
from ..music.tabla.bols import STROKES
from ..music.tabla.notation import Composition, Matra
from ..music.tabla.talas import TALAS
from ..music.tabla.timing import Hit, hits
from .audio import SAMPLE_RATE, finish_mix, pcm16, wav_file
from .limits import RenderLimits, check_events, check_seconds, current

DAYAN_HZ = 277.18          # C#4, a common tuning of the dayan's Sa
BAYAN_HZ = 98.0            # the bayan's open pitch before the glide
THEKA_GAIN = 0.3
DRONE_GAIN = 0.12
_ACCENT_GAIN = (1.0, 1.12, 1.3)
_CHOKE = 0.015            # seconds a new stroke takes to stop the drum's earlier ringing
# Partials (ratio to the tuning, amplitude, decay seconds), click noise (amplitude, decay seconds), gain.
_DAYAN = {
    "Na": ([(1, .30, .22), (2, 1.0, .28), (3, .55, .20), (4, .35, .14), (5, .20, .09)], (.35, .004), 1.0),
    "Ta": ([(1, .25, .18), (2, .9, .22), (3, .60, .16), (4, .45, .11), (5, .30, .07)], (.45, .004), 1.0),
    "Tin": ([(1, .55, .45), (2, .9, .55), (3, .30, .30), (4, .15, .18)], (.20, .003), .9),
    "Tun": ([(1, 1.0, .75), (2, .30, .35), (3, .10, .22)], (.15, .003), 1.0),
    "Ti": ([(1, .5, .03), (2, .45, .025), (3, .3, .02)], (.9, .008), .8),
    "Te": ([(1, .45, .03), (2, .4, .022), (3, .3, .018)], (.9, .007), .7),
    "Ra": ([(1, .4, .025), (2, .35, .02)], (.9, .006), .6),
    "Tit": ([(1, .5, .035), (2, .5, .03), (3, .35, .02)], (1.0, .009), .85),
    "Tak": ([(1, .6, .04), (2, .4, .03)], (.9, .01), .85),
}
_CLOSED = {"Ka": 1.0, "Ke": .85, "Ki": .75, "Kat": 1.1}
MIDI_NOTES = {"Na": 60, "Ta": 60, "Tun": 61, "Ti": 62, "Te": 62, "Ra": 62, "Tit": 62, "Tak": 62, "Tin": 63,
              "Ge": 64, "Ka": 66, "Ke": 66, "Ki": 66, "Kat": 66}
_LIGHT = frozenset({"Ra", "Te", "Ki"})
TICKS_PER_MATRA = 480


def _time(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE


def _attack(sound: np.ndarray) -> np.ndarray:
    ramp = min(len(sound), int(0.0008 * SAMPLE_RATE))  # under a millisecond: a hit, without a click
    sound[:ramp] *= np.linspace(0, 1, ramp)
    return sound


def _noise(rng: np.random.Generator, t: np.ndarray, amplitude: float, decay: float, smooth: int = 1) -> np.ndarray:
    burst = rng.standard_normal(len(t))
    if smooth > 1:  # a duller slap: the noise low-passed by a moving average
        burst = np.convolve(burst, np.ones(smooth) / smooth, mode="same") * np.sqrt(smooth)
    return amplitude * burst * np.exp(-t / decay)


@lru_cache(maxsize=128)
def stroke(name: str, seed: int = 0, dayan_hz: float = DAYAN_HZ) -> np.ndarray:
    """The sound of one drum stroke (float, peak about 1), its noise drawn from `seed`, the dayan tuned to `dayan_hz`."""
    rng = np.random.default_rng([seed, sorted(MIDI_NOTES).index(name)])
    if name in _DAYAN:
        partials, (click, click_decay), gain = _DAYAN[name]
        t = _time(max(d for _, _, d in partials) * 6)
        sound = sum(a * np.sin(2 * np.pi * dayan_hz * r * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / d)
                    for r, a, d in partials)
        sound = sound + _noise(rng, t, click, click_decay)
    elif name == "Ge":
        t = _time(2.4)
        # The pitch drops as the first impact passes, then rises a little as the palm presses the skin.
        freq = BAYAN_HZ * (1 + 0.25 * np.exp(-t / 0.04) + 0.08 * (1 - np.exp(-t / 0.35)))
        phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
        sound = (np.sin(phase) + 0.35 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase)) * np.exp(-t / 0.4)
        sound = sound + _noise(rng, t, 0.2, 0.005, smooth=8) + _noise(rng, t, 0.15, 0.002)
        gain = 1.0
    elif name in _CLOSED:
        t = _time(0.15)
        sound = np.sin(2 * np.pi * 150 * t) * np.exp(-t / 0.02) + _noise(rng, t, 1.2, 0.012, smooth=6)
        gain = 0.8 * _CLOSED[name]
    else:
        raise ValueError(f"no sound for stroke {name!r}")
    sound = sound / np.abs(sound).max()
    return _attack(sound * gain)


def play_strokes(out: np.ndarray, played: list[Hit], sample_at: Callable[[Fraction], int], gain: float, seed: int,
          dayan_hz: float = DAYAN_HZ) -> list[tuple[int, str]]:
    """Add the strokes to `out`; a stroke chokes what its drum still rings from earlier strokes.

    A choke changes only what the drum rings after the new stroke's start, so
    each drum keeps apart only what it rings from its latest stroke on (a few
    seconds) and adds what came before into `out`; and a stroke's sound is
    taken only up to where the drum's next stroke has choked it. Memory goes
    by the stroke and time by the length of the piece, however many strokes
    ring over each other.
    """
    choke = np.linspace(1, 0, int(_CHOKE * SAMPLE_RATE))
    strokes = []  # (start sample, drum, stroke, gain), in time order
    for hit in played:
        start = sample_at(hit.start)
        if start < len(out):
            strokes += [(start, STROKES[name][0], name, gain * _ACCENT_GAIN[hit.accent]) for name in hit.strokes]
    choked = [len(out)] * len(strokes)  # where each stroke's drum is struck next
    upcoming: dict[str, int] = {}
    for i in range(len(strokes) - 1, -1, -1):
        choked[i] = upcoming.get(strokes[i][1], len(out))
        upcoming[strokes[i][1]] = strokes[i][0]
    ringing = {"dayan": np.zeros(0), "bayan": np.zeros(0)}  # each drum's sound from `since` on
    since = {"dayan": 0, "bayan": 0}
    for (start, drum, name, loudness), until in zip(strokes, choked):
        ring, at = ringing[drum], since[drum]
        done = min(start - at, len(ring))  # what rang before this stroke is final
        if done > 0:
            out[at:at + done] += ring[:done]
        ring = ring[max(start - at, 0):]
        if len(ring):  # the hand on the skin stops its ringing within a few milliseconds
            ring = ring[:len(choke)] * choke[:len(ring)]
        sound = stroke(name, seed, dayan_hz)[: min(len(out), until + len(choke)) - start]  # past that, choked
        if len(sound) > len(ring):
            ring = np.concatenate([ring, np.zeros(len(sound) - len(ring))])
        ring[:len(sound)] += loudness * sound
        ringing[drum], since[drum] = ring, start
    for drum, ring in ringing.items():
        out[since[drum]:since[drum] + len(ring)] += ring[: len(out) - since[drum]]
    return [(start, name) for start, _, name, _ in strokes]


def _at_tempo(tempo: float) -> Callable[[Fraction], int]:
    """Where a position in matras falls, in samples, at a steady tempo."""
    seconds_per_matra = 60.0 / tempo
    return lambda at: round(float(at) * seconds_per_matra * SAMPLE_RATE)


@lru_cache(maxsize=8)
def _string(freq: float, seed: int) -> np.ndarray:
    """One tanpura string plucked: 16 harmonics ringing 4 s."""
    rng = np.random.default_rng([seed, round(freq)])
    t = _time(4.0)
    harmonics = np.arange(1, 17)
    # jawari: the upper harmonics swell in after the pluck instead of dying first
    swell = 1 - np.exp(-t[:, None] / (0.05 + 0.04 * harmonics))
    tone = (np.sin(2 * np.pi * freq * harmonics * t[:, None] + rng.uniform(0, 6.3, 16)) * swell / harmonics).sum(1)
    return tone * np.exp(-t / 2.5) / 4


def add_drone(out: np.ndarray, gain: float, seed: int, sa: float = DAYAN_HZ / 2) -> None:
    """Add a tanpura-like drone to `out`: Pa, Sa, Sa, low Sa plucked in turn, one a second."""
    strings = (sa * 0.75, sa, sa, sa / 2)
    for k, start in enumerate(range(0, len(out), SAMPLE_RATE)):
        tone = _string(strings[k % 4], seed)[: len(out) - start]
        out[start:start + len(tone)] += gain * tone


def check_composition(comp: Composition, tempo: float, *, theka: bool = False,
                      limits: RenderLimits | None = None) -> list[Matra]:
    """The composition's matras, once its length at `tempo` and its strokes (doubled by a `theka` underneath)
    are within `limits` (default: RenderLimits.from_env()); else a RenderLimitError. Nothing is allocated."""
    limits = current(limits)
    if not 0 < tempo <= 10_000:  # NaN fails too
        raise TunesmithError(f"tempo {tempo:g}: give a positive number of matras per minute")
    matras = comp.matras()
    what = f"the composition ({len(matras)} matras at {tempo:g} a minute)"
    check_seconds(len(matras) * Fraction(60) / Fraction(tempo), limits, what)
    strokes = sum(len(hit.strokes) for hit in hits(matras, TALAS[comp.tala]))
    check_events(strokes * (2 if theka else 1), limits, what, "strokes")
    return matras


def composition_audio(comp: Composition, tempo: float, *, theka: bool = False, drone: bool = False,
                      seed: int = 0, limits: RenderLimits | None = None) -> np.ndarray:
    """Float32 audio of a composition at `tempo` matras per minute, exactly matras x 60 / tempo seconds long.

    A composition beyond `limits` (default: RenderLimits.from_env()) is a RenderLimitError, before any audio is made.
    """
    from ..music.tabla.notation import theka as theka_of

    tala = TALAS[comp.tala]
    matras = check_composition(comp, tempo, theka=theka, limits=limits)
    seconds_per_matra = 60.0 / tempo
    out = np.zeros(round(len(matras) * seconds_per_matra * SAMPLE_RATE), dtype=np.float32)
    play_strokes(out, hits(matras, tala), _at_tempo(tempo), 1.0, seed)
    if theka:
        loop = theka_of(tala) * (len(matras) // tala.matras + 1)
        play_strokes(out, hits(loop[: len(matras)], tala), _at_tempo(tempo), THEKA_GAIN, seed + 1)
    if drone:
        add_drone(out, DRONE_GAIN * max(float(out.max(initial=1.0)), -float(out.min(initial=0.0))), seed)
    return finish_mix(out)


def composition_wav(comp: Composition, tempo: float, *, theka: bool = False, drone: bool = False,
                    seed: int = 0, limits: RenderLimits | None = None) -> bytes:
    """A 16-bit mono WAV of the composition (see composition_audio)."""
    # the float audio is freed once its 16-bit samples are made, before the file is
    return wav_file(pcm16(composition_audio(comp, tempo, theka=theka, drone=drone, seed=seed, limits=limits)))


def composition_midi(comp: Composition, tempo: float, limits: RenderLimits | None = None) -> bytes:
    """A Standard MIDI File of the composition on the percussion channel (the note map is in the module docstring).

    A composition beyond `limits` (default: RenderLimits.from_env()) is a RenderLimitError.
    """
    tala = TALAS[comp.tala]
    matras = check_composition(comp, tempo, limits=limits)
    if not 60_000_000 / 0xFFFFFF <= tempo:  # MIDI keeps a beat's length in 24 bits of microseconds
        raise TunesmithError(f"tempo {tempo:g}: a MIDI file plays at least {60_000_000 / 0xFFFFFF:.2f} matras "
                             "a minute")
    events = []
    for hit in hits(matras, tala):
        on = round(hit.start * TICKS_PER_MATRA)
        off = on + max(1, round(hit.length * TICKS_PER_MATRA) - 1)
        velocity = (80, 95, 110)[hit.accent]
        for name in hit.strokes:
            v = velocity - 15 if name in _LIGHT else velocity
            events.append((on, 1, mido.Message("note_on", channel=9, note=MIDI_NOTES[name], velocity=v)))
            events.append((off, 0, mido.Message("note_off", channel=9, note=MIDI_NOTES[name], velocity=0)))
    track = mido.MidiTrack([
        mido.MetaMessage("track_name", name=comp.title or f"{tala.name} composition", time=0),
        mido.MetaMessage("set_tempo", tempo=round(60_000_000 / tempo), time=0),
        mido.MetaMessage("time_signature", numerator=tala.matras, denominator=4, time=0),
    ])
    now = 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):  # note-offs before note-ons at a tick
        track.append(message.copy(time=tick - now))
        now = tick
    end = len(matras) * TICKS_PER_MATRA
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_MATRA, tracks=[track])
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()
