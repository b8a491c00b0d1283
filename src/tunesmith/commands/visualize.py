"""`tunesmith visualize`: a piece symbol by symbol, the model's top-5 guesses under each, one neuron's activation."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import TunesmithError
from .runtime import DEVICE_HELP, err, model_path, set_threads, torch_device


def visualize(
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint or run folder (default: the shipped model)."),
    text: Optional[Path] = typer.Option(None, "--text", help="File with the piece to show (its first one; see --tune)."),
    tune: int = typer.Option(1, "--tune", help="Which piece of --text to show (1 = the first)."),
    generate: bool = typer.Option(False, "--generate", help="Show a piece the model writes now (with --seed)."),
    seed: int = typer.Option(0, help="Seed of the --generate piece."),
    layer: Optional[int] = typer.Option(None, help="Layer of the neuron, 1 = first (default: the last; with auto: any)."),
    neuron: str = typer.Option("auto", help="Neuron number (0-based), or auto: the one that tracks structure best."),
    head: Optional[str] = typer.Option(None, help="A transformer's attention head LAYER.HEAD (e.g. 1.0) in place "
                                                  "of a neuron: each symbol shows the attention it receives."),
    heldout: Optional[Path] = typer.Option(None, "--heldout", help="Pieces for --neuron auto (default: the model's held-out split)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="HTML file to write (default: viz.html, unless --surprise is given)."),
    surprise: Optional[Path] = typer.Option(None, "--surprise", help="Also (or instead, without -o) write the piece's "
                                            "sheet music as SVG, each note coloured by the model's surprise at it "
                                            "(ABC models)."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
) -> None:
    """An HTML page: a piece symbol by symbol, the model's top-5 guesses under each, one neuron's activation."""
    from ..atomic import write_text_atomic
    from ..checkpoint import load_checkpoint
    from ..insight.visualize import (build_head_view, build_view, check_choice, check_head, piece_from_file,
                                     render_page)
    from ..insight.surprise import check_abc
    from ..modes import mode_of

    set_threads(threads)
    if (text is None) == (not generate):
        raise TunesmithError("give either --text FILE or --generate (with --seed)")
    ckpt = load_checkpoint(model_path(model), torch_device(device))
    if surprise is not None:
        check_abc(ckpt, "--surprise")
    if output is None and surprise is None:
        output = Path("viz.html")
    if output is not None:  # before minutes of work, not after
        if head is not None:
            check_head(ckpt, head)
        else:
            check_choice(ckpt, layer, neuron)
    if generate:
        from ..modes import GenerateRequest

        piece = mode_of(ckpt.meta).generate(ckpt, GenerateRequest(n=1, seed=seed)).pieces[0]
        where = "the generated piece"
    else:
        piece, where = piece_from_file(ckpt, text, tune), str(text)
    if surprise is not None:
        write_surprise(ckpt, piece, where, surprise)
    if output is None:
        return
    reference = None
    if heldout is not None:
        reference = [p.text for p in mode_of(ckpt.meta).load_source(str(heldout))]
    if head is not None:
        view = build_head_view(ckpt, piece, head, where)
    else:
        view = build_view(ckpt, piece, layer, neuron, reference, where)
    for finding in view.findings:
        err(finding.describe())
    write_text_atomic(output, render_page(view, ckpt.codec.vocab))
    err(f"wrote {output}: {len(view.reading.symbols)} {view.unit}s, {view.label()}")


def write_surprise(ckpt, piece: str, where: str, path: Path) -> None:
    """The piece's sheet music with each note coloured by the model's surprise, as an SVG file."""
    from ..atomic import write_text_atomic
    from ..insight.surprise import surprise_map
    from ..render import render_svg

    try:
        svg = render_svg(piece)
    except TunesmithError as exc:  # a tune verovio cannot engrave: say which option asked for the score
        raise TunesmithError(f"--surprise {path}: {exc}") from None
    found = surprise_map(ckpt, piece, svg, where)
    write_text_atomic(path, found.svg)
    err(f"wrote {path}: {found.describe(piece)}")
