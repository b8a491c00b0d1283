"""`tunesmith render`: MIDI, WAV and SVG files for every tune of ABC files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import TunesmithError
from .runtime import err


def report(result) -> None:
    """A RenderReport on stderr: say what was written and which tunes failed; exit 1 when any did (the rest are written)."""
    folders = sorted({str(p.parent) for p in result.written})
    typer.echo(f"wrote {len(result.written)} files for {result.tunes} tunes to {', '.join(folders) or 'nowhere'}",
               err=True)
    for problem in result.failed:
        typer.echo(f"not rendered: {problem}", err=True)
    if result.failed:
        raise typer.Exit(1)


def render(
    files: list[Path] = typer.Argument(..., help="ABC files; every tune in them is rendered."),
    to: str = typer.Option("midi,wav,svg", "--to", help="What to write, comma-separated: midi, wav, svg."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Folder to write into (default: beside each ABC file)."),
    chords: bool = typer.Option(False, "--chords", help="Play the chord symbols (\"Am\", \"G7\") as an accompaniment."),
    program: int = typer.Option(0, "--program", help="General MIDI program of the melody, 0-127 (0 piano, 40 violin, 73 flute)."),
    qpm: Optional[float] = typer.Option(None, "--qpm", help="Tempo in quarter notes per minute (default: Q:, else usual for the rhythm)."),
    soundfont: Optional[Path] = typer.Option(None, "--soundfont", help="A .sf2 SoundFont to play the WAV with (default: the built-in synthesiser)."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", help="Refuse tunes that play longer (default: $TUNESMITH_MAX_SECONDS, else 1200; other limits: docs/robustness.md)."),
) -> None:
    """Write a MIDI, WAV and SVG (sheet music) file for every tune: <file>-<X>-<title>.<ext>; exit 1 if any tune fails, 2 if a file cannot be read.

    A tune beyond a render limit (too long, too many notes, too large) refuses the whole batch: exit 2, nothing written.
    """
    from ..render.files import (RenderOptions, RenderReport, over_limits, parse_kinds, refuse_over_limits,
                                render_into, tunes_to_render)
    from ..render.limits import RenderLimits

    kinds = parse_kinds(to)
    options = RenderOptions(program=program, chords=chords, qpm=qpm, soundfont=soundfont)
    limits = RenderLimits.from_env(max_seconds=max_seconds)
    # Every file is read before anything is written. A file that cannot be read (or holds no tune)
    # is reported on its own `error:` line and the others are still rendered; the exit status is 2.
    batches, unreadable = [], 0
    for path in files:
        try:
            batches.append((path, tunes_to_render(path)))
        except TunesmithError as exc:
            err(f"error: {exc}")
            unreadable += 1
    if not batches:
        raise typer.Exit(2)  # as any command's user error: its `error:` lines and nothing else
    # ... and every tune is checked against the render limits: a tune beyond them writes nothing at all
    refuse_over_limits([f"{path}: {problem}" for path, tunes in batches
                        for problem in over_limits(tunes, kinds, options, limits)],
                       sum(len(tunes) for _, tunes in batches))
    total = RenderReport()
    for path, tunes in batches:
        result = render_into(tunes, kinds, output if output is not None else path.parent, path.stem, options,
                             limits, checked=True)
        total.written += result.written
        total.failed += [f"{path}: {problem}" for problem in result.failed]
        total.tunes += result.tunes
    try:
        report(total)  # exits 1 when a tune could not be rendered
    except typer.Exit:
        if not unreadable:
            raise
    if unreadable:  # the worst status wins
        err(f"{unreadable} of {len(files)} files could not be read")
        raise typer.Exit(2)
