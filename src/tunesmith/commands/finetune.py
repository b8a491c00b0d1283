"""`tunesmith finetune`: a trained ABC model adapted to your own tunes, on a CPU-minute budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import TunesmithError
from .runtime import err, model_path, set_threads

PROGRESS = ("bar", "json", "none")


def finetune(
    model: Optional[Path] = typer.Option(None, "--model", help="The model to start from: a checkpoint or run folder "
                                                              "(default: the shipped ABC model, models/default)."),
    corpus: list[str] = typer.Option([], "--corpus", help="Your tunes: a folder of .abc files or one ABC file (a "
                                                          "tunebook); repeat to combine. 20 to 500 tunes suit it."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder to create (best/, latest/, finetune.json)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="A fine-tuning's run folder to carry on where it "
                                                                 "stopped (or, finished, to measure and report again)."),
    minutes: Optional[float] = typer.Option(None, help="CPU minutes of training, in all (default 5; with --resume: "
                                                      "the run's; a larger total lets a finished run go on)."),
    held_out: float = typer.Option(0.2, "--held-out", help="Share of your tunes held out to measure on (drawn by --seed)."),
    seed: int = typer.Option(0, help="Seeds the held-out draw, dropout, data order and the copy check's tunes."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate (default: half the model's own)."),
    patience: Optional[int] = typer.Option(None, help="Stop once held-out bits have not improved for N epochs "
                                                      "(default 8; 0: never); best/ keeps the best."),
    epochs: Optional[int] = typer.Option(None, help="Most epochs (default 1000: the budget or the patience ends it first)."),
    copy_check: int = typer.Option(20, "--copy-check", help="Tunes to generate afterwards to measure copying of "
                                                            "your tunes (0: none)."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch."),
    progress: str = typer.Option("bar", help="bar (on stderr), json (one JSON object a line on stdout, for "
                                             "scripts and the web app) or none."),
) -> None:
    """Fine-tune a model on your own tunes: held-out bits per character before and after, and the copy rate."""
    from .. import finetune as ft
    from ..train import TrainingInterrupted

    set_threads(threads)
    if progress not in PROGRESS:
        raise TunesmithError(f"--progress {progress!r}: choose bar, json or none")
    show = _Status(progress)
    if resume is not None:
        if corpus or out or model is not None or lr is not None or held_out != 0.2:
            raise TunesmithError("--resume takes the model, tunes, split and learning rate of the run; "
                                 "drop --model/--corpus/--out/--lr/--held-out")
        job = ft.resume(resume, minutes, patience, epochs, copy_check)
    else:
        if out is None:
            raise TunesmithError("--out: name the run folder to create, e.g. --out runs/mine")
        settings = ft.Settings(minutes=ft.DEFAULT_MINUTES if minutes is None else minutes, held_out=held_out,
                               seed=seed, lr=lr, patience=ft.DEFAULT_PATIENCE if patience is None else patience,
                               epochs=ft.MAX_EPOCHS if epochs is None else epochs, copy_check=copy_check)
        try:
            job = ft.start(model_path(model), corpus, out, settings, show)
        except KeyboardInterrupt:
            err("interrupted before training; nothing written")
            raise typer.Exit(130)
    show.started(job)
    try:
        ft.train(job, show)
    except TrainingInterrupted as stop:
        show.close()
        err(f"{stop}\nresume with: tunesmith finetune --resume {stop.out}")
        raise typer.Exit(130)
    try:
        report = ft.finish(job, show)
    except KeyboardInterrupt:
        show.close()
        err(f"interrupted while measuring; the training is saved in {job.out}: "
            f"`tunesmith finetune --resume {job.out}` measures and reports again")
        raise typer.Exit(130)
    show.close()
    for line in ft.summary(report):
        err(line)
    err(f"wrote {job.out}/best (the model), latest/ and {ft.REPORT}; "
        f"generate with: tunesmith generate --model {job.out}")


class _Status:
    """What a fine-tuning says while it works: a bar on stderr, JSON lines on stdout, or nothing."""

    def __init__(self, how: str):
        self.how = how
        self.bar = None
        self.task = None

    def __call__(self, status: dict) -> None:
        if self.how == "json":
            typer.echo(json.dumps(status))
        elif self.how == "bar":
            self._show(status)

    def started(self, job) -> None:
        """What is about to be trained: the tunes, and the held-out figure before."""
        c, base = job.trainer.corpus, job.base
        status = {"stage": "started", "run": str(job.out), "model": base["name"], "tunes": len(c.tunes),
                  "train": len(c.train), "held_out": len(c.held_out), "unreadable": len(c.unreadable),
                  "unknown_characters": c.unknown_characters(), "before_bits_per_char": base["held_out_bits_per_char"]}
        if self.how == "json":
            self(status)
        elif self.how == "bar":
            left_out = f"; left out {len(c.unreadable)} with characters the model lacks: {c.unknown_characters()!r}"
            err(f"fine-tuning {base['name']} on {len(c.tunes)} tunes: {len(c.train)} for training, "
                f"{len(c.held_out)} held out{left_out if c.unreadable else ''}; "
                f"held-out {base['held_out_bits_per_char']:.3f} bits/char before")

    def _show(self, status: dict) -> None:
        stage = status["stage"]
        if stage != "training":
            self.close()
            if stage not in ("done",):
                err(f"{stage}...")
            return
        if self.bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("[bold]fine-tuning"), BarColumn(),
                                TextColumn("{task.fields[minutes]}  epoch {task.fields[epoch]}  "
                                           "held-out {task.fields[held]}"),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=False)
            self.bar.start()
            self.task = self.bar.add_task("train", total=status["budget_seconds"], minutes="", epoch=0, held="-")
        held = status["held_out_bits_per_symbol"]
        self.bar.update(self.task, completed=min(status["cpu_seconds"], status["budget_seconds"]),
                        minutes=f"{status['cpu_seconds'] / 60:.2f}/{status['budget_seconds'] / 60:g} CPU min",
                        epoch=status["epoch"], held="-" if held is None else f"{held:.3f} bits/{status['unit']}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
