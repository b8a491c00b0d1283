"""Tala-true generation with a small model trained for real on the bundled tabla corpus, and the CLI."""

from __future__ import annotations

import sys
import wave
from dataclasses import replace

import mido
import pytest
import torch

from tunesmith import cli
from tunesmith.checkpoint import load_checkpoint
from tunesmith.models import get_preset
from tunesmith.modes import GenerateRequest
from tunesmith.modes.tabla import TablaOptions
from tunesmith.modes.tabla.writer import generate_compositions
from tunesmith.music.tabla import TALAS, has_bayan_open_matra, read_file, read_text, theka
from tunesmith.options import Sampling
from tunesmith.train import new_trainer

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A `small` LSTM trained for one epoch on the whole tabla corpus: its run folder."""
    out = tmp_path_factory.mktemp("runs") / "tabla"
    preset = get_preset("small")
    trainer = new_trainer(out, ["tabla"], preset.model, replace(preset.train, epochs=1, seed=1), mode="tabla")
    trainer.run(show_progress=False)
    return out


@pytest.fixture(scope="module")
def model(run):
    return load_checkpoint(run)


@pytest.mark.parametrize("tala, cycles", [("teentaal", 3), ("jhaptaal", 4), ("rupak", 5)])
def test_every_cycle_is_whole_and_every_composition_lands_on_sam(model, tala, cycles):
    comps = generate_compositions(model, GenerateRequest(n=8, seed=3, options=TablaOptions(tala, tempo=80, cycles=cycles)))
    for comp in comps:
        [reading] = read_text(comp.file_text())
        assert reading.problems == []                       # counts and vibhag marks checked against the tala
        assert len(comp.cycles) == cycles and all(len(c) == TALAS[tala].matras for c in comp.cycles)
        assert has_bayan_open_matra(comp.landing) or comp.landing == theka(tala)[0]   # sam struck as sam
        assert comp.tempo == 80 and comp.form in ("theka", "kaida", "rela", "tihai", "tukda")
    assert len({c.text for c in comps}) == len(comps)        # sampled, not one composition eight times


def test_the_same_seed_writes_the_same_compositions(model):
    request = GenerateRequest(n=3, seed=7, options=TablaOptions("dadra", cycles=2), sampling=Sampling(temperature=1.2))
    first = generate_compositions(model, request)
    assert generate_compositions(model, request) == first
    assert generate_compositions(model, replace(request, seed=8)) != first


def test_a_theka_or_the_start_of_a_kaida_as_primer(model):
    [comp] = generate_compositions(model, GenerateRequest(n=1, options=TablaOptions("teentaal", cycles=2), primer="theka"))
    assert list(comp.cycles[0]) == theka("teentaal")
    [comp] = generate_compositions(model, GenerateRequest(n=1, options=TablaOptions("jhaptaal", cycles=2),
                                                          primer="form: kaida\nDhee Na | Dhi Dhi Na | Tee"))
    assert comp.form == "kaida" and comp.cycles[0][:6] == (("Dhi",), ("Na",), ("Dhi",), ("Dhi",), ("Na",), ("Ti",))


def test_free_sampling_writes_without_the_counting(model):
    pieces = generate_compositions(model, GenerateRequest(n=4, seed=1, options=TablaOptions("teentaal"), free=True, max_length=300))
    assert len(pieces) == 4
    for piece in pieces:
        text = piece if isinstance(piece, str) else piece.file_text()
        assert "tala: teentaal" in text


def tunesmith(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the real entry point in this process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["tunesmith", *args])
    try:
        cli.main()
        code = 0
    except SystemExit as stop:
        code = stop.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_writes_text_wav_and_midi(run, tmp_path, monkeypatch, capsys):
    target = tmp_path / "out" / "kaida.txt"
    code, out, err = tunesmith(monkeypatch, capsys, "generate", "--model", str(run), "-n", "1", "--mode", "tabla",
                               "--tala", "teentaal", "--cycles", "2", "--tempo", "90", "--seed", "2", "--render", "wav,midi",
                               "-o", str(target))
    assert code == 0 and out == "" and "wrote 1 compositions" in err
    [reading] = read_file(target)
    assert reading.problems == [] and reading.composition.tempo == 90
    with wave.open(str(target.with_suffix(".wav"))) as wav:
        assert wav.getnframes() == round(33 * 60 / 90 * wav.getframerate())
    assert abs(mido.MidiFile(target.with_suffix(".mid")).length - 33 * 60 / 90) < 1e-4  # tempo: whole microseconds
    code, out, err = tunesmith(monkeypatch, capsys, "generate", "--model", str(run), "-n", "2", "--tala", "rupak",
                               "--render", "midi", "-o", str(tmp_path / "two.txt"))
    assert code == 0 and sorted(p.name for p in tmp_path.glob("two*")) == ["two-1.mid", "two-2.mid", "two.txt"]
    code, out, err = tunesmith(monkeypatch, capsys, "generate", "--model", str(run), "-n", "2", "--tala", "dadra")
    assert code == 0 and [r.problems for r in read_text(out)] == [[], []]


@pytest.mark.parametrize("args, message", [
    (["--tala", "teentala"], "--tala: unknown tala 'teentala'; did you mean 'teentaal'?"),
    (["--tempo", "0"], "--tempo 0: must be above 0"),
    (["--cycles", "0"], "--cycles must be 1 to 64 (got 0)"),
    (["--primer", "Dha Dhinn"], "--primer: unknown bol 'Dhinn'; did you mean 'Dhin'?"),
    (["--primer", "Dha Dha Dha | Dha"], "--primer: '|' after matra 3"),
    (["--render", "wav"], "--render writes files beside the text file"),
    (["--render", "svg", "-o", "x.txt"], "--render: svg is not for tabla"),
    (["--meter", "6/8"], "--meter is for other modes"),
])
def test_bad_generate_options_exit_2_and_write_nothing(run, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = tunesmith(monkeypatch, capsys, "generate", "--model", str(run), *args)
    assert code == 2 and out == "" and message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_check_reports_cycles_and_bols(tmp_path, monkeypatch, capsys):
    good = tmp_path / "good.txt"
    good.write_text("tala: rupak\nTin Tin Na | Dhi Na | Dhi Na ||\nDha\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("title: Mine\ntala: dadra\nDha Dhi Na | Dha Ti Na ||\nDha Dhq Na | Dha Na ||\nDha\n")
    code, out, err = tunesmith(monkeypatch, capsys, "check", "--mode", "tabla", str(good), str(bad))
    assert code == 1 and out.splitlines() == [
        f"{bad}:4:1: composition 1 (Mine): cycle 2 has 5 matras; dadra has 6 (3+3)",
        f"{bad}:4:5: composition 1 (Mine): unknown bol 'Dhq'; did you mean 'Dhi'?"]
    assert "2 pieces checked, 1 with problems" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    code, out, err = tunesmith(monkeypatch, capsys, "check", "--mode", "tabla", str(empty))
    assert code == 2 and "empty.txt: no tabla compositions found; the file is empty" in err
