"""Shared fixtures: a tiny model trained for real on a slice of a bundled corpus."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from tunesmith.checkpoint import load_checkpoint
from tunesmith.models import get_preset
from tunesmith.train import new_trainer

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A `small` LSTM trained for 3 quick epochs on 80 jigs: its run folder."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    preset = get_preset("small")
    trainer = new_trainer(out, ["jigs"], preset.model, replace(preset.train, epochs=3, seed=1), limit=80)
    trainer.run(show_progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_run):
    """The tiny run's best checkpoint, loaded."""
    return load_checkpoint(tiny_run)
