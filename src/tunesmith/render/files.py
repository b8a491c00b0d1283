"""Many tunes -> one MIDI, WAV, SVG, MusicXML and PDF file each, named after the tune, written whole.

A file is named `<stem>-<X number>-<slug of the title>.<ext>`, e.g.
`jigs-3-the-kesh.mid`. A tune that cannot be rendered does not stop the
others: it is listed in the report, and its files are not written. A
tunebook (`render_book_into`) is one PDF of all the tunes, `<stem>.pdf`.

A transposition (`RenderOptions.transpose`) moves the ABC text itself
(`music.abc.transpose`) before any kind is made, so that every file of a
tune, score and sound alike, is in the same new key. A tune that has no
key to move (K:none, K:Hp) refuses the whole batch before anything is
written, like a tune beyond the limits.

The render limits (`limits.py`) are checked for every tune of a batch
before anything is written: a tune beyond them (too long, too many notes,
too large a text) refuses the whole batch with a RenderLimitError naming
each such tune and the limit, and no file is written. A limit is a
setting the user can raise, and a refusal comes at once, not after the
other tunes have been rendered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..atomic import write_bytes_atomic, write_text_atomic
from ..corpus.files import readable_blocks
from ..errors import TunesmithError
from ..music.abc.check import tune_blocks
from ..music.abc.transpose import NotTransposable, transpose_tune
from .audio import check_soundfont
from .limits import RenderLimitError, RenderLimits, check_chars, check_svg_chars, current
from .sheet import render_svg
from .tune import check_tune, read_tune, render_midi, render_wav

EXTENSIONS = {"midi": ".mid", "wav": ".wav", "svg": ".svg", "musicxml": ".musicxml", "pdf": ".pdf"}
_ALIASES = {"mid": "midi", "audio": "wav", "sheet": "svg", "xml": "musicxml"}
MAX_TRANSPOSE = 12  # semitones either way: an octave is as far as a player asks


@dataclass(frozen=True)
class RenderOptions:
    """How tunes sound: General MIDI program, chord accompaniment, tempo override, SoundFont; and in what key
    (`transpose`: semitones up, or down when negative, for every kind)."""

    program: int = 0
    chords: bool = False
    qpm: float | None = None
    soundfont: Path | None = None
    transpose: int = 0

    def check(self) -> None:
        """Raise a TunesmithError naming the option that is out of range."""
        if not 0 <= self.program <= 127:
            raise TunesmithError(f"--program {self.program}: a General MIDI program is 0..127")
        if self.qpm is not None and not 1 <= self.qpm <= 2000:
            raise TunesmithError(f"--qpm {self.qpm:g}: give a tempo of 1..2000 quarter notes per minute")
        check_transpose(self.transpose)


def check_transpose(semitones: int, option: str = "--transpose") -> None:
    """A TunesmithError naming `option` unless `semitones` is within an octave either way."""
    if not -MAX_TRANSPOSE <= semitones <= MAX_TRANSPOSE:
        raise TunesmithError(f"{option} {semitones}: give a number of semitones from -{MAX_TRANSPOSE} "
                             f"to {MAX_TRANSPOSE}")


def in_key(abc: str, semitones: int) -> str:
    """The tune moved by `semitones` (itself when 0); NotTransposable when it has no key to move."""
    return transpose_tune(abc, semitones) if semitones else abc


def not_transposable(abc_texts: list[str], semitones: int) -> list[str]:
    """The tunes that cannot move by `semitones`: "X:3 (title): why", one per tune (none when 0)."""
    found = []
    for abc in abc_texts if semitones else []:
        try:
            transpose_tune(abc, semitones)
        except NotTransposable as exc:
            number, title = tune_label(abc)
            found.append(f"X:{number} ({title or 'untitled'}): {exc}")
    return found


@dataclass
class RenderReport:
    """What a batch render wrote, and the tunes (with the reason) it could not render."""

    written: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    tunes: int = 0


def parse_kinds(text: str, option: str = "--to") -> list[str]:
    """"midi,wav,svg" -> ["midi", "wav", "svg"]; an unknown kind is a TunesmithError naming `option`."""
    kinds: list[str] = []
    for raw in text.split(","):
        name = _ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if name not in EXTENSIONS:
            raise TunesmithError(f"{option} {text}: {raw.strip() or '(empty)'!r} is not a kind; "
                                 f"choose from {', '.join(EXTENSIONS)}")
        if name not in kinds:
            kinds.append(name)
    return kinds


def slug(title: str, limit: int = 40) -> str:
    """A file-name-safe form of a title: "The Kesh (Jig)" -> "the-kesh-jig"."""
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return words[:limit].rstrip("-") or "untitled"


def tune_label(abc: str) -> tuple[str, str]:
    """(X: number, title) of a tune's text, for file names and messages."""
    number = re.search(r"^X:\s*(\S+)", abc, re.MULTILINE)
    title = re.search(r"^T:(.*)$", abc, re.MULTILINE)
    return (re.sub(r"[^A-Za-z0-9]", "", number.group(1)) if number else "") or "0", \
        (title.group(1).strip() if title else "")


def render_one(abc: str, kind: str, options: RenderOptions = RenderOptions(),
               limits: RenderLimits | None = None) -> bytes | str:
    """One tune as `kind` (midi, wav, svg, musicxml, pdf), moved by `options.transpose`: bytes for MIDI,
    WAV and PDF, text for SVG and MusicXML.

    A tune beyond `limits` (default: RenderLimits.from_env()) is a RenderLimitError.
    """
    limits = current(limits)
    abc = in_key(abc, options.transpose)
    if kind == "musicxml":
        from .musicxml import abc_to_musicxml

        return abc_to_musicxml(abc, qpm=options.qpm, limits=limits)
    if kind == "pdf":
        from .pdf import render_pdf, title_of

        check_chars(abc, limits)
        check_svg_chars(abc, limits)  # the same engraver as SVG, with the same limit
        return render_pdf(abc, title_of(tune_label(abc)[1]))
    if kind == "midi":
        return render_midi(abc, program=options.program, chords=options.chords, qpm=options.qpm, limits=limits)
    if kind == "wav":
        return render_wav(abc, program=options.program, chords=options.chords, qpm=options.qpm,
                          soundfont=options.soundfont, limits=limits)
    if kind == "svg":
        check_chars(abc, limits)
        check_svg_chars(abc, limits)  # verovio's time grows with the text: refused before it is sent
        return render_svg(abc)
    raise TunesmithError(f"{kind!r} is not a kind; choose from {', '.join(EXTENSIONS)}")


def over_limits(abc_texts: list[str], kinds: list[str], options: RenderOptions = RenderOptions(),
                limits: RenderLimits | None = None) -> list[str]:
    """The tunes that some kind of render would refuse for a limit: "X:3 (title): midi, wav: why", one per tune.

    Only limits are checked (nothing is rendered); a tune that fails otherwise
    (no K: line, no notes, a bad Q:) is left for the render to report.
    """
    limits = current(limits)
    found = []
    for abc in abc_texts:
        number, title = tune_label(abc)
        refused: dict[str, list[str]] = {}  # message -> the kinds it refuses
        for kind in kinds:
            try:
                if kind in ("svg", "pdf"):
                    check_chars(abc, limits)
                    check_svg_chars(abc, limits)
                elif kind == "musicxml":
                    read_tune(abc, limits)  # the same text and time-grid limits as MIDI; no notes are timed
                else:  # MIDI and WAV: the same notes, tempo and length; the WAV's synthesis too
                    check_tune(abc, chords=options.chords, qpm=options.qpm, audio=kind == "wav", limits=limits)
            except RenderLimitError as exc:
                refused.setdefault(str(exc), []).append(kind)
            except TunesmithError:
                pass
        found += [f"X:{number} ({title or 'untitled'}): {', '.join(k)}: {why}" for why, k in refused.items()]
    return found


def refuse_over_limits(problems: list[str], tunes: int) -> None:
    """Raise one RenderLimitError listing `problems` (from `over_limits`) when there are any."""
    if problems:
        n = len(problems)
        which = "the tune exceeds" if tunes == 1 else f"{n} of {tunes} tunes exceed{'s' if n == 1 else ''}"
        raise RenderLimitError(f"{which} a render limit; nothing was written: " + "; ".join(problems))


def refuse_not_transposable(problems: list[str], semitones: int, tunes: int) -> None:
    """Raise one TunesmithError listing `problems` (from `not_transposable`) when there are any."""
    if problems:
        n = len(problems)
        which = "the tune has" if tunes == 1 else f"{n} of {tunes} tunes have"
        raise TunesmithError(f"--transpose {semitones}: {which} no key to move; nothing was written: "
                             + "; ".join(problems))


def render_into(abc_texts: list[str], kinds: list[str], folder: Path, stem: str,
                options: RenderOptions = RenderOptions(), limits: RenderLimits | None = None,
                checked: bool = False, done: Callable[[int], None] | None = None) -> RenderReport:
    """Write each tune as each kind into `folder`; every file whole or not at all.

    Every tune is first checked against `limits` (default: RenderLimits.from_env()) and, with a
    transposition, for a key to move, unless the caller has (`checked`): a tune that fails either
    refuses the batch, and nothing is written. `done(i)` is called when the i-th tune's files are written.
    """
    limits = current(limits)
    options.check()
    if options.soundfont is not None and "wav" in kinds:
        check_soundfont(Path(options.soundfont))  # once, before anything is written
    if not checked:
        refuse_not_transposable(not_transposable(abc_texts, options.transpose), options.transpose, len(abc_texts))
        refuse_over_limits(over_limits([in_key(a, options.transpose) for a in abc_texts], kinds, options, limits),
                           len(abc_texts))
    report = RenderReport(tunes=len(abc_texts))
    used: set[str] = set()
    for i, abc in enumerate(abc_texts):
        number, title = tune_label(abc)
        base = f"{slug(stem, 60)}-{number}-{slug(title)}"
        name, n = base, 1
        while name in used:  # two tunes with the same number and title keep both files
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        failed: dict[str, list[str]] = {}  # why -> the kinds it failed (a tune not played fails MIDI, WAV, MusicXML)
        for kind in kinds:
            try:
                data = render_one(abc, kind, options, limits)
            except TunesmithError as exc:
                failed.setdefault(str(exc), []).append(kind)
                continue
            path = folder / (name + EXTENSIONS[kind])
            (write_text_atomic if isinstance(data, str) else write_bytes_atomic)(path, data)
            report.written.append(path)
        report.failed += [f"X:{number} ({title or 'untitled'}): {', '.join(k)}: {why}" for why, k in failed.items()]
        if done is not None:
            done(i + 1)
    return report


def render_book_into(abc_texts: list[str], folder: Path, stem: str, options: RenderOptions = RenderOptions(),
                     limits: RenderLimits | None = None, checked: bool = False,
                     done: Callable[[int], None] | None = None) -> RenderReport:
    """A tunebook: every tune, moved by `options.transpose`, in one PDF `<folder>/<stem>.pdf`, written whole.

    The same checks as `render_into` come first. A tune that will not engrave is left out of the
    book and listed in the report; no book is written when none engraves. `done(i)` follows the tunes.
    """
    from .pdf import render_book, title_of

    limits = current(limits)
    options.check()
    if not checked:
        refuse_not_transposable(not_transposable(abc_texts, options.transpose), options.transpose, len(abc_texts))
        refuse_over_limits(over_limits([in_key(a, options.transpose) for a in abc_texts], ["pdf"], options, limits),
                           len(abc_texts))
    report = RenderReport(tunes=len(abc_texts))
    try:
        pdf, failed = render_book([in_key(a, options.transpose) for a in abc_texts], title_of(stem),
                                  progress=(lambda i, n: done(i)) if done is not None else None)
    except TunesmithError as exc:
        report.failed.append(f"{stem}.pdf: {exc}")
        return report
    for i, why in failed:
        number, title = tune_label(abc_texts[i])
        report.failed.append(f"X:{number} ({title or 'untitled'}): pdf: {why} (left out of the book)")
    path = folder / f"{slug(stem, 60)}.pdf"
    write_bytes_atomic(path, pdf)
    report.written.append(path)
    return report


def render_files(abc_texts: list[str], kinds: list[str] | tuple[str, ...] | str, output_path: Path,
                 options: RenderOptions = RenderOptions(), limits: RenderLimits | None = None) -> list[Path]:
    """Render tunes beside the ABC file `output_path` (out/new.abc -> out/new-1-<title>.mid ...); the paths written.

    Tunes that cannot be rendered are a TunesmithError listing them, raised
    after the other tunes' files are written; a tune beyond `limits` is a
    RenderLimitError, raised before any file is written.
    """
    kinds = parse_kinds(kinds if isinstance(kinds, str) else ",".join(kinds), "--render")
    output_path = Path(output_path)
    report = render_into(abc_texts, kinds, output_path.parent, output_path.stem, options, limits)
    if report.failed:
        raise TunesmithError(f"{len(report.failed)} renders failed ({len(report.written)} files written beside "
                             f"{output_path}): " + "; ".join(report.failed))
    return report.written


def tunes_to_render(path: Path) -> list[str]:
    """The tunes of an ABC file as written: comments, `%%` directives, lyrics and voices kept, so that what
    `music.abc.support` names points at the lines of the tune as the user wrote them.

    Tunes with several voices (V:) are rendered, every voice played and drawn. A tune without its X: line is
    rendered (with a warning); a file with no tune is the error every command gives for it
    (`corpus.files.readable_blocks`).
    """
    text, usable = readable_blocks(path, voices=True)
    raw = dict(tune_blocks(text, unnumbered=True))  # first line -> the tune's raw text
    return [raw.get(b.line) or "\n".join(b.lines) + "\n" for b in usable]
