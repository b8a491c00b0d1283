"""`tunesmith check`: ABC tunes, MIDI files or tabla compositions against their notation's rules.

Every file named is reported, whatever the others hold: a file that cannot be
read (missing, binary, no piece in it) gets its `error: ...` line on stderr
(and an `{"error": ...}` entry with --json) and the run goes on. The exit
status is the worst of all files: 2 when any could not be read, else 1 when
any piece has a problem, else 0 (warnings, such as an ABC tune without its
X: line, do not fail a check).

--json prints one object, file name -> the list of its pieces (number, title,
line, problems, warnings; each problem or warning has line, col and message),
or -> {"error": message} for a file that could not be read.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import TunesmithError
from .runtime import err


def check(
    files: list[Path] = typer.Argument(..., help="Files to check."),
    mode: str = typer.Option("abc", help="abc (tunes: bars, keys, meters, chords), midi (MIDI files, token texts) or tabla (cycles, vibhags, bols)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output: file -> pieces, or -> {\"error\": ...}."),
) -> None:
    """Check ABC tunes, MIDI files (or their event text) or tabla compositions; exit 1 when any piece has problems, 2 when a file cannot be read."""
    import json

    from ..modes import get_mode

    chosen = get_mode(mode)
    results: dict[str, object] = {}
    reports, errors = [], []
    for path in files:
        try:
            report = chosen.check_file(path)
        except TunesmithError as exc:  # this file only: the others are still checked
            errors.append(str(exc))
            results[str(path)] = {"error": str(exc)}
            err(f"error: {exc}")
            continue
        reports.append(report)
        results[str(path)] = report.pieces
        if not as_json:
            for line in report.lines():
                typer.echo(line)
    if as_json:
        typer.echo(json.dumps(results, indent=1))
    bad = sum(r.bad for r in reports)
    if reports and not as_json:
        warned = sum(r.warned for r in reports)
        summary = f"{sum(len(r.pieces) for r in reports)} pieces checked, {bad} with problems"
        summary += f", {warned} with warnings" if warned else ""
        summary += f"; {len(errors)} of {len(files)} files could not be read" if errors else ""
        err(summary)
    if errors:
        raise typer.Exit(2)
    if bad:
        raise typer.Exit(1)
