"""Training: held-out loss falls, checkpoints are complete, resume is exact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tunesmith.checkpoint import load_checkpoint, read_config
from tunesmith.data import encode_tunes, make_streams
from tunesmith.codecs.abc_chars import CharCodec
from tunesmith.corpus.load import load_corpus
from tunesmith.errors import TunesmithError
from tunesmith.models import ModelConfig, build_model, get_preset
from tunesmith.train import TrainingInterrupted, new_trainer, resume_trainer

TUNESMITH = [sys.executable, "-m", "tunesmith.cli"]


def held_out_curve(run: Path) -> list[float]:
    history = json.loads((run / "latest" / "config.json").read_text())["progress"]["history"]
    return [r["held_out_bits_per_symbol"] for r in history]


def test_held_out_loss_falls_and_checkpoints_are_complete(tiny_run):
    curve = held_out_curve(tiny_run)
    assert len(curve) == 3
    assert curve[-1] < curve[0] - 0.3, curve
    config = json.loads((tiny_run / "best" / "config.json").read_text())
    assert config["model"]["cell"] == "lstm" and config["model"]["vocab_size"] == len(config["codec"]["vocab"])
    assert config["corpus"]["sources"] == ["jigs"] and config["corpus"]["limit"] == 80
    assert config["corpus"]["held_out_tunes"] >= 1 and len(config["corpus"]["hash"]) == 16
    assert config["versions"]["torch"] == torch.__version__
    assert (tiny_run / "latest" / "training_state.safetensors").is_file()
    assert not (tiny_run / "best" / "training_state.safetensors").exists()
    # The best checkpoint holds the weights of the lowest held-out epoch.
    assert config["progress"]["best_held_out"] == pytest.approx(min(curve), abs=1e-4)


def test_streams_are_contiguous_across_batches():
    ids = [torch.arange(0, 50), torch.arange(50, 101)]
    s = make_streams(ids, batch=4, seq=5, order_seed=None)
    x0, y0 = s.batch(0)
    x1, _ = s.batch(1)
    assert torch.equal(x1[:, 0], y0[:, -1])          # row i of batch k+1 continues row i of batch k
    assert torch.equal(s.x.flatten()[1:], s.y.flatten()[:-1])
    assert s.x.shape == (4, 25)


def test_interrupted_training_resumes_exactly(tmp_path):
    preset = get_preset("small")
    config = replace(preset.train, epochs=3, seed=5, batch=8, seq=32)
    whole = new_trainer(tmp_path / "whole", ["jigs"], preset.model, config, limit=30)
    whole.run(show_progress=False)

    cut = new_trainer(tmp_path / "cut", ["jigs"], preset.model, config, limit=30)

    def ctrl_c(epoch, batch):
        if epoch == 1 and batch == 3:  # in the middle of the second epoch
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        cut.run(show_progress=False, on_batch=ctrl_c)
    saved = json.loads((tmp_path / "cut" / "latest" / "config.json").read_text())["progress"]
    assert (saved["epoch"], saved["batch"]) == (1, 3)
    resumed = resume_trainer(tmp_path / "cut")
    resumed.run(show_progress=False)
    assert held_out_curve(tmp_path / "cut") == held_out_curve(tmp_path / "whole")
    a = load_checkpoint(tmp_path / "cut" / "latest").model.state_dict()
    b = load_checkpoint(tmp_path / "whole" / "latest").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_with_more_epochs_equals_a_longer_run(tmp_path):
    preset = get_preset("small")
    config = replace(preset.train, epochs=2, seed=2, batch=8, seq=32)
    new_trainer(tmp_path / "short", ["jigs"], preset.model, config, limit=24).run(show_progress=False)
    resume_trainer(tmp_path / "short", epochs=3).run(show_progress=False)
    new_trainer(tmp_path / "long", ["jigs"], preset.model, replace(config, epochs=3), limit=24).run(show_progress=False)
    assert held_out_curve(tmp_path / "short") == held_out_curve(tmp_path / "long")


def assert_step_matches_forward(model, batch: int, steps: int) -> None:
    """The sampler's one-symbol step gives the logits of the training forward pass."""
    ids = torch.randint(0, model.config.vocab_size, (batch, steps))
    with torch.no_grad():
        full, _ = model(ids)
    net = model.stepper()
    state, stepped = net.initial_state(batch), []
    for t in range(steps):
        logits, state = net.step(ids[:, t].numpy(), state)
        stepped.append(logits)
    assert np.allclose(np.stack(stepped, 1), full.numpy(), atol=1e-4)


def test_gru_trains_and_steps_like_its_forward(tmp_path):
    config = ModelConfig("gru", 0, 32, 48, 2, 0.1)
    trainer = new_trainer(tmp_path / "gru", ["jigs"], config, replace(get_preset("small").train, epochs=1), limit=20)
    trainer.run(show_progress=False)
    assert_step_matches_forward(load_checkpoint(tmp_path / "gru").model, batch=3, steps=20)


def test_lstm_step_matches_forward(tiny_model):
    assert_step_matches_forward(tiny_model.model, batch=4, steps=30)


def test_an_existing_run_is_not_overwritten(tiny_run):
    preset = get_preset("small")
    with pytest.raises(TunesmithError, match="--resume"):
        new_trainer(tiny_run, ["jigs"], preset.model, preset.train, limit=10)


def test_resume_refuses_a_changed_corpus(tmp_path):
    folder = tmp_path / "tunes"
    folder.mkdir()
    tune = "X:1\nT:A\nM:6/8\nL:1/8\nK:D\n{}|\n"
    (folder / "a.abc").write_text("\n".join(tune.format(b) for b in ("DFA dAF", "ABA AFD", "d3 A3", "FED EFA")))
    preset = get_preset("small")
    new_trainer(tmp_path / "run", [str(folder)], preset.model, replace(preset.train, epochs=1, seq=8, batch=2)).run(show_progress=False)
    (folder / "b.abc").write_text(tune.format("GBd gdB"))
    with pytest.raises(TunesmithError, match="changed"):
        resume_trainer(tmp_path / "run")


def test_ctrl_c_on_the_command_line_saves_and_resumes(tmp_path):
    """A real SIGINT to `tunesmith train`: exit 130, a resumable latest/, same result as no interruption."""
    args = ["--corpus", "jigs", "--limit", "40", "--preset", "small", "--seed", "3", "--batch", "8",
            "--seq", "32", "--no-progress", "--threads", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    straight = subprocess.run(TUNESMITH + ["train", *args, "--epochs", "4", "--out", str(tmp_path / "a")],
                              capture_output=True, text=True, env=env)
    assert straight.returncode == 0, straight.stderr

    proc = subprocess.Popen(TUNESMITH + ["train", *args, "--epochs", "4", "--out", str(tmp_path / "b")],
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while not (tmp_path / "b" / "latest").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err  # three epochs were left when the signal was sent
    assert "resume with: tunesmith train --resume" in err and "Traceback" not in err
    resumed = subprocess.run(TUNESMITH + ["train", "--resume", str(tmp_path / "b"), "--no-progress", "--threads", "1"],
                             capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert held_out_curve(tmp_path / "b") == held_out_curve(tmp_path / "a")


def test_corpus_cut_into_streams_uses_every_training_symbol():
    corpus = load_corpus(["jigs"], limit=20)
    codec = CharCodec.fit([t.text for t in corpus.tunes])
    ids = encode_tunes(codec, corpus.train)
    total = sum(len(t) for t in ids)
    s = make_streams(ids, batch=4, seq=16, order_seed=7)
    assert total - 4 <= s.symbols <= total - 1
    assert sorted(torch.cat(ids).tolist()[: s.symbols]) != []  # non-empty
    model = build_model(replace(get_preset("small").model, vocab_size=len(codec)))
    logits, _ = model(s.batch(0)[0])
    assert logits.shape == (4, 16, len(codec))


def test_package_ships_best_weights_with_a_model_card(tiny_run, tmp_path):
    from tunesmith.modes.abc.writer import generate_tunes
    from tunesmith.modelcard import package_run

    package_run(tiny_run, tmp_path / "shipped", name="tiny")
    assert sorted(p.name for p in (tmp_path / "shipped").iterdir()) == ["MODEL_CARD.md", "config.json", "model.safetensors"]
    card = (tmp_path / "shipped" / "MODEL_CARD.md").read_text()
    best = min(held_out_curve(tiny_run))
    assert f"**{best:.3f} bits per character**" in card and "| 3 |" in card
    assert "## Validity (abc2midi as the judge)" in card  # abc2midi is installed by `make test`
    shipped = load_checkpoint(tmp_path / "shipped")
    best_run = load_checkpoint(tiny_run / "best")
    assert all(torch.equal(v, best_run.model.state_dict()[k]) for k, v in shipped.model.state_dict().items())
    assert len(shipped.meta["history"]) == 3
    assert generate_tunes(shipped, 1, seed=0, max_symbols=128)[0].startswith("X:1\n")


def test_the_model_card_names_transposition_precision_budget_and_the_notes(tiny_run, tmp_path):
    from tunesmith.modelcard import model_card, package_run

    config = read_config(tiny_run / "latest")
    history = config["progress"]["history"]
    plain = model_card(config, history, "make models")
    assert "transposed" not in plain and "bf16" not in plain and "CPU minutes" not in plain
    record = {"policy": "common", "keys": {"major": ["G", "D"]}, "range": [55, 87], "added": 12, "from_tunes": 7,
              "dropped": {"check": 2}, "augmented_hash": "x"}
    config["corpus"]["augmentation"] = record
    config["train"] |= {"precision": "bf16", "minutes": 85.0}
    card = model_card(config, history, "make models")
    assert "+12 transposed copies of 7 training tunes" in card and "bf16 arithmetic" in card
    assert "a budget of 85 CPU minutes" in card
    notes = tmp_path / "notes.md"
    notes.write_text("## What was compared\n\nThe LSTM against the GRU.\n")
    package_run(tiny_run, tmp_path / "shipped", name="tiny", copy=False, notes=notes)
    assert "## What was compared\n\nThe LSTM against the GRU.\n" in (tmp_path / "shipped" / "MODEL_CARD.md").read_text()
    missing = subprocess.run(TUNESMITH + ["package", str(tiny_run), str(tmp_path / "other"), "--no-copy",
                                          "--notes", str(tmp_path / "nope.md")], capture_output=True, text=True)
    assert missing.returncode == 2 and "nope.md: cannot read the notes" in missing.stderr
    assert "Traceback" not in missing.stderr and not (tmp_path / "other").exists()
