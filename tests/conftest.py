"""Shared fixtures: a tiny model trained for real on a slice of a bundled corpus."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import torch

from tunesmith.checkpoint import load_checkpoint
from tunesmith.models import get_preset
from tunesmith.train import new_trainer

# Under `make test` two pytest workers share the two cores (pytest-xdist): one thread each, no oversubscription.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A `small` LSTM trained for 3 quick epochs on 80 jigs: its run folder."""
    return train_small(tmp_path_factory.mktemp("runs") / "tiny", ["jigs"], epochs=3, limit=80)


def train_small(out, sources: list[str], epochs: int, limit: int, chords: str = "none"):
    """A `small` LSTM (seed 1) trained on the first `limit` pieces of `sources` into `out`: its run folder."""
    preset = get_preset("small")
    config = replace(preset.train, epochs=epochs, seed=1, chords=chords)
    trainer = new_trainer(out, sources, preset.model, config, limit=limit)
    trainer.run(show_progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_run):
    """The tiny run's best checkpoint, loaded."""
    return load_checkpoint(tiny_run)


def local_only(server: str, elsewhere: list[str]):
    """A browser route handler (`context.route("**/*", ...)`): requests to `server` go through, any other is
    recorded in `elsewhere` and aborted (nothing may be fetched from outside)."""
    def route(request_route):
        if request_route.request.url.startswith(server):
            request_route.continue_()
        else:
            elsewhere.append(request_route.request.url)
            request_route.abort()
    return route
