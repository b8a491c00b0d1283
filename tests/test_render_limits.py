"""Render limits: a piece too long, of too many notes or too large is refused, by name, before anything is
allocated or written: the library, `tunesmith render`, `generate --render` in every mode, and the web app."""

from __future__ import annotations

import io
import json
import tracemalloc
import wave
from dataclasses import replace
from fractions import Fraction

import mido
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fuzz_tunes import fuzz_input, run_cli
from tunesmith.cli import app
from tunesmith.corpus.bundled import load_bundled
from tunesmith.corpus.midi_bundled import folk_piece
from tunesmith.corpus.tabla import load_bundled as load_tabla
from tunesmith.errors import TunesmithError
from tunesmith.music.abc.to_events import tune_parts
from tunesmith.render import midi_to_wav, render_midi, render_wav
from tunesmith.render.files import render_one
from tunesmith.render.limits import ENV, RenderLimitError, RenderLimits, seconds_text
from tunesmith.render.pianoroll import pianoroll_png
from tunesmith.render.tabla_audio import composition_midi, composition_wav
from tunesmith.render.tune import time_grid
from tunesmith.web.app import create_app

# The issue's tunes: 16 whole notes at 2 quarter notes a minute; a note of 400 nines (the lexer reads 12);
# a rest of 222222 eighths; a note of 19 twos.
ISSUE = "X:1\nT:long\nM:4/4\nL:1/1\nQ:1/4=2\nK:C\nC16|\n"
NINES = "X:1\nT:nines\nK:C\nC" + "9" * 400 + "\n"
REST = "X:1\nT:rest\nL:1/8\nK:C\nz222222 C|\n"
TWOS = "X:1\nT:twos\nK:C\nc2222222222222222222\n"
SHORT = "X:2\nT:short\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nCDEF|GABc|\n"
SLOW = "X:1\nT:slow\nM:4/4\nL:1/1\nQ:1/4=4\nK:C\nC16|\n"  # 960 s: within 20 minutes, but one note of 960 s
MB = 1 << 20


@pytest.fixture(scope="module")
def tunes() -> list[str]:
    return [t.text for t in load_bundled("folk")[::10]]


def seconds_tune(seconds: int, title: str = "timed") -> str:
    """A tune of `seconds` quarter notes at 60 a minute: it lasts exactly that long."""
    return f"X:1\nT:{title}\nL:1/4\nQ:1/4=60\nK:C\n" + " ".join("CDEFGAB"[i % 7] for i in range(seconds)) + "|\n"


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


@pytest.mark.parametrize("abc, claimed", [(ISSUE, "1920 s"), (NINES, "2.5e+11 s"), (REST, "55556 s (15.4 h)"),
                                          (TWOS, "5.6e+10 s")])
def test_the_issues_tunes_are_refused_by_name_before_any_audio_is_made(abc, claimed):
    for render in (render_midi, render_wav):
        tracemalloc.start()
        try:
            with pytest.raises(RenderLimitError) as refused:
                render(abc)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        message = str(refused.value)
        assert refused.value.limit == "max_seconds" and f"lasts {claimed};" in message
        assert "at most 1200 s" in message and "TUNESMITH_MAX_SECONDS" in message
        assert peak < 2 * MB  # measured from the note events: no audio, no MIDI messages


def test_each_limit_holds_at_its_edge_and_names_itself():
    limits = RenderLimits(max_seconds=10, max_note_seconds=3, max_events=10)
    assert wav_seconds(render_wav(seconds_tune(10), limits=limits)) == pytest.approx(10, abs=1e-3)
    cases = {
        "max_seconds": (seconds_tune(11), RenderLimits(max_seconds=10), "lasts 11 s"),
        "max_events": (seconds_tune(11), RenderLimits(max_events=10), "has 11 notes"),
        "max_note_seconds": ("X:1\nL:1/4\nQ:1/4=60\nK:C\nC D4|\n", limits, "a note at 1 s lasts 4 s"),
        "max_chars": (seconds_tune(10) + "%" * 100, RenderLimits(max_chars=100), "characters"),
    }
    for name, (abc, case_limits, words) in cases.items():
        for render in (render_midi, render_wav):
            with pytest.raises(RenderLimitError, match=words) as refused:
                render(abc, limits=case_limits)
            assert refused.value.limit == name and ENV[name] in str(refused.value)
    render_midi("X:1\nL:1/4\nQ:1/4=60\nK:C\nC D3|\n", limits=limits)  # 3 s: exactly the longest note allowed
    with pytest.raises(RenderLimitError, match="a rest at 1 s lasts 4 s"):
        render_midi("X:1\nL:1/4\nQ:1/4=60\nK:C\nC z4 D|\n", limits=limits)


def test_audio_of_many_notes_at_once_is_refused_and_its_midi_is_not():
    """The synthesiser's time grows with the seconds the notes sound added up, not with the piece's length."""
    chords = "X:1\nL:1/64\nQ:1/4=60\nK:C\n" + " ".join(f"[CEGc]{64 + k}" for k in range(10)) + "|\n"
    limits = RenderLimits(max_voice_seconds=150)  # 4 notes in 10 chords of 4 to 4.6 s: 171 s of notes, 42.8 s long
    render_midi(chords, limits=limits)
    with pytest.raises(RenderLimitError, match=r"sound for 17\d\.\d s added up") as refused:
        render_wav(chords, limits=limits)
    assert refused.value.limit == "max_voice_seconds" and "TUNESMITH_MAX_VOICE_SECONDS" in str(refused.value)
    wav = render_wav(chords, limits=RenderLimits(max_voice_seconds=180))
    assert wav_seconds(wav) == pytest.approx(685 / 16, abs=1e-3)


def test_chord_symbols_count_as_notes_only_when_played():
    tune = 'X:1\nL:1/4\nQ:1/4=60\nK:C\n"C"CDEF|"G"GABc|\n'  # 8 melody notes and two chords
    parts = tune_parts(tune)
    limits = RenderLimits(max_events=10)
    render_midi(tune, limits=limits)
    with pytest.raises(RenderLimitError, match=f"has {len(parts.melody) + len(parts.accompaniment)} notes"):
        render_midi(tune, chords=True, limits=limits)


def test_limits_come_from_the_environment_and_a_bad_value_is_named(monkeypatch):
    with pytest.raises(RenderLimitError, match="a note at 0 s lasts 960 s"):
        render_midi(SLOW)
    monkeypatch.setenv("TUNESMITH_MAX_NOTE_SECONDS", "1e3")
    assert mido.MidiFile(file=io.BytesIO(render_midi(SLOW))).length == pytest.approx(960)
    monkeypatch.setenv("TUNESMITH_MAX_SECONDS", "900")
    with pytest.raises(RenderLimitError, match="960 s"):
        render_midi(SLOW)
    assert RenderLimits.from_env(max_seconds=None).max_seconds == 900  # an option not given changes nothing
    assert RenderLimits.from_env(max_seconds=5).max_seconds == 5
    for value in ("lots", "0", "-3", "nan", "inf"):
        monkeypatch.setenv("TUNESMITH_MAX_EVENTS", value)
        with pytest.raises(TunesmithError, match="TUNESMITH_MAX_EVENTS"):
            render_midi(SHORT)


def test_a_tempo_midi_cannot_keep_is_an_error_after_the_length_is_measured():
    slow = "X:1\nL:1/4\nQ:1/4=2\nK:C\nCD|\n"  # 60 s: a WAV can play it, a MIDI file cannot (3.58 at the slowest)
    assert wav_seconds(render_wav(slow)) == pytest.approx(60, abs=1e-3)
    with pytest.raises(TunesmithError, match="a MIDI file plays at least 3.58"):
        render_midi(slow)
    with pytest.raises(RenderLimitError, match="1920 s"):  # the issue's tune: its length is what refuses it
        render_midi(ISSUE)


def test_many_different_denominators_are_refused_before_the_exact_sums(tunes):
    """Exact time sums cost by the size of their denominators: 11,000 notes of distinct odd lengths (99 KB)
    took minutes to render. The time grid is worked out from the tokens and refuses them at once."""
    primes = [p for p in range(999_000, 1_000_000) if all(p % d for d in range(2, 1000))][:60]
    tune = "X:1\nT:odd\nL:1/8\nK:C\n" + " ".join(f"c/{p}" for p in primes) + "|\n"
    with pytest.raises(RenderLimitError, match="TUNESMITH_MAX_GRID_DIGITS") as refused:
        render_midi(tune)
    assert refused.value.limit == "max_grid_digits"
    render_midi(tune, limits=RenderLimits(max_grid_digits=400))  # 60 such notes are quick to sum
    assert max(time_grid(t, 10**100) for t in tunes) < 10**6   # real tunes need few digits


@settings(max_examples=80, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False), family=st.sampled_from([0, 2, 3, 4, 5]))
def test_the_time_grid_holds_every_time_of_the_tune(tunes, rng, family):
    text = fuzz_input(rng, tunes, family).decode()
    grid = time_grid(text, 10**100)
    assume(grid <= 10**100)
    parts = tune_parts(text)
    for e in parts.melody + parts.accompaniment:
        assert grid % e.start.denominator == 0 and grid % e.duration.denominator == 0, (grid, e)
    assert grid % parts.end.denominator == 0


def test_durations_of_any_size_are_said_without_overflow():
    assert seconds_text(Fraction(10) ** 400) == "about 10^400 s"
    assert seconds_text(1200) == "1200 s" and seconds_text(Fraction(1, 3)) == "0.3333 s"


def test_sheet_music_is_refused_before_the_tune_is_sent_to_verovio(monkeypatch):
    def never(abc, **_):
        raise AssertionError("verovio was asked")

    monkeypatch.setattr("tunesmith.render.files.render_svg", never)
    with pytest.raises(RenderLimitError, match="TUNESMITH_MAX_SVG_CHARS") as refused:
        render_one(seconds_tune(40), "svg", limits=RenderLimits(max_svg_chars=100))
    assert refused.value.limit == "max_svg_chars"


def midi_file(messages: list[mido.Message], ticks_per_beat: int = 480, tempo: int = 500_000) -> bytes:
    song = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    song.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo), *messages]))
    buffer = io.BytesIO()
    song.save(file=buffer)
    return buffer.getvalue()


def test_a_midi_file_may_claim_any_length_and_is_measured_before_it_is_played(tmp_path):
    note = [mido.Message("note_on", note=60, velocity=90), mido.Message("note_off", note=60, time=0x0FFFFFFF)]
    huge = midi_file(note, ticks_per_beat=1, tempo=0xFFFFFF)  # 50 bytes that claim 142 years
    tracemalloc.start()
    try:
        with pytest.raises(RenderLimitError, match=r"the MIDI file lasts 4\.5e\+09 s"):
            midi_to_wav(huge)
        assert tracemalloc.get_traced_memory()[1] < 2 * MB
    finally:
        tracemalloc.stop()
    with pytest.raises(RenderLimitError, match="a note at 0 s lasts 130 s"):  # a long note in a short enough file
        midi_to_wav(midi_file([note[0], note[1].copy(time=130 * 960)]))
    many = [m for k in range(6) for m in (mido.Message("note_on", note=60 + k, velocity=90),
                                          mido.Message("note_off", note=60 + k, time=10))]
    with pytest.raises(RenderLimitError, match="has 6 notes"):
        midi_to_wav(midi_file(many), limits=RenderLimits(max_events=5))
    assert wav_seconds(midi_to_wav(midi_file(many), limits=RenderLimits(max_events=6))) > 0
    with pytest.raises(RenderLimitError, match="TUNESMITH_MAX_MIDI_BYTES"):
        midi_to_wav(midi_file(many), limits=RenderLimits(max_midi_bytes=40))
    zero = bytearray(midi_file(note))
    zero[12:14] = b"\0\0"  # the header's division: 0 ticks a beat
    with pytest.raises(TunesmithError, match="division"):
        midi_to_wav(bytes(zero))
    # The SoundFont path is measured first too: the missing SoundFont is never looked for.
    with pytest.raises(RenderLimitError, match="1920 s"):
        render_wav(ISSUE, soundfont=tmp_path / "missing.sf2")


def test_wav_memory_is_about_six_bytes_a_sample():
    """float32 mix (4) + 16-bit samples (2), the float mix freed before the file (2) is made; float64 would be 8+."""
    samples = 300 * 44100
    tracemalloc.start()
    try:
        data = render_wav(seconds_tune(300))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) == 44 + 2 * samples
    assert peak < 7 * samples, peak / samples


def test_tabla_audio_and_midi_are_measured_first():
    theka = next(c for c in load_tabla("tabla") if c.title == "Teentaal theka")  # 17 matras
    limits = RenderLimits(max_seconds=60)
    assert wav_seconds(composition_wav(theka, 17, limits=limits)) == pytest.approx(60, abs=1e-3)
    for render in (composition_wav, composition_midi):
        with pytest.raises(RenderLimitError, match=r"17 matras at 16 a minute\) lasts 63\.75 s"):
            render(theka, 16, limits=limits)
    with pytest.raises(RenderLimitError, match="strokes"):
        composition_wav(theka, 90, theka=True, limits=RenderLimits(max_events=30))
    with pytest.raises(TunesmithError, match="MIDI file plays at least"):  # not mido's ValueError
        composition_midi(theka, 2)
    with pytest.raises(TunesmithError, match="tempo"):
        composition_wav(theka, float("nan"))


def test_the_piano_roll_is_refused_for_too_many_notes():
    piece = folk_piece(load_bundled("folk")[0])
    with pytest.raises(RenderLimitError, match="TUNESMITH_MAX_EVENTS"):
        pianoroll_png(piece, limits=RenderLimits(max_events=len(piece.notes) - 1))


# -- the command line -------------------------------------------------------------------------------------------

def test_render_refuses_the_whole_batch_by_name_and_writes_nothing(tmp_path):
    (tmp_path / "good.abc").write_text(SHORT)
    (tmp_path / "set.abc").write_text(SHORT + "\n" + ISSUE + "\n" + NINES)
    out = tmp_path / "out"
    run = run_cli(["render", "good.abc", "set.abc", "--to", "midi,wav,svg", "-o", str(out)], str(tmp_path), 60)
    assert run.rc == 2 and "Traceback" not in run.stderr
    lines = run.stderr.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: 2 of 4 tunes exceed a render limit; nothing was written")
    assert "set.abc: X:1 (long): midi, wav: the tune lasts 1920 s" in lines[0] and "X:1 (nines)" in lines[0]
    assert "X:2" not in lines[0] and not out.exists()
    # A limit raised lets a tune through.
    (tmp_path / "slow.abc").write_text(SHORT + "\n" + SLOW)
    run = run_cli(["render", "slow.abc", "--to", "midi", "-o", str(out)], str(tmp_path), 60)
    assert run.rc == 2 and "X:1 (slow): midi: a note at 0 s lasts 960 s" in run.stderr and not out.exists()
    run = run_cli(["render", "slow.abc", "--to", "midi", "-o", str(out)], str(tmp_path), 60,
                  env={"TUNESMITH_MAX_NOTE_SECONDS": "1000"})
    assert run.rc == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["slow-1-slow.mid", "slow-2-short.mid"]
    run = run_cli(["render", "slow.abc", "--to", "midi", "-o", str(out), "--max-seconds", "900"], str(tmp_path),
                  60, env={"TUNESMITH_MAX_NOTE_SECONDS": "1000"})
    assert run.rc == 2 and "(TUNESMITH_MAX_SECONDS or --max-seconds)" in run.stderr


@pytest.mark.parametrize("mode, output, render, extra", [
    ("abc", "new.abc", "midi,wav", ["--meter", "4/4"]),
    ("midi", "new.mid", "wav,pianoroll", ["--bars", "4"]),
    ("tabla", "new.txt", "wav,midi", ["--cycles", "1"]),
])
def test_generate_render_beyond_a_limit_writes_nothing_in_every_mode(tmp_path, monkeypatch, mode, output, render,
                                                                     extra):
    monkeypatch.setenv("TUNESMITH_MAX_SECONDS", "0.5")  # any piece is longer
    result = CliRunner().invoke(app, ["generate", "--mode", mode, "-n", "2", "--seed", "3", "-o",
                                      str(tmp_path / output), "--render", render, *extra])
    assert isinstance(result.exception, RenderLimitError), result.output
    assert "TUNESMITH_MAX_SECONDS" in str(result.exception) and "nothing was written" in str(result.exception)
    assert list(tmp_path.iterdir()) == []


# -- the web app --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def web(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("weblimits")
    application = create_app(db=tmp / "tunes.db", runs_dir=tmp / "no-runs")
    return TestClient(application), application.state.composer.store


def test_web_downloads_beyond_a_limit_are_413_json_and_nothing_is_kept(web):
    client, store = web
    long_id = client.post("/api/tunes", json={"abc": ISSUE}).json()["id"]
    for kind in ("wav", "mid"):
        r = client.get(f"/api/tunes/{long_id}.{kind}")
        assert r.status_code == 413 and "1920 s" in r.json()["detail"] and "TUNESMITH_MAX_SECONDS" in r.json()["detail"]
        assert store.render(long_id, kind) is None
    short_id = client.post("/api/tunes", json={"abc": SHORT}).json()["id"]
    r = client.get(f"/api/tunes/{short_id}.wav")
    assert r.status_code == 200 and wav_seconds(r.content) == pytest.approx(4, abs=1e-3)


def test_web_tabla_downloads_beyond_a_limit_are_413_json(web, monkeypatch):
    client, store = web
    theka = next(c for c in load_tabla("tabla") if c.title == "Teentaal theka")
    stored = store.add_composition(replace(theka, tempo=10.0).file_text(), title="slow", tala=theka.tala,
                                   params={"seed": 1})
    monkeypatch.setenv("TUNESMITH_MAX_SECONDS", "60")  # 17 matras at 10 a minute: 102 s
    for kind in ("wav", "mid"):
        r = client.get(f"/api/tabla/{stored.id}.{kind}")
        assert r.status_code == 413, r.text
        assert "lasts 102 s" in json.loads(r.text)["detail"]
        assert store.composition_render(stored.id, kind) is None
    monkeypatch.setenv("TUNESMITH_MAX_SECONDS", "120")
    assert client.get(f"/api/tabla/{stored.id}.wav").status_code == 200
