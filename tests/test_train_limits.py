"""Regularisation and budgets in training: weight decay, dropout, early stopping, a minutes budget."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tunesmith.models import get_preset
from tunesmith.train import make_optimizer, new_trainer, resume_trainer

TUNESMITH = [sys.executable, "-m", "tunesmith.cli"]


def history(run: Path) -> list[dict]:
    return json.loads((run / "latest" / "config.json").read_text())["progress"]["history"]


def test_weight_decay_uses_adamw_on_weight_matrices_only():
    preset = get_preset("small")
    from tunesmith.models import build_model

    model = build_model(replace(preset.model, vocab_size=40))
    assert type(make_optimizer(model, preset.train)) is torch.optim.Adam
    opt = make_optimizer(model, replace(preset.train, weight_decay=0.05))
    decayed, kept = opt.param_groups
    assert type(opt) is torch.optim.AdamW and decayed["weight_decay"] == 0.05 and kept["weight_decay"] == 0
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(p.dim() >= 2 and "embed" not in names[id(p)] for p in decayed["params"])
    assert any("embed" in names[id(p)] for p in kept["params"]) and any(p.dim() == 1 for p in kept["params"])


def test_weight_decay_changes_training_and_resumes_exactly(tmp_path):
    preset = get_preset("small")
    config = replace(preset.train, epochs=2, seed=3, batch=8, seq=32, weight_decay=0.1)
    new_trainer(tmp_path / "plain", ["jigs"], preset.model, replace(config, weight_decay=0.0), limit=24).run(show_progress=False)
    new_trainer(tmp_path / "decayed", ["jigs"], preset.model, replace(config, epochs=1), limit=24).run(show_progress=False)
    resume_trainer(tmp_path / "decayed", epochs=2).run(show_progress=False)
    new_trainer(tmp_path / "straight", ["jigs"], preset.model, config, limit=24).run(show_progress=False)
    assert history(tmp_path / "decayed")[-1]["held_out_bits_per_symbol"] == history(tmp_path / "straight")[-1]["held_out_bits_per_symbol"]
    assert history(tmp_path / "plain")[-1]["held_out_bits_per_symbol"] != history(tmp_path / "straight")[-1]["held_out_bits_per_symbol"]


def test_early_stopping_stops_when_held_out_bits_stop_falling(tmp_path):
    # A learning rate far too high for the tiny model: held-out bits soon stop improving.
    preset = get_preset("small")
    config = replace(preset.train, epochs=12, seed=1, batch=4, seq=16, lr=0.05, patience=1)
    progress = new_trainer(tmp_path / "run", ["jigs"], preset.model, config, limit=12).run(show_progress=False)
    curve = [r["held_out_bits_per_symbol"] for r in progress.history]
    assert progress.stopped == "patience" and len(curve) < 12
    assert curve[-1] >= min(curve[:-1])  # the last epoch did not improve on the best before it
    best = json.loads((tmp_path / "run" / "best" / "config.json").read_text())["progress"]["best_held_out"]
    assert best == pytest.approx(min(curve), abs=1e-5)


def test_a_minutes_budget_ends_the_run_mid_epoch(tmp_path):
    preset = get_preset("small")
    config = replace(preset.train, epochs=50, seed=1, batch=4, seq=32, minutes=0.05)  # 3 seconds
    progress = new_trainer(tmp_path / "run", ["jigs"], preset.model, config, limit=60).run(show_progress=False)
    assert progress.stopped == "minutes" and progress.epoch < 50
    assert 3 <= progress.cpu_seconds_total < 30
    assert (tmp_path / "run" / "best").is_dir() and (tmp_path / "run" / "latest").is_dir()
    # More budget on resume goes on from there.
    more = resume_trainer(tmp_path / "run", minutes=0.1).run(show_progress=False)
    assert more.stopped == "minutes" and more.cpu_seconds_total >= 6 and len(more.history) > len(progress.history)


def test_the_options_on_the_command_line(tmp_path):
    run = subprocess.run([*TUNESMITH, "train", "--corpus", "jigs", "--limit", "16", "--preset", "small", "--out",
                          str(tmp_path / "r"), "--epochs", "2", "--weight-decay", "0.01", "--dropout", "0.3",
                          "--patience", "3", "--batch", "4", "--seq", "32", "--no-progress"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    saved = json.loads((tmp_path / "r" / "latest" / "config.json").read_text())
    assert saved["train"]["weight_decay"] == 0.01 and saved["train"]["patience"] == 3
    assert saved["model"]["dropout"] == 0.3
    for bad, words in ((["--dropout", "1.5"], "--dropout must be in [0, 0.9]"),
                       (["--minutes", "-1"], "--minutes must not be negative")):
        refused = subprocess.run([*TUNESMITH, "train", "--corpus", "jigs", "--out", str(tmp_path / "x"), *bad],
                                 capture_output=True, text=True)
        assert refused.returncode == 2 and words in refused.stderr and "Traceback" not in refused.stderr
