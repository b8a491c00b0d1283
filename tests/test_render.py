"""Rendering: MIDI read back with mido, WAV measured with numpy, SVG from verovio in a worker, the render command."""

from __future__ import annotations

import io
import re
import struct
import subprocess
import sys
import wave
from fractions import Fraction as F

import mido
import numpy as np
import pytest
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.corpus.bundled import load_bundled
from tunesmith.errors import TunesmithError
from tunesmith.music.abc.lexer import tokens
from tunesmith.music.abc.to_events import tune_events, tune_parts
from tunesmith.music.chords import parse_chord
from tunesmith.render import (default_qpm, events_to_midi, events_to_wav, midi_to_wav, render_midi, render_svg,
                              render_wav)
from tunesmith.render.files import render_files

JIG = ('X:7\nT:The Test Jig\nM:6/8\nL:1/8\nQ:3/8=120\nR:jig\nK:G\n'
       'D|:"G"GAB "D7"A2D|"Em"E2F "C/E"G3|1 "D"d6:|2 "G"g3 z3|]\n')
CRASHES_VEROVIO = "X:1\nT:Empty key\nK:\nABc|\n"  # verovio 6.4.1 segfaults on an empty K:


def read_midi(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data))


def notes_of(track: mido.MidiTrack) -> list[tuple[int, int, int, int]]:
    """(start tick, end tick, pitch, velocity) of every note in a track."""
    now, open_, out = 0, {}, []
    for msg in track:
        now += msg.time
        if msg.type == "note_on" and msg.velocity:
            open_[msg.note] = (now, msg.velocity)
        elif msg.type in ("note_on", "note_off") and msg.note in open_:
            start, velocity = open_.pop(msg.note)
            out.append((start, now, msg.note, velocity))
    return sorted(out)


def read_wav(data: bytes) -> tuple[wave.Wave_read, np.ndarray]:
    reader = wave.open(io.BytesIO(data))
    return reader, np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.float64)


def peak_frequency(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.argmax(spectrum) * 44100 / len(samples)


@pytest.fixture(scope="module")
def reel():
    """A real tune: the first reel of the folk corpus that plays exactly 32 bars."""
    return next(t for t in load_bundled("folk") if t.rhythm == "reel" and tune_parts(t.text).end == 32)


def test_chord_symbols_and_annotations():
    assert parse_chord('"D/F#"').pitches() == [42, 50, 54, 57]      # F# in the bass, D major above
    assert parse_chord("G7").intervals == (0, 4, 7, 10) and parse_chord("Bbm").root == 10
    assert [parse_chord(t) for t in ('"^Segno"', '"4"', '"D.C."', '"_mf"', '"tr"', '"Hello"')] == [None] * 6


def test_chords_last_to_the_next_symbol_or_the_end_of_the_section():
    parts = tune_parts(JIG)
    chords = sorted({(e.start, e.duration) for e in parts.accompaniment})
    # G after the pickup; D7, Em, C/E; D held to the repeat; the repeat replays them; G to the end, rest included.
    assert chords[:5] == [(F(1, 8), F(3, 8)), (F(1, 2), F(3, 8)), (F(7, 8), F(3, 8)), (F(5, 4), F(3, 8)),
                          (F(13, 8), F(3, 4))]
    assert chords[-1] == (F(31, 8), F(3, 4)) and parts.end == F(37, 8)
    assert parts.pickup == F(5, 8) and parts.meter == "6/8"
    assert parts.melody == tune_events(JIG)


def test_tempo_from_q_rhythm_or_meter():
    assert default_qpm(JIG) == 180                       # Q:3/8=120 is 180 quarter notes a minute
    assert default_qpm("X:1\nM:4/4\nL:1/8\nQ:1/4=96\nK:D\nA") == 96
    assert default_qpm("X:1\nT:Miss Monaghan's Reel\nM:C|\nK:D\nA") == default_qpm("reel") == 190
    assert default_qpm("waltz") == 160 and default_qpm("X:1\nM:9/8\nK:D\nA") == default_qpm("slip jig")
    with pytest.raises(TunesmithError, match="Q:fast"):
        default_qpm("X:1\nQ:fast\nK:D\nA")


def test_midi_reads_back_with_notes_tempo_program_accents_and_chords():
    song = read_midi(render_midi(JIG, program=40, chords=True))
    meta = {m.type: m for m in song.tracks[0]}
    assert mido.tempo2bpm(meta["set_tempo"].tempo) == pytest.approx(180, abs=0.01)
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (6, 8)
    melody, chords = song.tracks[1], song.tracks[2]
    assert [m.program for m in melody if m.type == "program_change"] == [40]
    played = notes_of(melody)
    expected = [(round(e.start * 1920), round((e.start + e.duration) * 1920), e.pitch) for e in tune_events(JIG)]
    assert [n[:3] for n in played] == sorted(expected)
    # The pickup D is not a downbeat; the G after it is; A2 on the second dotted beat gets a lighter accent.
    assert [n[3] for n in played[:5]] == [80, 96, 80, 80, 88]
    assert notes_of(chords)[:4] == [(240, 960, p, 60) for p in (43, 55, 59, 62)]  # G: bass G2, then G B D
    assert song.length == pytest.approx(float(F(37, 8)) * 4 * 60 / 180, abs=1e-3)  # the final rest counts
    assert len(read_midi(render_midi(JIG)).tracks) == 2  # no chord track unless asked


def test_bad_input_is_a_clear_error():
    for call in (lambda: render_midi("just some words"), lambda: render_wav("X:1\nK:C\nz4|]\n"),
                 lambda: render_midi(JIG, program=200), lambda: render_wav(JIG, qpm=-5)):
        with pytest.raises(TunesmithError):
            call()


def test_wav_is_44k_16bit_as_long_as_the_midi_loud_and_never_clipped(reel):
    for chords, program in ((False, 0), (True, 40)):
        data = render_wav(reel.text, chords=chords, program=program)
        reader, samples = read_wav(data)
        assert (reader.getframerate(), reader.getsampwidth(), reader.getnchannels()) == (44100, 2, 1)
        midi_seconds = read_midi(render_midi(reel.text, chords=chords, program=program)).length
        assert abs(len(samples) - midi_seconds * 44100) <= 1
        assert np.abs(samples).max() < 32767 and np.abs(samples).max() > 0.8 * 32767
        seconds = samples[: len(samples) // 44100 * 44100].reshape(-1, 44100)
        assert (np.sqrt((seconds ** 2).mean(axis=1)) > 300).all()  # music in every second, no gaps


def test_wav_plays_the_written_pitches_and_chords_add_a_bass():
    _, a4 = read_wav(render_wav("X:1\nM:4/4\nL:1/4\nK:C\nA4|]\n"))
    _, e5 = read_wav(render_wav("X:1\nM:4/4\nL:1/4\nK:C\ne4|]\n"))
    assert peak_frequency(a4) == pytest.approx(440, abs=3) and peak_frequency(e5) == pytest.approx(659.3, abs=3)

    def bass_share(samples):
        spectrum = np.abs(np.fft.rfft(samples)) ** 2
        return spectrum[: len(samples) * 200 // 44100].sum() / spectrum.sum()  # energy below 200 Hz

    assert bass_share(read_wav(render_wav(JIG, chords=True))[1]) > 5 * bass_share(read_wav(render_wav(JIG))[1])


def test_events_and_any_midi_file_to_wav_match_their_midi_length():
    melody = [tune_events(JIG)[i] for i in range(6)]
    data = events_to_wav(melody, qpm=137, timbre="bowed")
    assert abs(len(read_wav(data)[1]) - read_midi(events_to_midi(melody, qpm=137)).length * 44100) <= 1
    # A MIDI file from elsewhere: two channels, a drum, and a tempo change half way.
    song = mido.MidiFile(ticks_per_beat=96)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)])
    for i, (channel, note) in enumerate([(0, 60), (3, 67), (9, 38), (0, 72)]):
        if i == 2:
            track.append(mido.MetaMessage("set_tempo", tempo=250000))
        track += [mido.Message("note_on", channel=channel, note=note, velocity=90, time=0),
                  mido.Message("note_off", channel=channel, note=note, time=96)]
    song.tracks.append(track)
    buffer = io.BytesIO()
    song.save(file=buffer)
    _, samples = read_wav(midi_to_wav(buffer.getvalue()))
    assert len(samples) == round((0.5 + 0.5 + 0.25 + 0.25) * 44100)
    assert np.abs(samples[-2205:-441]).max() > 1000  # the last note, after the tempo change, sounds
    with pytest.raises(TunesmithError, match="not a readable MIDI file"):
        midi_to_wav(b"MThd nonsense")


def _chunk(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)


def sine_soundfont() -> bytes:
    """A one-instrument SoundFont 2: a looped pure sine at A 440 (44 kHz, 100 samples a cycle)."""
    wave_ = np.round(20000 * np.sin(2 * np.pi * np.arange(4400) / 100)).astype("<i2")
    name = lambda text: text.encode().ljust(20, b"\0")  # noqa: E731
    listed = lambda kind, *chunks: _chunk(b"LIST", kind + b"".join(chunks))  # noqa: E731
    pdta = listed(
        b"pdta",
        _chunk(b"phdr", name("sine") + struct.pack("<HHHIII", 0, 0, 0, 0, 0, 0)
               + name("EOP") + struct.pack("<HHHIII", 0, 0, 1, 0, 0, 0)),
        _chunk(b"pbag", struct.pack("<HHHH", 0, 0, 1, 0)), _chunk(b"pmod", bytes(10)),
        _chunk(b"pgen", struct.pack("<Hh", 41, 0) + bytes(4)),                     # preset -> instrument 0
        _chunk(b"inst", name("sine") + struct.pack("<H", 0) + name("EOI") + struct.pack("<H", 1)),
        _chunk(b"ibag", struct.pack("<HHHH", 0, 0, 2, 0)), _chunk(b"imod", bytes(10)),
        _chunk(b"igen", struct.pack("<HHHH", 54, 1, 53, 0) + bytes(4)),            # looped, sample 0
        _chunk(b"shdr", name("sine") + struct.pack("<IIIIIBbHH", 0, 4400, 0, 4400, 44000, 69, 0, 0, 1)
               + name("EOS") + bytes(26)))
    body = b"sfbk" + listed(b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", b"EMU8000\0")) \
        + listed(b"sdta", _chunk(b"smpl", wave_.tobytes() + bytes(92))) + pdta
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_soundfont_plays_its_own_sound_and_a_bad_one_is_named(tmp_path):
    pytest.importorskip("tinysoundfont", reason="installed by make (pip --no-deps tinysoundfont)")
    sf2 = tmp_path / "sine.sf2"
    sf2.write_bytes(sine_soundfont())
    tune = "X:1\nM:4/4\nL:1/4\nK:C\nA4|e4|]\n"
    _, samples = read_wav(render_wav(tune, soundfont=sf2))
    assert len(samples) == round(read_midi(render_midi(tune)).length * 44100)
    first = samples[2000: len(samples) // 2 - 2000]
    spectrum = np.abs(np.fft.rfft(first))
    assert peak_frequency(first) == pytest.approx(440, abs=3)
    assert spectrum[2 * np.argmax(spectrum)] < 0.01 * spectrum.max()  # a pure sine: the SoundFont, not ours
    assert peak_frequency(samples[len(samples) // 2 + 2000: -2000]) == pytest.approx(659.3, abs=3)
    (tmp_path / "bad.sf2").write_bytes(b"RIFF nonsense")
    for path in (tmp_path / "bad.sf2", tmp_path / "missing.sf2"):
        with pytest.raises(TunesmithError, match=re.escape(str(path))):
            render_wav(tune, soundfont=path)


def test_svg_of_a_real_tune_has_a_note_head_for_every_written_note(reel):
    svg = render_svg(reel.text)
    assert svg.lstrip().startswith("<svg") and reel.title in svg
    written = sum(t.kind == "note" for t in tokens(reel.body))
    assert len(re.findall(r'class="note"', svg)) == written


def test_pages_of_a_very_long_tune_are_stacked_into_one_svg(reel):
    from tunesmith.render.sheet_worker import stack

    pages = [render_svg(reel.text), render_svg(JIG)]
    heights = [float(re.search(r'viewBox="0 0 [\d.]+ ([\d.]+)"', page).group(1)) for page in pages]
    both = stack(pages)
    assert re.match(r'<svg viewBox="0 0 840 ([\d.]+)"', both).group(1) == f"{sum(heights):g}"
    assert both.count('class="note"') == sum(page.count('class="note"') for page in pages)


def test_a_tune_that_crashes_verovio_is_an_error_and_the_next_one_renders(reel):
    with pytest.raises(TunesmithError, match="verovio crashed"):
        render_svg(CRASHES_VEROVIO)
    with pytest.raises(TunesmithError, match="not an ABC tune"):
        render_svg("garbage, no tune at all")
    with pytest.raises(TunesmithError, match="longer than"):
        render_svg(reel.text, timeout=0.001)
    assert "<svg" in render_svg(reel.text)  # a fresh worker took over


def test_stray_characters_and_an_unclosed_chord_symbol_do_not_stop_the_score():
    # Both abort verovio; the checker reports them, the score shows the notes around them.
    typing = 'X:1\nT:Being typed\nM:4/4\nL:1/8\nK:D\nABcd !efga[|:fedc|"G'
    assert render_svg(typing).count('class="note"') == 12
    duke = next(t for t in load_bundled("folk") if t.title == "Duke of Gordon's Birth Day.")  # old `!` line breaks
    assert render_svg(duke.text).count('class="note"') == sum(t.kind == "note" for t in tokens(duke.body))


def test_render_command_writes_each_kind_per_tune(tmp_path):
    source = tmp_path / "set.abc"
    source.write_text(JIG + "\n" + JIG.replace("X:7", "X:8").replace("The Test Jig", "Second: Jig!"))
    result = CliRunner().invoke(app, ["render", str(source), "--to", "midi,wav,svg", "-o", str(tmp_path / "out"),
                                      "--chords", "--program", "73"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [f"set-{n}.{ext}" for n in ("7-the-test-jig", "8-second-jig") for ext in ("mid", "svg", "wav")]
    song = read_midi((tmp_path / "out" / "set-7-the-test-jig.mid").read_bytes())
    assert len(song.tracks) == 3 and [m.program for m in song.tracks[1] if m.type == "program_change"] == [73]


def test_render_command_exit_codes(tmp_path):
    mixed = tmp_path / "mixed.abc"
    mixed.write_text(JIG + "\n" + CRASHES_VEROVIO)
    result = CliRunner().invoke(app, ["render", str(mixed), "--to", "svg", "-o", str(tmp_path)])
    assert result.exit_code == 1 and "X:1 (Empty key): svg" in result.output
    assert (tmp_path / "mixed-7-the-test-jig.svg").exists() and not list(tmp_path.glob("mixed-1-*"))
    missing = tmp_path / "missing.abc"
    run = subprocess.run([sys.executable, "-m", "tunesmith.cli", "render", str(missing), "-o", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and str(missing) in run.stderr and "Traceback" not in run.stderr
    with pytest.raises(TunesmithError, match="'mp3' is not a kind"):
        render_files([JIG], "midi,mp3", tmp_path / "x.abc")
