"""`tunesmith corpus list` and `tunesmith corpus export`: the bundled corpora, and clean ABC from any source."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .runtime import err

app = typer.Typer(no_args_is_help=True, help="List and export the bundled corpora.")


@app.command("list")
def corpus_list(
    details: bool = typer.Option(False, "--details", help="Also say how corpora were cleaned: what was dropped, why."),
) -> None:
    """The bundled corpora of every mode, with piece and character counts."""
    from ..modes import all_modes

    typer.echo(f"{'mode':<6} {'name':<14} {'pieces':>6} {'chars':>9}  description")
    reports: dict[tuple[str, ...], list[str]] = {}
    for mode in all_modes():
        for name, description in mode.corpora().items():
            pieces, chars = mode.count_corpus(name)
            typer.echo(f"{mode.name:<6} {name:<14} {pieces:>6} {chars:>9}  {description}")
            if details and mode.name == "abc":
                from ..corpus.bundled import cleaning_report

                report = tuple(cleaning_report(name))
                if report:
                    reports.setdefault(report, []).append(name)
    for report, names in reports.items():
        typer.echo(f"\n{', '.join(names)}: " + "\n".join(report))


@app.command("export")
def corpus_export(
    sources: list[str] = typer.Argument(..., help="Bundled corpus names, ABC files or folders."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="File to write (default: stdout)."),
    limit: Optional[int] = typer.Option(None, help="Keep only the first N tunes."),
    strict: bool = typer.Option(False, help="Drop the tunes `tunesmith check` finds problems in."),
) -> None:
    """Clean tunes (canonical ABC, duplicates removed) as one ABC file."""
    from ..atomic import write_text_atomic
    from ..corpus.load import export_tunes
    from ..music.abc.tunes import join_tunes

    tunes, dropped, total = export_tunes(sources, strict, limit)
    if strict:
        err(f"--strict: dropped {dropped} of {total} tunes with problems")
    text = join_tunes(tunes)
    if output is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(output, text)
        err(f"wrote {len(tunes)} tunes to {output}")
