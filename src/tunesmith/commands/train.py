"""`tunesmith train`: a char-RNN trained statefully on tunes, MIDI or tabla, with a held-out split."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from ..errors import TunesmithError
from .runtime import err, set_threads


def train(
    corpus: list[str] = typer.Option([], "--corpus", help="Bundled corpus name, file or folder; repeat to combine."),
    mode: str = typer.Option("abc", help="abc (tunes in ABC), midi (MIDI files) or tabla (bols)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder to create (latest/ and best/ checkpoints)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Run folder to carry on exactly where it stopped."),
    preset: str = typer.Option("seed", help="seed, small, large or gru."),
    codec: Optional[str] = typer.Option(None, help="abc: abc-chars (default, one symbol per character) or abc-tokens."),
    epochs: Optional[int] = typer.Option(None, help="Total epochs of the run (default: 30; with --resume, unchanged)."),
    seed: int = typer.Option(0, help="Seeds the weights, dropout and data order."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch."),
    batch: Optional[int] = typer.Option(None, help="Streams per batch (overrides the preset)."),
    seq: Optional[int] = typer.Option(None, help="BPTT length (overrides the preset)."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate (overrides the preset)."),
    limit: Optional[int] = typer.Option(None, help="Train on the first N tunes of the corpus only."),
    checkpoint_every: int = typer.Option(1, help="Write latest/ every N epochs (and always on Ctrl-C)."),
    progress: bool = typer.Option(True, help="Show the progress bar."),
) -> None:
    """Train a char-RNN on tunes, MIDI or tabla (statefully, with a held-out split)."""
    from ..models import get_preset
    from ..train import TrainingInterrupted, new_trainer, resume_trainer

    set_threads(threads)
    if epochs is not None and epochs < 1:
        raise TunesmithError(f"--epochs must be at least 1 (got {epochs})")
    if resume is not None:
        if corpus or out:
            raise TunesmithError("--resume takes the corpus, codec, mode and folder of the run; drop --corpus/--out")
        trainer = resume_trainer(resume, epochs)
    else:
        if out is None:
            raise TunesmithError("--out: name the run folder to create, e.g. --out runs/mine")
        chosen = get_preset(preset)
        overrides = {k: v for k, v in dict(batch=batch, seq=seq, lr=lr, epochs=epochs).items() if v is not None}
        for name in ("batch", "seq"):
            if overrides.get(name, 1) < 1:
                raise TunesmithError(f"--{name} must be at least 1")
        config = replace(chosen.train, seed=seed, checkpoint_every=max(1, checkpoint_every), **overrides)
        trainer = new_trainer(out, corpus, chosen.model, config, limit, codec, mode)
    c = trainer.corpus
    err(f"corpus: {len(c.train)} training pieces, {len(c.held_out)} held out; "
         f"{len(trainer.codec)} symbols; {sum(p.numel() for p in trainer.model.parameters()):,} parameters")
    try:
        progress_made = trainer.run(show_progress=progress)
    except TrainingInterrupted as stop:
        err(f"{stop}\nresume with: tunesmith train --resume {stop.out}")
        raise typer.Exit(130)
    unit = trainer.codec.unit
    for record in progress_made.history:
        err(f"epoch {record['epoch']:>3}: train {record['train_bits_per_symbol']:.3f} bits/{unit}, "
             f"held-out {record['held_out_bits_per_symbol']:.3f} bits/{unit}, {record['symbols_per_second']:,.0f} {unit}s/s")
    err(f"best held-out {progress_made.best_held_out:.3f} bits/{unit}; "
         f"checkpoints in {trainer.out}/best and {trainer.out}/latest")
