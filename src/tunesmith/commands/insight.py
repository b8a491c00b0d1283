"""`tunesmith visualize` and `tunesmith evaluate`: what a model does inside, and how good its music is."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ..cli import DEFAULT_MODEL, _err, _threads, app
from ..errors import TunesmithError
from ..options import DEFAULT_TEMPERATURE, DEFAULT_TOP_P


def _model_path(model: Optional[Path]) -> Path:
    path = model or Path(os.environ.get("TUNESMITH_MODEL", DEFAULT_MODEL))
    if model is None and not path.exists():
        raise TunesmithError(f"no shipped model at {path}; run `make models` or pass --model")
    return path


@app.command()
def visualize(
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint or run folder (default: the shipped model)."),
    text: Optional[Path] = typer.Option(None, "--text", help="File with the piece to show (its first one; see --tune)."),
    tune: int = typer.Option(1, "--tune", help="Which piece of --text to show (1 = the first)."),
    generate: bool = typer.Option(False, "--generate", help="Show a piece the model writes now (with --seed)."),
    seed: int = typer.Option(0, help="Seed of the --generate piece."),
    layer: Optional[int] = typer.Option(None, help="Layer of the neuron, 1 = first (default: the last; with auto: any)."),
    neuron: str = typer.Option("auto", help="Neuron number (0-based), or auto: the one that tracks structure best."),
    heldout: Optional[Path] = typer.Option(None, "--heldout", help="Pieces for --neuron auto (default: the model's held-out split)."),
    output: Path = typer.Option(Path("viz.html"), "-o", "--output", help="HTML file to write."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch."),
) -> None:
    """An HTML page: a piece symbol by symbol, the model's top-5 guesses under each, one neuron's activation."""
    from ..atomic import write_text_atomic
    from ..checkpoint import load_checkpoint
    from ..insight.visualize import build_view, check_choice, piece_from_file, render_page

    _threads(threads)
    if (text is None) == (not generate):
        raise TunesmithError("give either --text FILE or --generate (with --seed)")
    ckpt = load_checkpoint(_model_path(model))
    check_choice(ckpt, layer, neuron)  # before minutes of work, not after
    if generate:
        from ..modes import GenerateRequest, mode_of

        piece = mode_of(ckpt.meta).generate(ckpt, GenerateRequest(n=1, seed=seed)).pieces[0]
        where = "the generated piece"
    else:
        piece, where = piece_from_file(ckpt, text, tune), str(text)
    reference = None
    if heldout is not None:
        from ..modes import mode_of

        reference = [p.text for p in mode_of(ckpt.meta).load_source(str(heldout))]
    view = build_view(ckpt, piece, layer, neuron, reference, where)
    for finding in view.findings:
        _err(finding.describe())
    write_text_atomic(output, render_page(view, ckpt.codec.vocab))
    _err(f"wrote {output}: {len(view.reading.symbols)} {view.unit}s, neuron {view.neuron} of layer {view.layer}")


@app.command()
def evaluate(
    model: list[Path] = typer.Option([], "--model", help="Checkpoint or run folder; repeat to compare side by side "
                                                      "(default: the shipped model)."),
    heldout: Optional[Path] = typer.Option(None, "--heldout", help="Also score the pieces of this file (bits per symbol)."),
    n: int = typer.Option(200, "-n", help="How many pieces each model writes for the report."),
    seed: int = typer.Option(0, help="Seed of the generated pieces."),
    max_length: int = typer.Option(2000, help="Cap on symbols per generated piece."),
    temperature: float = typer.Option(DEFAULT_TEMPERATURE, help="Sampling temperature of the generated pieces."),
    top_p: float = typer.Option(DEFAULT_TOP_P, help="Nucleus sampling of the generated pieces; 1 is off."),
    output: Path = typer.Option(..., "-o", "--output", help="Report folder to write (replaced if it holds a report)."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch."),
) -> None:
    """A report (Markdown, HTML with plots, JSON): held-out bits, validity, copying, diversity, music statistics."""
    from ..insight.evaluate import Settings
    from ..insight.evaluate import evaluate as run_evaluation
    from ..insight.report import write_report
    from ..options import Sampling

    _threads(threads)
    models = list(model) or [_model_path(None)]
    settings = Settings(n=n, seed=seed, heldout=heldout, max_length=max_length,
                        sampling=Sampling(temperature=temperature, top_p=top_p))
    report = run_evaluation(models, settings, log=_err)
    files = write_report(report, output)
    for m in report["models"]:
        g = m["generated"]
        _err(f"{m['name']}: {m['heldout']['split']['bits_per_symbol']:.3f} bits/{m['unit']} held out; "
             f"{g['validity']['checker']:.0%} pass the checker; {g['copying']['flagged']} of {g['pieces']} flagged as copies")
    _err(f"wrote {output}/: {', '.join(files)} ({report['seconds']:.0f} s)")
