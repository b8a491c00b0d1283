"""The MIDI mode end to end: bad files, corpora, training, constrained generation, outputs read back."""

from __future__ import annotations

import io
import os
import sys
from collections import deque
from dataclasses import replace
from pathlib import Path

import mido
import numpy as np
import pytest

from tunesmith.codecs.midi_events import MidiEventCodec
from tunesmith.corpus.midi_bundled import load_bach
from tunesmith.music.midi import STEPS_PER_BEAT, midi_bytes, piece_from_midi, piece_from_text, text_problem
from test_midi_codec import mido_notes, simple_midi

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "midi"
os.environ.setdefault("OMP_NUM_THREADS", "1")


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The real entry point in this process: (exit code, stdout, stderr)."""
    from tunesmith.cli import main

    monkeypatch.setattr(sys, "argv", ["tunesmith", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Each kind of bad input, and words its error must contain."""
    files = {
        "text": ("notes.mid", b"X:1\nK:D\nABC|\n", "not a MIDI file"),
        "empty": ("empty.mid", b"", "empty"),
        "no notes": ("silent.mid", simple_midi([]), "no notes"),
        "drums only": ("drums.mid", simple_midi([], drum_notes=[(0, 100, 36, 100), (240, 300, 38, 90)]), "drum"),
        "corrupt header": ("broken.mid", b"MThd\x00\x00\x00\x06\x00\x01\x00", "corrupt MIDI"),
    }
    out = {}
    for kind, (name, data, words) in files.items():
        (folder / name).write_bytes(data)
        out[kind] = (folder / name, words)
    huge = folder / "huge.mid"
    with huge.open("wb") as handle:  # 50 MB, sparse: cheap to make
        handle.write(simple_midi([(0, 480, 60, 80)]))
        handle.truncate(50 * 2**20)
    out["50 MB"] = (huge, "too large")
    return out


def test_bad_files_exit_2_naming_the_file(tmp_path, monkeypatch, capsys):
    for kind, (path, words) in bad_files(tmp_path).items():
        code, _, err = run_cli(monkeypatch, capsys, "check", "--mode", "midi", str(path))
        assert code == 2 and str(path) in err and words in err and "Traceback" not in err, (kind, err)
    code, _, err = run_cli(monkeypatch, capsys, "train", "--mode", "midi", "--corpus", str(tmp_path / "drums.mid"),
                           "--out", str(tmp_path / "run"))
    assert code == 2 and "drums.mid: only drum notes" in err
    assert not (tmp_path / "run").exists()


def test_folder_trains_on_the_good_files_and_reports_the_bad(tmp_path, capsys):
    from tunesmith.modes.midi import load_source

    bad = bad_files(tmp_path)
    chorales = load_bach()[:2]
    for piece in chorales:
        (tmp_path / "good").mkdir(exist_ok=True)
        (tmp_path / "good" / f"{piece.title}.MID").write_bytes(midi_bytes(piece))
    pieces = load_source(str(tmp_path))
    assert [p.text for p in pieces] == [p.text for p in chorales]
    err = capsys.readouterr().err
    assert f"skipped {len(bad)} of {len(bad) + 2} MIDI files" in err
    assert all(str(path) in err for path, _ in bad.values())


def test_folk_tunes_become_midi_pieces_with_pickups_and_chords():
    from tunesmith.corpus.bundled import load_bundled
    from tunesmith.corpus.midi_bundled import folk_piece

    tunes = {t.title: t for t in load_bundled("folk")}
    fare = folk_piece(tunes["Fare You Well"])  # M:2/4, L:1/16, K:D, a pickup of "f-g |"
    header, first = fare.text.split("\n")[:2]
    assert header == "Tempo_120 TS_2/4" and first == "Bar Pos_18 Vel_80 Pitch_78 Dur_3 Pos_21 Pitch_79 Dur_3"
    clock = folk_piece(tunes["Grandfather's Clock"])  # chord symbols: an accompaniment under the tune
    assert {n.velocity for n in clock.notes} == {80, 64}
    starts = [n.start for n in clock.notes]
    assert len(starts) > len(set(starts))
    assert text_problem(clock.text)[1] is None


def random_writer_pieces(n: int, **options) -> list:
    """Writers driven by random choices among what their masks allow: the constraints alone make the piece."""
    from tunesmith.modes.midi.writer import MidiWriter, Tables

    codec = MidiEventCodec.fit([p.text for p in load_bach()])
    tables = Tables(codec)
    rng = np.random.default_rng(5)
    primer = deque(options.pop("primer", []))
    out = []
    for _ in range(n):
        writer = MidiWriter(tables, deque(primer), options.pop("max_symbols", 3000), **options)
        while not writer.done:
            mask = writer.mask()
            allowed = np.flatnonzero(mask) if mask is not None else np.arange(len(codec))
            writer.push(int(rng.choice(allowed)))
        out.append((writer, writer.piece("random")))
    return out


@pytest.mark.parametrize("options, bars", [
    ({"bars": 4}, 4), ({"bars": 1}, 1), ({"seconds": 6.0, "tempo": 60.0}, None), ({}, None),
])
def test_constraints_alone_give_well_formed_pieces(options, bars):
    for writer, piece in random_writer_pieces(6, **dict(options)):
        text = writer.tables.vocab and piece.text
        assert text_problem(text)[1] is None
        if writer.truncated:
            continue
        written = MidiEventCodec(writer.tables.vocab).decode(writer.ids)
        _, problem = text_problem(written.rstrip("\n") + "\n")
        assert problem is None, (problem, written[:300])
        lines = [line for line in written.split("\n") if line.startswith("Bar")]
        if bars is not None:
            assert len(lines) == bars
            assert piece.end <= bars * piece.bar_starts[1]  # no note past the forced end
        if "seconds" in options:
            bar = piece.bar_starts[1] / STEPS_PER_BEAT  # beats of 60 bpm: seconds
            assert options["seconds"] <= len(lines) * bar < options["seconds"] + bar


def test_primer_is_forced_and_continued():
    chorale = load_bach()[0]
    codec = MidiEventCodec.fit([p.text for p in load_bach()])
    primer = codec.encode(chorale.text)[:-1]
    opening = chorale.text.split("\n")[:3]
    for writer, piece in random_writer_pieces(3, primer=primer, bars=len(chorale.bar_starts) + 2):
        assert MidiEventCodec(writer.tables.vocab).decode(writer.ids).startswith("\n".join(opening))
        assert set(chorale.notes) <= set(piece.notes)  # no continuation note cut a primer note short


# -- training and the shipped model ---------------------------------------------------------------

def test_train_and_generate_through_the_shared_pipeline(tmp_path, monkeypatch, capsys):
    from tunesmith.checkpoint import load_checkpoint, read_config
    from tunesmith.models import get_preset
    from tunesmith.train import new_trainer

    folder = tmp_path / "midi"
    folder.mkdir()
    for piece in load_bach()[:6]:
        (folder / f"{piece.title}.mid").write_bytes(midi_bytes(piece))
    preset = get_preset("small")
    trainer = new_trainer(tmp_path / "run", [str(folder)], preset.model, replace(preset.train, epochs=1, seed=1),
                          mode="midi")
    trainer.run(show_progress=False)
    config = read_config(tmp_path / "run" / "best")
    assert config["mode"] == "midi" and config["codec"]["name"] == "midi-events"
    assert load_checkpoint(tmp_path / "run").codec.vocab[0] == "\n"
    code, out, err = run_cli(monkeypatch, capsys, "generate", "--model", str(tmp_path / "run"), "-n", "2",
                             "--bars", "3", "--seed", "4")
    assert code == 0, err
    pieces = [piece_from_text(block + "\n") for block in out.strip("\n").split("\n\n")]
    assert len(pieces) == 2 and all(len(p.bar_starts) - 1 <= 3 for p in pieces)


needs_shipped = pytest.mark.skipif(not (SHIPPED / "config.json").exists(), reason="no shipped MIDI model")


def sounding(notes: list[tuple[float, float, int]], end: float) -> list[int]:
    """How many notes sound in each 1/12-beat step from 0 to end."""
    grid = [0] * round(end * STEPS_PER_BEAT)
    for start, stop, _ in notes:
        for k in range(round(start * STEPS_PER_BEAT), round(stop * STEPS_PER_BEAT)):
            grid[k] += 1
    return grid


@needs_shipped
def test_shipped_model_writes_rhythm_rests_and_chords(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, "generate", "--mode", "midi", "-n", "20", "--bars", "8", "--seed", "1",
                           "-o", str(tmp_path / "chorale.mid"), "--threads", "1")
    assert code == 0, err
    durations, with_rests, with_chords = set(), 0, 0
    for i in range(1, 21):
        data = (tmp_path / f"chorale-{i}.mid").read_bytes()
        notes = mido_notes(data)  # asserts that every note is switched off
        midi = mido.MidiFile(file=io.BytesIO(data))
        numerator = next(m.numerator for m in midi.tracks[0] if m.type == "time_signature")
        assert max(stop for _, stop, _ in notes) <= 8 * numerator   # nothing past bar 8 (of quarter beats)
        durations |= {round(stop - start, 3) for start, stop, _ in notes}
        grid = sounding(notes, max(stop for _, stop, _ in notes))
        with_rests += 0 in grid[round(notes[0][0] * STEPS_PER_BEAT):]
        with_chords += max(grid) >= 2
    assert len(durations) >= 4, durations
    assert with_rests >= 1 and with_chords == 20, (with_rests, with_chords)


@needs_shipped
def test_outputs_primer_seconds_and_renders(tmp_path, monkeypatch, capsys):
    chorale = load_bach()[3]
    (tmp_path / "opening.mid").write_bytes(midi_bytes(chorale))
    code, _, err = run_cli(monkeypatch, capsys, "generate", "--mode", "midi", "--primer-file",
                           str(tmp_path / "opening.mid"), "--bars", str(len(chorale.bar_starts) + 3), "-n", "2",
                           "-o", str(tmp_path / "out" / "continued.mid"), "--render", "wav,pianoroll", "--threads", "1")
    assert code == 0, err
    for i in (1, 2):
        piece = piece_from_midi((tmp_path / "out" / f"continued-{i}.mid").read_bytes(), "x")
        assert set(chorale.notes) <= set(piece.notes)   # the whole opening is there, untouched
        assert len(piece.notes) > len(chorale.notes)
        assert (tmp_path / "out" / f"continued-{i}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / "out" / f"continued-{i}.wav").read_bytes()[:4] == b"RIFF"
    code, _, err = run_cli(monkeypatch, capsys, "generate", "--mode", "midi", "--seconds", "10", "--tempo", "90", "-n", "1",
                           "-o", str(tmp_path / "ten.mid"), "--threads", "1")
    assert code == 0, err
    midi = mido.MidiFile(tmp_path / "ten.mid")
    assert 10 - 1e-6 <= midi.length <= 10 + 4 * 60 / 90 * 1.5 + 1e-6  # whole bars, at least 10 s
    assert next(m.tempo for m in midi.tracks[0] if m.type == "set_tempo") == mido.bpm2tempo(90)
    code, _, err = run_cli(monkeypatch, capsys, "generate", "--mode", "midi", "--primer-file",
                           str(tmp_path / "notes.txt"), "-o", str(tmp_path / "never.mid"))
    assert code == 2 and "notes.txt" in err and not (tmp_path / "never.mid").exists()


def test_check_token_text_reports_line_and_column(tmp_path, monkeypatch, capsys):
    good = load_bach()[0].text
    bad = "Tempo_80 TS_4/4\nBar Pos_0 Vel_80 Pitch_60 Dur_12 Pos_0 Pitch_62 Dur_12\n"
    (tmp_path / "pieces.txt").write_text(good + "\n" + bad)
    code, out, err = run_cli(monkeypatch, capsys, "check", "--mode", "midi", str(tmp_path / "pieces.txt"))
    line = good.count("\n") + 3
    assert code == 1 and f"pieces.txt:{line}:34: piece 2" in out and "2 pieces checked, 1 with problems" in err


def test_transposition_keeps_copies_on_one_side_of_the_split(tmp_path):
    from tunesmith.corpus.split import split_tunes
    from tunesmith.modes.midi import dedupe, load_source

    folder = tmp_path / "midi"
    folder.mkdir()
    originals = load_bach()[:40]
    for piece in originals:
        (folder / f"{piece.title}.mid").write_bytes(midi_bytes(piece))
    pieces = dedupe(load_source(f"{folder}+transpose"))
    assert len(pieces) == 12 * len(originals)
    first = [p for p in pieces if p.title == originals[0].title]
    assert sorted(p.notes[0].pitch - originals[0].notes[0].pitch for p in first) == list(range(-5, 7))
    train, held = split_tunes(pieces)
    held_titles = {p.title for p in held}
    assert held and all(p.title not in held_titles for p in train)
    assert len(held) % 12 == 0
    # A run records a non-bundled spec as an absolute path; resuming must still find the bundled corpus.
    again = load_source(str(Path("bach-chorales+transpose").resolve()))
    assert len(again) == sum(p.transposed(k) is not None for p in load_bach() for k in range(-5, 7))


def test_drums_with_the_drums_suffix_and_in_generation(tmp_path):
    from tunesmith.modes.midi import load_source
    from tunesmith.modes.midi.writer import MidiWriter, Tables

    (tmp_path / "beat.mid").write_bytes(simple_midi([], drum_notes=[(k * 240, k * 240 + 60, 36 + k % 3, 100)
                                                                     for k in range(16)]))
    (tmp_path / "song.mid").write_bytes(simple_midi([(0, 960, 60, 80)], drum_notes=[(0, 60, 42, 90)]))
    plain = load_source(str(tmp_path))
    assert [p.title for p in plain] == ["song"] and not any(n.drum for n in plain[0].notes)
    pieces = load_source(f"{tmp_path}+drums")
    assert [p.title for p in pieces] == ["beat", "song"] and all(any(n.drum for n in p.notes) for p in pieces)
    codec = MidiEventCodec.fit([p.text for p in pieces] + [load_bach()[0].text])
    rng = np.random.default_rng(2)
    drummed = 0
    for _ in range(5):
        writer = MidiWriter(Tables(codec), deque(), 3000, bars=4)
        while not writer.done:
            writer.push(int(rng.choice(np.flatnonzero(writer.mask()))))
        written = codec.decode(writer.ids).rstrip("\n") + "\n"
        assert text_problem(written)[1] is None, written
        piece = writer.piece("x")
        assert piece_from_midi(midi_bytes(piece), "x", "x", drums=True) == piece
        drummed += any(n.drum for n in piece.notes)
    assert drummed


@needs_shipped
def test_a_users_opening_is_moved_to_what_the_model_knows(tmp_path):
    from tunesmith.checkpoint import load_checkpoint
    from tunesmith.modes import GenerateRequest
    from tunesmith.modes.midi import MidiOptions
    from tunesmith.modes.midi.writer import generate_pieces

    # 100 bpm, velocity 100, a quintuplet-ish 5-step note and an onset one step late: none of it in the chorales
    opening = simple_midi([(0, 480, 60, 100), (0, 480, 67, 100), (520, 720, 64, 100), (960, 1200, 62, 100)],
                          tempo=100)
    (tmp_path / "opening.mid").write_bytes(opening)
    ckpt = load_checkpoint(SHIPPED)
    [piece] = generate_pieces(ckpt, GenerateRequest(n=1, seed=2, options=MidiOptions(primer_file=tmp_path / "opening.mid", bars=4)))
    assert piece.qpm == 100
    first = [n for n in piece.notes if n.start < 24]
    assert [(n.start, n.pitch, n.velocity) for n in first[:3]] == [(0, 60, 80), (0, 67, 80), (12, 64, 80)]
    assert first[2].duration in {int(t[4:]) for t in ckpt.codec.vocab if t.startswith("Dur_")}
