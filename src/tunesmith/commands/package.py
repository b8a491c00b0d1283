"""`tunesmith package`: a training run as a shippable checkpoint with a model card."""

from __future__ import annotations

from pathlib import Path

import typer

from .runtime import err


def package(
    run: Path = typer.Argument(..., help="Training run folder (with best/ and latest/)."),
    dest: Path = typer.Argument(..., help="Checkpoint folder to write, e.g. models/default."),
    name: str = typer.Option("default", help="Model name for the card."),
    copy: bool = typer.Option(True, "--copy/--no-copy",
                              help="Fit the copy model (a piece's own earlier phrases, mixed into sampling) on the training pieces."),
    notes: Path = typer.Option(None, help="A Markdown file added to the model card as written (what was compared, say)."),
) -> None:
    """Ship a run's best checkpoint (weights + config, no optimizer) with a model card."""
    from ..modelcard import package_run

    package_run(run, dest, name, copy=copy, notes=notes)
    err(f"wrote {dest}/model.safetensors, config.json and MODEL_CARD.md")
