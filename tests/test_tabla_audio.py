"""The tabla synthesiser and MIDI export, judged on bundled compositions."""

from __future__ import annotations

import io
import wave

import mido
import numpy as np
import pytest

from tunesmith.corpus.tabla import load_bundled
from tunesmith.music.tabla import TALAS, hits, read_text
from tunesmith.render.tabla_audio import (MIDI_NOTES, SAMPLE_RATE, composition_audio, composition_midi,
                                          composition_wav, stroke)

HOP, WINDOW, LEAD = 64, 256, 1024


def onsets(audio: np.ndarray) -> np.ndarray:
    """Times (s) where the energy of the high-passed signal jumps by 6 dB within 4 hops: attacks."""
    x = np.diff(np.concatenate([np.zeros(LEAD), audio]), prepend=0.0)  # high-pass: attacks over ringing
    frames = np.lib.stride_tricks.sliding_window_view(x, WINDOW)[::HOP]
    energy = 10 * np.log10((frames ** 2).mean(1) + 1e-12)
    rise = energy[4:] - energy[:-4]
    loud = energy[4:] > energy.max() - 40  # a jump in a near-silent tail is not a stroke
    found: list[float] = []
    for k in np.flatnonzero((rise > 6) & loud):
        t = ((k + 4) * HOP - LEAD) / SAMPLE_RATE
        if not found or t - found[-1] > 0.03:
            found.append(t)
    return np.array(found)


def by_title(title):
    return next(c for c in load_bundled("tabla") if c.title == title)


@pytest.mark.parametrize("title, tempo", [("Kaida 2 in teentaal, palta 3", 90), ("Rela 1 in teentaal, theme", 100),
                                          ("Tihai 4 in jhaptaal, gaps of 1", 140), ("Rupak theka", 60)])
def test_an_onset_at_every_stroke_and_nowhere_else(title, tempo):
    comp = by_title(title)
    audio = composition_audio(comp, tempo)
    want = np.array([float(h.start) * 60 / tempo for h in hits(comp.matras(), TALAS[comp.tala])])
    found = onsets(audio)
    missed = [t for t in want if np.abs(found - t).min() > 0.015]
    extra = [t for t in found if np.abs(want - t).min() > 0.015]
    assert missed == [] and extra == [], (missed, extra)


@pytest.mark.parametrize("tempo", [45, 90, 173.5])
def test_length_is_matras_times_sixty_over_tempo_and_it_is_not_silent(tempo):
    comp = by_title("Teentaal theka")    # 16 matras and the landing on sam
    data = composition_wav(comp, tempo, drone=True, theka=True)
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SAMPLE_RATE)
        frames = wav.getnframes()
        samples = np.frombuffer(wav.readframes(frames), dtype="<i2").astype(float) / 32767
    assert frames == round(17 * 60 / tempo * SAMPLE_RATE)
    rms = np.sqrt((samples ** 2).mean())
    assert rms > 0.05 and np.abs(samples).max() < 0.95


def test_the_bayan_glides_and_the_dayan_rings_or_is_damped():
    ge = stroke("Ge")

    def pitch(part):  # from zero crossings
        return np.count_nonzero(np.diff(np.signbit(part))) / 2 / (len(part) / SAMPLE_RATE)

    early, late = pitch(ge[: int(0.03 * SAMPLE_RATE)]), pitch(ge[int(0.3 * SAMPLE_RATE): int(0.5 * SAMPLE_RATE)])
    assert early > 1.1 * late and 80 < late < 130

    def energy_after(sound, seconds):
        return float((sound[int(seconds * SAMPLE_RATE):] ** 2).sum() / (sound ** 2).sum())

    for ringing in ("Na", "Tin", "Tun"):
        for damped in ("Ti", "Te", "Ra", "Ka"):
            assert energy_after(stroke(damped), 0.1) < 0.01 < energy_after(stroke(ringing), 0.1)


def test_dha_sounds_both_drums():
    [reading] = read_text("tala: dadra\nDha - - | - - - ||\n")
    [reading_na] = read_text("tala: dadra\nNa - - | - - - ||\n")
    dha, na = composition_audio(reading.composition, 60), composition_audio(reading_na.composition, 60)
    spectrum = lambda a: np.abs(np.fft.rfft(a[: SAMPLE_RATE]))  # noqa: E731
    freqs = np.fft.rfftfreq(SAMPLE_RATE, 1 / SAMPLE_RATE)
    low = (freqs > 80) & (freqs < 140)
    assert spectrum(dha)[low].sum() > 5 * spectrum(na)[low].sum()


def test_midi_has_each_stroke_on_the_percussion_channel_at_its_time():
    comp = by_title("Kaida 1 in jhaptaal, theme")
    data = composition_midi(comp, 120)
    midi = mido.MidiFile(file=io.BytesIO(data))
    now, ons = 0, []
    for message in midi.tracks[0]:
        now += message.time
        if message.type == "set_tempo":
            assert message.tempo == 500_000
        if message.type == "time_signature":
            assert (message.numerator, message.denominator) == (10, 4)
        if message.type == "note_on":
            assert message.channel == 9
            ons.append((now, message.note, message.velocity))
    want = [(round(h.start * 480), MIDI_NOTES[s]) for h in hits(comp.matras(), TALAS[comp.tala]) for s in h.strokes]
    assert sorted((t, n) for t, n, _ in ons) == sorted(want)
    assert ons[0][2] == 110 and (0, 64, 110) in ons      # Dhi on sam: Ti + Ge, accented
    assert abs(midi.length - len(comp.matras()) * 0.5) < 1e-6
