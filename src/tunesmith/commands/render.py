"""`tunesmith render`: MIDI, WAV, SVG, MusicXML and PDF files for every tune of ABC files, or a PDF tunebook."""

from __future__ import annotations

import inspect
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer

from ..errors import TunesmithError
from .runtime import err


DEFAULT_KINDS = "midi,wav,svg"


def _players() -> list[Any]:
    from ..modes import all_modes

    return [m for m in all_modes() if m.player is not None]


def _played_options() -> list[tuple[str, Any, Any]]:
    """The playing options of every mode with a Player (tabla's --lehra, --sa ...), each once: (name, type, Option)."""
    merged: dict[str, tuple[type, list[str], str]] = {}
    for mode in _players():
        for spec in mode.player.option_specs():
            kind, helps, _ = merged.setdefault(spec.name, (spec.type, [], spec.flag))
            helps.append(f"{mode.name}: {spec.info.help}")
    return [(name, kind if kind is bool else Optional[kind],
             typer.Option(False if kind is bool else None, spelled, help=" ".join(helps)))
            for name, (kind, helps, spelled) in merged.items()]


def _render_played(files: list[Path], to: Optional[str], output: Optional[Path], played: dict[str, Any],
                   max_seconds: Optional[float], abc_only: dict[str, bool]) -> tuple[list[Path], list[Path]]:
    """Render the files another mode's Player claims (tabla); returns (the files left for ABC, the files written).

    Every claimed file is planned and measured before any is written; an option of the other side (--transpose
    for tabla, --lehra for ABC) is refused by name, exit 2.
    """
    from ..render.files import parse_kinds
    from ..render.limits import RenderLimits

    claims = {path: next((m for m in _players() if m.player.claims(path)), None) for path in files}
    rest = [path for path, mode in claims.items() if mode is None]
    chosen = {path: mode for path, mode in claims.items() if mode is not None}
    given = {name: value for name, value in played.items() if value not in (None, False)}
    if not chosen:
        if given:
            names = ", ".join("--" + n.replace("_", "-") for n in given)
            owners = ", ".join(m.name for m in _players())
            raise TunesmithError(f"{names}: for {owners} compositions; {', '.join(map(str, files))}: ABC, "
                                 "not tabla notation (a .tabla file, or one with a 'tala:' line)")
        return rest, []
    if not rest:
        wrong = [flag for flag, used in abc_only.items() if used]
        if wrong:
            modes = "/".join(sorted({m.name for m in chosen.values()}))
            raise TunesmithError(f"{', '.join(wrong)}: for ABC tunes; {', '.join(map(str, chosen))}: {modes} "
                                 "notation (tabla's key is --sa)")
    limits = RenderLimits.from_env(max_seconds=max_seconds)
    plans = []
    for path, mode in chosen.items():
        options = mode.player.resolve(given)
        kinds = parse_kinds(to) if to else (["wav"] if given else list(mode.player.kinds))
        plans.append((path, kinds, output if output is not None else path.parent, mode, options))
        mode.player.plan(path, kinds, plans[-1][2], options, limits)   # refuses before anything is written
    written: list[Path] = []
    try:
        with progress_bar(len(plans)) as advance:
            done = advance(len(plans))
            for i, (path, kinds, folder, mode, options) in enumerate(plans, 1):
                written += mode.player.render(path, kinds, folder, options, limits)
                done(i)
    except KeyboardInterrupt:
        err(f"interrupted: {len(written)} files written, each whole")
        raise typer.Exit(130) from None
    return rest, written


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
    to: Optional[str] = typer.Option(None, "--to",
                                     help="What to write, comma-separated: midi, wav, svg, musicxml, pdf (default: midi,wav,svg; tabla: wav,midi, or wav with the tabla options)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Folder to write into (default: beside each ABC file)."),
    chords: bool = typer.Option(False, "--chords", help="Play the chord symbols (\"Am\", \"G7\") as an accompaniment."),
    program: int = typer.Option(0, "--program", help="General MIDI program of the melody, 0-127 (0 piano, 40 violin, 73 flute)."),
    qpm: Optional[float] = typer.Option(None, "--qpm", help="Tempo in quarter notes per minute (default: Q:, else usual for the rhythm)."),
    soundfont: Optional[Path] = typer.Option(None, "--soundfont", help="A .sf2 SoundFont to play the WAV with (default: the built-in synthesiser)."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", help="Refuse tunes that play longer (default: $TUNESMITH_MAX_SECONDS, else 1200; other limits: docs/robustness.md)."),
    transpose: int = typer.Option(0, "--transpose", help="Move every tune this many semitones, -12..12 (e.g. 2: D major to E major), in every file written."),
    book: bool = typer.Option(False, "--book", help="With pdf: one PDF tunebook of all the tunes of each file, <file>.pdf, instead of a PDF per tune."),
    **played: Any,
) -> None:
    """Write a MIDI, WAV and SVG (sheet music) file, or MusicXML and PDF, for every tune: <file>-<X>-<title>.<ext>;
    exit 1 if any tune fails, 2 if a file cannot be read. Tabla compositions (a .tabla file, or one with a 'tala:'
    line) are written as <file>.wav and <file>.mid, the WAV played as the tabla options say (lehra, ramp, laya).

    A tune beyond a render limit (too long, too many notes, too large), or with no key to transpose, refuses the
    whole batch: exit 2, nothing written. Ctrl-C stops between tunes; the files written so far are whole.
    """
    from ..render.files import (RenderOptions, RenderReport, in_key, not_transposable, over_limits, parse_kinds,
                                refuse_not_transposable, refuse_over_limits, render_book_into, render_into,
                                tunes_to_render)
    from ..render.limits import RenderLimits

    files, written = _render_played(files, to, output, played, max_seconds,
                                    {"--chords": chords, "--program": program != 0, "--qpm": qpm is not None,
                                     "--soundfont": soundfont is not None, "--transpose": transpose != 0,
                                     "--book": book})
    if written:
        typer.echo(f"wrote {len(written)} files to {', '.join(sorted({str(p.parent) for p in written}))}", err=True)
    if not files:  # only other modes' files: they are written
        return
    kinds = parse_kinds(to or DEFAULT_KINDS)
    if book and "pdf" not in kinds:
        raise TunesmithError(f"--book makes a PDF tunebook: add pdf to --to (got --to {to or DEFAULT_KINDS})")
    options = RenderOptions(program=program, chords=chords, qpm=qpm, soundfont=soundfont, transpose=transpose)
    options.check()
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
    for path, tunes in batches:  # what is read past without changing a note (%%MIDI ...): said, not refused
        for line in ignored_lines(tunes):
            err(f"warning: {path}: {line}")
    # ... and every tune is checked for a key to move and against the render limits: one that fails writes nothing
    count = sum(len(tunes) for _, tunes in batches)
    refuse_not_transposable([f"{path}: {problem}" for path, tunes in batches
                             for problem in not_transposable(tunes, transpose)], transpose, count)
    refuse_over_limits([f"{path}: {problem}" for path, tunes in batches
                        for problem in over_limits([in_key(t, transpose) for t in tunes], kinds, options, limits)],
                       count)
    total = RenderReport()
    per_tune = [k for k in kinds if not (book and k == "pdf")]
    passes = (1 if per_tune else 0) + (1 if book else 0)  # over each file's tunes: its files, its book
    with progress_bar(count * passes) as advance:
        try:
            for path, tunes in batches:
                folder = output if output is not None else path.parent
                results = []
                if per_tune:
                    results.append(render_into(tunes, per_tune, folder, path.stem, options, limits, checked=True,
                                               done=advance(len(tunes))))
                if book:
                    results.append(render_book_into(tunes, folder, path.stem, options, limits, checked=True,
                                                    done=advance(len(tunes))))
                for result in results:
                    total.written += result.written
                    total.failed += [f"{path}: {problem}" for problem in result.failed]
                total.tunes += len(tunes)
        except KeyboardInterrupt:
            err(f"interrupted: {len(total.written)} files written, each whole")
            raise typer.Exit(130) from None
    try:
        report(total)  # exits 1 when a tune could not be rendered
    except typer.Exit:
        if not unreadable:
            raise
    if unreadable:  # the worst status wins
        err(f"{unreadable} of {len(files)} files could not be read")
        raise typer.Exit(2)


def ignored_lines(abc_texts: list[str]) -> list[str]:
    """"X:1 (title), line 8 of the tune: why", for each thing `music.abc.support.ignored` finds in the tunes."""
    from ..music.abc.support import ignored
    from ..render.files import tune_label

    lines = []
    for abc in abc_texts:
        number, title = tune_label(abc)
        lines += [f"X:{number} ({title or 'untitled'}), line {p.line} of the tune: {p.message}" for p in ignored(abc)]
    return lines


@contextmanager
def progress_bar(total: int) -> Iterator[Callable[[int], Callable[[int], None]]]:
    """A bar on stderr over `total` tune renders (only on a terminal, and only for more than a few tunes).

    Yields `advance(n)`: a callback for one pass over n tunes, which moves the bar as each is done.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    shown = sys.stderr.isatty() and total > 3
    with Progress(TextColumn("render"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), disable=not shown, transient=True) as bar:
        task = bar.add_task("render", total=total)
        moved = [0]

        def advance(n: int) -> Callable[[int], None]:
            base = moved[0]
            moved[0] += n

            def done(i: int) -> None:
                bar.update(task, completed=base + i)
            return done

        yield advance


render.__signature__ = inspect.Signature(
    [p for p in inspect.signature(render).parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=opt)
       for name, kind, opt in _played_options()],
    return_annotation=None)
