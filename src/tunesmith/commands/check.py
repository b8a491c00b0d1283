"""`tunesmith check`: ABC tunes, MIDI files or tabla compositions against their notation's rules."""

from __future__ import annotations

from pathlib import Path

import typer

from .runtime import err


def check(
    files: list[Path] = typer.Argument(..., help="Files to check."),
    mode: str = typer.Option("abc", help="abc (tunes: bars, keys, meters, chords), midi (MIDI files, token texts) or tabla (cycles, vibhags, bols)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Check ABC tunes, MIDI files (or their event text) or tabla compositions; exit 1 when any piece has problems."""
    import json

    from ..modes import get_mode

    chosen = get_mode(mode)
    reports = [chosen.check_file(f) for f in files]  # unreadable input: exit 2
    bad = sum(r.bad for r in reports)
    if as_json:
        typer.echo(json.dumps({r.file: r.pieces for r in reports}, indent=1))
    else:
        for r in reports:
            for line in r.lines():
                typer.echo(line)
        err(f"{sum(len(r.pieces) for r in reports)} pieces checked, {bad} with problems")
    if bad:
        raise typer.Exit(1)
