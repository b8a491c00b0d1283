"""`tunesmith check`: ABC tunes, MIDI files or tabla compositions against their notation's rules.

Every file named is reported, whatever the others hold: a file that cannot be
read (missing, binary, no piece in it) gets its `error: ...` line on stderr
(and an `{"error": ...}` entry with --json) and the run goes on. The exit
status is the worst of all files: 2 when any could not be read, else 1 when
any piece has a problem, else 0 (warnings, such as an ABC tune without its
X: line, do not fail a check).

--lint (ABC) makes constructs folk tunes do not write problems too (each
message starts with its rule, e.g. `[empty-slur]`); --form (ABC) adds a line
per tune with its form: parts and their bars, repeats, the tonic ending.

--json prints one object, file name -> the list of its pieces (number, title,
line, problems, warnings; each problem or warning has line, col and message;
with --form, "form": parts, bars, repeated_bars, repeat_closes, ends_on_tonic,
key, text), or -> {"error": message} for a file that could not be read.
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
    lint: bool = typer.Option(False, "--lint", help="ABC: constructs folk tunes do not write ((((, (), a slur before a bar line, a decoration ABC 2.1 does not define) are problems too."),
    form: bool = typer.Option(False, "--form", help="ABC: report each tune's form (parts and their bars, repeats, whether it ends on the tonic)."),
) -> None:
    """Check ABC tunes, MIDI files (or their event text) or tabla compositions; exit 1 when any piece has problems, 2 when a file cannot be read."""
    import json

    from ..modes import all_modes, get_mode

    chosen = get_mode(mode)
    levels = {name: True for name, given in (("lint", lint), ("form", form)) if given}
    for name in levels:
        if name not in chosen.check_levels:
            having = ", ".join(m.name for m in all_modes() if name in m.check_levels)
            err(f"error: --{name} is for mode {having}; mode {chosen.name} has no {name} level")
            raise typer.Exit(2)
    results: dict[str, object] = {}
    reports, errors = [], []
    for path in files:
        try:
            report = chosen.check_file(path, **levels)
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
