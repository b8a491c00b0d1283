"""The `tunesmith` command. Thin: parse the request, call the library, print."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from .errors import TunesmithError
from .options import DEFAULT_TEMPERATURE, DEFAULT_TOP_P

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Learn music as a sequence of symbols and compose new music.")
corpus_app = typer.Typer(no_args_is_help=True, help="List and export the bundled corpora.")
app.add_typer(corpus_app, name="corpus")

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "default"


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _emit(text: str, output: Optional[Path], count: int) -> None:
    """ABC text to stdout, or whole to a file (never half-written)."""
    from .atomic import write_text_atomic

    if output is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(output, text)
        _err(f"wrote {count} tunes to {output}")


def _threads(threads: Optional[int]) -> None:
    if threads is not None:
        if threads < 1:
            raise TunesmithError(f"--threads must be at least 1 (got {threads})")
        import torch

        torch.set_num_threads(threads)


@corpus_app.command("list")
def corpus_list() -> None:
    """The bundled corpora of every mode, with piece and character counts."""
    from .modes import available_modes, get_mode

    typer.echo(f"{'mode':<6} {'name':<14} {'pieces':>6} {'chars':>9}  description")
    for mode_name in available_modes():
        mode = get_mode(mode_name)
        for name, description in mode.corpora().items():
            pieces, chars = mode.count_corpus(name) if mode.count_corpus else ("?", "?")
            typer.echo(f"{mode_name:<6} {name:<14} {pieces:>6} {chars:>9}  {description}")


@corpus_app.command("export")
def corpus_export(
    sources: list[str] = typer.Argument(..., help="Bundled corpus names, ABC files or folders."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="File to write (default: stdout)."),
    limit: Optional[int] = typer.Option(None, help="Keep only the first N tunes."),
    strict: bool = typer.Option(False, help="Drop the tunes `tunesmith check` finds problems in."),
) -> None:
    """Clean tunes (canonical ABC, duplicates removed) as one ABC file."""
    from .corpus.load import source_tunes
    from .music.abc.check import check_tune
    from .music.abc.tunes import dedupe, join_tunes

    tunes = dedupe([t for spec in sources for t in source_tunes(spec)])
    if strict:
        kept = dedupe([t for t in tunes if not check_tune(t.text)])
        _err(f"--strict: dropped {len(tunes) - len(kept)} of {len(tunes)} tunes with problems")
        tunes = kept
    if limit is not None:
        tunes = tunes[: max(limit, 0)]
    _emit(join_tunes(tunes), output, len(tunes))


@app.command()
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
    from .models import get_preset
    from .train import TrainingInterrupted, new_trainer, resume_trainer

    _threads(threads)
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
    _err(f"corpus: {len(c.train)} training pieces, {len(c.held_out)} held out; "
         f"{len(trainer.codec)} symbols; {sum(p.numel() for p in trainer.model.parameters()):,} parameters")
    try:
        progress_made = trainer.run(show_progress=progress)
    except TrainingInterrupted as stop:
        _err(f"{stop}\nresume with: tunesmith train --resume {stop.out}")
        raise typer.Exit(130)
    from .modes import get_mode

    unit = get_mode(trainer.corpus.mode).unit if trainer.codec.name != "abc-tokens" else "token"
    for record in progress_made.history:
        _err(f"epoch {record['epoch']:>3}: train {record['train_bits_per_symbol']:.3f} bits/{unit}, "
             f"held-out {record['held_out_bits_per_symbol']:.3f} bits/{unit}, {record['symbols_per_second']:,.0f} {unit}s/s")
    _err(f"best held-out {progress_made.best_held_out:.3f} bits/{unit}; "
         f"checkpoints in {trainer.out}/best and {trainer.out}/latest")


@app.command()
def generate(
    n: int = typer.Option(5, "-n", help="How many pieces."),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint or run folder (default: the shipped model of --mode)."),
    mode: Optional[str] = typer.Option(None, help="Without --model: whose shipped model to use (abc, midi, tabla)."),
    seed: int = typer.Option(0, help="Same seed, same music."),
    temperature: float = typer.Option(DEFAULT_TEMPERATURE, help="Above 0; lower is safer, higher is wilder."),
    top_k: Optional[int] = typer.Option(None, help="Sample among the k likeliest symbols only."),
    top_p: float = typer.Option(DEFAULT_TOP_P, help="Sample among the likeliest symbols whose probabilities sum to p; 1 is off."),
    argmax: bool = typer.Option(False, help="Always take the likeliest symbol."),
    primer: Optional[str] = typer.Option(None, help=r"Start of the piece; \n is a newline. abc: with X: it is the whole header."),
    meter: Optional[str] = typer.Option(None, help="abc: M: of every tune, e.g. 6/8."),
    key: Optional[str] = typer.Option(None, help="abc: K: of every tune, e.g. D, Ador."),
    rhythm: Optional[str] = typer.Option(None, help="abc: R: of every tune, e.g. jig, reel, hornpipe."),
    length: Optional[str] = typer.Option(None, help="abc: L: (unit note length) of every tune, e.g. 1/8."),
    free: bool = typer.Option(False, "--free", help="Sample freely: no well-formedness constraints (bars may not add up)."),
    primer_file: Optional[Path] = typer.Option(None, help="midi: a MIDI file whose opening the piece continues."),
    bars: Optional[int] = typer.Option(None, help="midi: stop after N bars."),
    seconds: Optional[float] = typer.Option(None, help="midi: stop after S seconds."),
    tala: Optional[str] = typer.Option(None, help="tabla: the cycle, e.g. teentaal, jhaptaal, rupak."),
    cycles: Optional[int] = typer.Option(None, help="tabla: how many cycles."),
    tempo: Optional[float] = typer.Option(None, help="tabla/midi: beats per minute."),
    render: Optional[str] = typer.Option(None, help="Also write these beside -o, comma-separated: midi, wav, svg, pianoroll."),
    max_length: int = typer.Option(2000, help="Cap on symbols per piece."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="File to write (default: stdout where the mode allows)."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch."),
) -> None:
    """Write new music with a trained model (ABC tunes, MIDI or tabla, as the model's mode says)."""
    from .checkpoint import load_checkpoint
    from .modes import GenerateRequest, get_mode, mode_of
    from .options import Sampling, Style

    _threads(threads)
    sampling = Sampling(temperature, top_k, top_p, argmax)
    sampling.check()
    style = Style(meter, length, rhythm, key).checked()
    if n < 1:
        raise TunesmithError(f"-n must be at least 1 (got {n})")
    if model is None:
        default = DEFAULT_MODEL.parent / get_mode(mode).default_model
        path = Path(os.environ.get("TUNESMITH_MODEL", default)) if mode is None else default
        if not path.exists():
            raise TunesmithError(f"no shipped model at {path}; run `make models` or pass --model")
    else:
        path = model
    ckpt = load_checkpoint(path)
    chosen = mode_of(ckpt.meta)
    if mode is not None and mode != chosen.name:
        raise TunesmithError(f"--mode {mode}: the model at {path} is a {chosen.name} model")
    kinds = tuple(k.strip() for k in render.split(",") if k.strip()) if render else ()
    request = GenerateRequest(
        n=n, seed=seed, sampling=sampling, style=style,
        primer=primer.replace("\\n", "\n") if primer is not None else None, primer_file=primer_file,
        max_length=max_length, free=free, bars=bars, seconds=seconds, tala=tala, cycles=cycles, tempo=tempo,
        output=output, render=kinds,
    )
    result = chosen.generate(ckpt, request)
    if result.stdout:
        sys.stdout.write(result.stdout)
    if result.message:
        _err(result.message)


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="Files to check."),
    mode: str = typer.Option("abc", help="abc (tunes: bars, keys, meters, chords), midi (MIDI files, token texts) or tabla (cycles, vibhags, bols)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Check ABC tunes, MIDI files (or their event text) or tabla compositions; exit 1 when any piece has problems."""
    import json

    from .modes import get_mode

    chosen = get_mode(mode)
    reports = [chosen.check_file(f) for f in files]  # unreadable input: exit 2
    bad = sum(r.bad for r in reports)
    if as_json:
        typer.echo(json.dumps({r.file: r.pieces for r in reports}, indent=1))
    else:
        for r in reports:
            for line in r.lines():
                typer.echo(line)
        _err(f"{sum(len(r.pieces) for r in reports)} pieces checked, {bad} with problems")
    if bad:
        raise typer.Exit(1)


@app.command()
def package(
    run: Path = typer.Argument(..., help="Training run folder (with best/ and latest/)."),
    dest: Path = typer.Argument(..., help="Checkpoint folder to write, e.g. models/default."),
    name: str = typer.Option("default", help="Model name for the card."),
) -> None:
    """Ship a run's best checkpoint (weights + config, no optimizer) with a model card."""
    from .modelcard import package_run

    package_run(run, dest, name)
    _err(f"wrote {dest}/model.safetensors, config.json and MODEL_CARD.md")


# Commands defined in their own modules
from .commands import __name__ as _commands  # noqa: E402,F401
from .commands import serve  # noqa: E402,F401
from .commands import insight  # noqa: E402,F401
from .commands import render as render_command  # noqa: E402,F401  (generate has a `render` option)


def main() -> None:
    """Entry point: user errors print one line and exit 2, without a traceback."""
    try:
        app()
    except TunesmithError as exc:
        _err(f"error: {exc}")
        sys.exit(2)


if __name__ == "__main__":
    # Run as `python -m tunesmith.cli`, this file is __main__, but the commands in their own
    # modules register on tunesmith.cli.app: run that module's app, which has them all.
    from tunesmith.cli import main as _main

    _main()
