"""`tunesmith train`: a char-RNN trained statefully on tunes, MIDI or tabla, with a held-out split."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from ..errors import TunesmithError
from .runtime import DEVICE_HELP, err, set_threads


def train(
    corpus: list[str] = typer.Option([], "--corpus", help="Bundled corpus name, file or folder; repeat to combine."),
    mode: str = typer.Option("abc", help="abc (tunes in ABC), midi (MIDI files) or tabla (bols)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder to create (latest/ and best/ checkpoints)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Run folder to carry on exactly where it stopped."),
    arch: Optional[str] = typer.Option(None, help="lstm, gru or transformer (default: the preset's; lstm)."),
    preset: Optional[str] = typer.Option(
        None, help="seed, small, large, gru, transformer, transformer-small or transformer-gpu "
                   "(default: seed; with --arch gru: gru; with --arch transformer: transformer)."),
    codec: Optional[str] = typer.Option(None, help="abc: abc-chars (default, one symbol per character) or abc-tokens."),
    epochs: Optional[int] = typer.Option(None, help="Total epochs of the run (default: 30; with --resume, unchanged)."),
    seed: int = typer.Option(0, help="Seeds the weights, dropout and data order."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch."),
    batch: Optional[int] = typer.Option(None, help="Streams per batch (overrides the preset)."),
    seq: Optional[int] = typer.Option(None, help="BPTT length (overrides the preset)."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate (overrides the preset)."),
    dropout: Optional[float] = typer.Option(None, help="Dropout in [0, 0.9] (overrides the preset)."),
    weight_decay: Optional[float] = typer.Option(None, help="Decoupled weight decay (AdamW) on weight matrices, e.g. 0.01 (default 0: Adam)."),
    patience: Optional[int] = typer.Option(None, help="Stop early when held-out bits have not improved for N epochs (default 0: never); best/ keeps the best."),
    minutes: Optional[float] = typer.Option(None, help="Stop once this many CPU minutes of training are spent (the process's CPU time, all threads; at a batch boundary, measured and saved like an epoch's end)."),
    limit: Optional[int] = typer.Option(None, help="Train on the first N tunes of the corpus only."),
    checkpoint_every: int = typer.Option(1, help="Write latest/ every N epochs (and always on Ctrl-C)."),
    transpose: Optional[str] = typer.Option(
        None, help="ABC: add the training tunes again in other keys: none (default), common (the other "
                   "common keys of each tune's mode, from the corpus) or all12. The held-out tunes are never moved."),
    chords: Optional[str] = typer.Option(
        None, help="ABC: add the training tunes (and their transposed copies) again with chord symbols, one a bar "
                   "or half bar from the melody and key: none (default) or add. The held-out tunes are never changed."),
    progress: bool = typer.Option(True, help="Show the progress bar."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    precision: Optional[str] = typer.Option(
        None, help="fp32 (default), bf16 or fp16 (CUDA only): the arithmetic of forward and loss (autocast); "
                   "weights and checkpoints stay fp32. With --resume: the run's."),
) -> None:
    """Train a char-RNN or a transformer on tunes, MIDI or tabla (with a held-out split).

    Under `torchrun --nproc_per_node N -m tunesmith train ...` N processes train one run together
    (data-parallel: each an equal share of --batch's streams); rank 0 writes the run folder.
    """
    from ..accel import check_precision, close_process_group, dist_from_env, init_process_group, resolve_device

    set_threads(threads)
    dist = dist_from_env()
    where = resolve_device(device, dist.local_rank)
    if precision is not None:
        check_precision(precision, where)
    say = err if dist.main else (lambda message: None)
    init_process_group(dist, where)
    try:
        _train(corpus, mode, out, resume, arch, preset, codec, epochs, seed, batch, seq, lr, dropout, weight_decay,
               patience, minutes, limit, checkpoint_every, transpose, chords, progress, precision, where, dist, say)
    finally:
        close_process_group()


def _train(corpus, mode, out, resume, arch, preset, codec, epochs, seed, batch, seq, lr, dropout, weight_decay,
           patience, minutes, limit, checkpoint_every, transpose, chords, progress, precision, where, dist, err) -> None:
    """The run itself; `err` speaks only on rank 0."""
    from ..models import DEFAULT_PRESETS, check_arch, get_preset
    from ..train import TrainingInterrupted, new_trainer, resume_trainer

    if arch is not None:
        check_arch(arch)
    if epochs is not None and epochs < 1:
        raise TunesmithError(f"--epochs must be at least 1 (got {epochs})")
    for name, value in (("weight-decay", weight_decay), ("patience", patience), ("minutes", minutes)):
        if value is not None and value < 0:
            raise TunesmithError(f"--{name} must not be negative (got {value})")
    if resume is not None:
        if (corpus or out or arch or preset or transpose or chords or dropout is not None or weight_decay is not None
                or precision is not None):
            raise TunesmithError("--resume takes the corpus, codec, mode, model, optimizer and precision of the run; "
                                 "drop --corpus/--out/--arch/--preset/--transpose/--chords/--dropout/--weight-decay/"
                                 "--precision")
        trainer = resume_trainer(resume, epochs, device=where, dist=dist, minutes=minutes, patience=patience)
    else:
        if out is None:
            raise TunesmithError("--out: name the run folder to create, e.g. --out runs/mine")
        chosen = get_preset(preset or DEFAULT_PRESETS[arch or "lstm"])
        model_config = chosen.model
        if arch is not None and arch != model_config.cell:
            if "transformer" in (arch, model_config.cell):
                raise TunesmithError(f"--arch {arch}: --preset {preset} is a {model_config.cell} preset; "
                                     f"the transformer presets are transformer, transformer-small and transformer-gpu")
            model_config = replace(model_config, cell=arch)  # lstm <-> gru: same sizes, other cells
        overrides = {k: v for k, v in dict(batch=batch, seq=seq, lr=lr, epochs=epochs, weight_decay=weight_decay,
                                           patience=patience, minutes=minutes, precision=precision).items()
                     if v is not None}
        for name in ("batch", "seq"):
            if overrides.get(name, 1) < 1:
                raise TunesmithError(f"--{name} must be at least 1")
        if dropout is not None:
            if not 0 <= dropout <= 0.9:
                raise TunesmithError(f"--dropout must be in [0, 0.9] (got {dropout})")
            model_config = replace(model_config, dropout=dropout)
        if transpose is not None:
            from ..corpus.augment import check_policy

            overrides["transpose"] = check_policy(transpose)
        if chords is not None:
            from ..corpus.augment import check_chords_policy

            overrides["chords"] = check_chords_policy(chords)
        config = replace(chosen.train, seed=seed, checkpoint_every=max(1, checkpoint_every), **overrides)
        trainer = new_trainer(out, corpus, model_config, config, limit, codec, mode, device=where, dist=dist)
    c = trainer.corpus
    if dist.active:
        err(f"torchrun: {dist.world} processes on {where.type} "
            f"({'NCCL' if where.type == 'cuda' else 'gloo'}), {trainer.config.batch // dist.world} streams each")
    elif where.type != "cpu" or trainer.config.precision != "fp32":
        err(f"training on {where} in {trainer.config.precision}")
    err(f"corpus: {len(c.train)} training pieces, {len(c.held_out)} held out; "
         f"{len(trainer.codec)} symbols; {sum(p.numel() for p in trainer.model.parameters()):,} parameters")
    if c.augmentation is not None:
        from ..corpus.augment import describe

        err(describe(c.augmentation))
    if c.harmonisation is not None:
        from ..corpus.augment import describe_chords

        err(describe_chords(c.harmonisation))
    try:
        progress_made = trainer.run(show_progress=progress)
    except TrainingInterrupted as stop:
        err(f"{stop}\nresume with: tunesmith train --resume {stop.out}")
        raise typer.Exit(130)
    unit = trainer.codec.unit
    for record in progress_made.history:
        err(f"epoch {record['epoch']:>3}: train {record['train_bits_per_symbol']:.3f} bits/{unit}, "
             f"held-out {record['held_out_bits_per_symbol']:.3f} bits/{unit}, {record['symbols_per_second']:,.0f} {unit}s/s")
    if progress_made.stopped == "patience":
        err(f"stopped early: held-out bits did not improve for {trainer.config.patience} epochs")
    elif progress_made.stopped == "minutes":
        err(f"stopped: the {trainer.config.minutes:g} CPU-minute budget is spent")
    err(f"best held-out {progress_made.best_held_out:.3f} bits/{unit}; "
         f"checkpoints in {trainer.out}/best and {trainer.out}/latest")
