"""What every command needs at run time: messages on stderr, torch's threads, and the shipped models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ..errors import TunesmithError



def err(message: str) -> None:
    """A line for people, on stderr (stdout is kept for the music)."""
    typer.echo(message, err=True)


DEVICE_HELP = ("Where the model runs: auto (cuda if there is one, else mps, else cpu), cpu, cuda or mps. "
               "Checkpoints are device-independent.")


def torch_device(name: str):
    """--device as a torch device, or the clear error (--device cuda on a machine without CUDA: exit 2)."""
    from ..accel import resolve_device  # torch comes with it: not at start-up

    return resolve_device(name)


def set_threads(threads: Optional[int]) -> None:
    """Run torch on this many CPU threads (None: torch's own choice)."""
    if threads is not None:
        if threads < 1:
            raise TunesmithError(f"--threads must be at least 1 (got {threads})")
        import torch

        torch.set_num_threads(threads)


def model_path(model: Optional[Path], mode: Optional[str] = None) -> Path:
    """The checkpoint a command uses: `--model` as given, else the shipped model of `mode`.

    With no mode named, $TUNESMITH_MODEL (when set) stands in for the shipped ABC model.
    """
    if model is not None:
        return model
    from ..checkpoint import SHIPPED_MODELS  # torch comes with it: not at start-up
    from ..modes import get_mode

    shipped = SHIPPED_MODELS / get_mode(mode).default_model
    path = Path(os.environ.get("TUNESMITH_MODEL", shipped)) if mode is None else shipped
    if not path.exists():
        raise TunesmithError(f"no shipped model at {path}; run `make models` or pass --model")
    return path
