"""`tunesmith evaluate`: a report on how good and how new a model's music is."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..options import DEFAULT_MAX_LENGTH, DEFAULT_TEMPERATURE, DEFAULT_TOP_P
from .runtime import DEVICE_HELP, err, model_path, set_threads, torch_device


def evaluate(
    model: list[Path] = typer.Option([], "--model", help="Checkpoint or run folder; repeat to compare side by side "
                                                      "(default: the shipped model)."),
    heldout: Optional[Path] = typer.Option(None, "--heldout", help="Also score the pieces of this file (bits per symbol)."),
    n: int = typer.Option(200, "-n", help="How many pieces each model writes for the report."),
    seed: int = typer.Option(0, help="Seed of the generated pieces."),
    max_length: int = typer.Option(DEFAULT_MAX_LENGTH, help="Cap on symbols per generated piece."),
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature of the generated pieces "
                                                          f"(default: the mode's, {DEFAULT_TEMPERATURE} for ABC)."),
    top_p: Optional[float] = typer.Option(None, help="Nucleus sampling of the generated pieces; 1 is off "
                                                     f"(default: the mode's, {DEFAULT_TOP_P} for ABC)."),
    output: Path = typer.Option(..., "-o", "--output", help="Report folder to write (replaced if it holds a report)."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
) -> None:
    """A report (Markdown, HTML with plots, JSON): held-out bits, validity, copying, diversity, music statistics."""
    from ..insight.evaluate import Settings
    from ..insight.evaluate import evaluate as run_evaluation
    from ..insight.report import write_report

    set_threads(threads)
    where = str(torch_device(device))
    models = list(model) or [model_path(None)]
    settings = Settings(n=n, seed=seed, heldout=heldout, max_length=max_length, temperature=temperature, top_p=top_p,
                        device=where)
    report = run_evaluation(models, settings, log=err)
    files = write_report(report, output)
    for m in report["models"]:
        g = m["generated"]
        err(f"{m['name']}: {m['heldout']['split']['bits_per_symbol']:.3f} bits/{m['unit']} held out; "
             f"{g['validity']['checker']:.0%} pass the checker; {g['copying']['flagged']} of {g['pieces']} flagged as copies")
    err(f"wrote {output}/: {', '.join(files)} ({report['seconds']:.0f} s)")
