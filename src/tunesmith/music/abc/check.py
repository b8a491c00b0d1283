"""`tunesmith check`: find what is wrong in ABC tunes, with line:column and bar.

Reads the raw file (not the cleaned corpus form), so that positions point
into the user's own text. A tune starts at an `X:` line and ends at a blank
line; text outside tunes is ignored. Reading a file (`check_text(...,
unnumbered=True)`), a block without its `X:` line that plainly is a tune
(`tunes.reads_as_tune`) is checked too, with a warning that its `X:` is missing.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

from .bars import bars_of, wrong_length_bars
from .lexer import Token, tokens
from .to_events import part_marker
from .tunes import KEY_RE, clean_line, has_music, meter_fraction, reads_as_tune

_CLEF_OR_MORE = re.compile(r"\s+.*$")  # "K:D clef=treble" -> "D"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a tune, where it is (1-based), and in which bar (1-based; 0: none)."""

    line: int
    col: int
    bar: int
    message: str


# Said of a tune read without its X: line; a warning, not a problem: the tune is read and checked.
NO_X_WARNING = "no X: line before this tune; read as a tune (ABC starts every tune with one, e.g. X:1)"


@dataclass(frozen=True)
class TuneReport:
    """A tune of a file, its problems, and its warnings (things read past, that do not fail the check)."""

    number: str          # its X: value; "" when it has no X: line
    title: str
    line: int
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON form."""
        return asdict(self)


def check_tune(text: str, first_line: int = 1) -> list[Problem]:
    """Problems of one tune's text; lines are counted from `first_line`.

    What tunesmith cannot play right in a tune pasted from elsewhere (a voice
    overlay, a tempo change ...: `support.unplayable`) is a problem too.
    """
    from .support import unplayable
    from .voices import has_voices, voice_streams

    offset = first_line - 1
    toks = tokens(text)
    problems: list[Problem] = unplayable(text, first_line, toks)
    key_at = None
    for tok in toks:
        where = (tok.line + offset, tok.col, 0)
        if tok.kind == "field" and tok.text[0] == "M":
            value = tok.text[2:].strip()
            if value not in ("C", "C|", "none", "") and meter_fraction(value) is None:
                problems.append(Problem(*where, f"unknown meter M:{value}"))
        if tok.kind == "field" and tok.text[0] == "K":
            key = _CLEF_OR_MORE.sub("", tok.text[2:].strip())
            if key and not KEY_RE.match(key.replace(" ", "")):
                problems.append(Problem(*where, f"unknown key K:{key}"))
            key_at = where
            break
    if key_at is None:
        problems.append(Problem(first_line, 1, 0, "missing K: field (the header must end with K:)"))
        return problems
    if not _music_after_key(text):
        # The corpus and the renderers skip such a tune (there is nothing to learn or play).
        problems.append(Problem(*key_at, "no music after the K: line (a tune needs notes)"))
    for stream in voice_streams(toks) if has_voices(text) else [toks]:  # each voice's bars and repeats apart
        problems += _body_problems(stream, offset)
    return sorted(problems, key=lambda p: (p.line, p.col))


def _body_problems(toks: list[Token], offset: int) -> list[Problem]:
    """Problems of the music after the header's K: line, of one voice: bars, repeats, chords, characters."""
    problems: list[Problem] = []
    header = True
    chord_open = grace_open = None
    bar_number = 1
    repeats = _Repeats()
    broken_open = False  # a > or < waits for its next note
    for tok in toks:
        if header:
            header = not (tok.kind == "field" and tok.text[0] == "K")
            continue
        where = (tok.line + offset, tok.col, bar_number)
        if tok.kind == "broken":
            if broken_open:
                problems.append(Problem(*where, f"broken rhythm {tok.text} right after another, with no note "
                                                "between: it is ignored"))
            broken_open = True
        elif tok.kind in ("note", "rest", "chord_close"):
            broken_open = False
            repeats.music = True
        if part_marker(tok) is not None and (repeats.open_at is None or repeats.music):
            # A part is played on its own: its repeats too. A part's last `::` (nothing after it) opens a repeat
            # of the next part, which that part must close (abc2midi: "Missing :| at end of tune").
            problems += repeats.end()
            repeats = _Repeats()
        elif tok.kind == "bar":
            if chord_open is not None:
                problems.append(Problem(*chord_open, "unclosed chord ["))
                chord_open = None
            problems += repeats.bar(tok.text, where)
            bar_number += 1
        elif tok.kind == "volta":
            problems += repeats.ending(tok.text[1:], where)
        elif tok.kind == "chord_open":
            chord_open = where
        elif tok.kind == "chord_close" and chord_open is not None:
            chord_open = None
        elif tok.kind == "grace_open":
            grace_open = where
        elif tok.kind == "grace_close":
            grace_open = None
        elif tok.kind == "chord_symbol" and (len(tok.text) < 2 or not tok.text.endswith('"')):
            problems.append(Problem(*where, f"unclosed chord symbol {tok.text}"))
        elif tok.kind == "unknown" and not tok.text.isspace():
            problems.append(Problem(*where, f"unexpected character {tok.text!r}"))
    problems += repeats.end()
    for pending in (chord_open, grace_open):
        if pending is not None:
            problems.append(Problem(*pending, "unclosed chord [" if pending is chord_open else "unclosed grace notes {"))
    for bar, found in wrong_length_bars(bars_of(toks)):
        problems.append(Problem(bar.line + offset, bar.col, bar.index + 1,
                                f"bar {bar.index + 1} has {bar.in_meter_units(found)}, "
                                f"the meter needs {bar.in_meter_units(bar.expected)}"))
    return problems


def _music_after_key(text: str) -> bool:
    """Whether notes follow the first K: line, by the test the corpus reader uses (`tunes.has_music`)."""
    lines = [line for line in map(clean_line, text.split("\n")) if line is not None]
    first_key = next((i for i, line in enumerate(lines) if line.startswith("K:")), len(lines))
    return has_music(lines[first_key + 1:])


class _Repeats:
    """Repeat structure, as abc2midi reads it: the problems it reports as errors.

    A `:|` with no `|:` before it repeats from the start of the tune (or from
    the previous `:|`), as ABC allows; a `|:` opened twice, a first ending
    or a `::` after a `:|` with no `|:` since, and a `|:` never closed are
    errors.
    """

    def __init__(self):
        self.open_at: tuple | None = None   # where the open `|:` is
        self.closed = False                 # a `:|` closed a repeat, and no `|:` came since
        self.music = False                  # a note or rest came since the open `|:`

    def bar(self, text: str, where: tuple) -> list[Problem]:
        problems = []
        digits = re.search(r"\d[\d,-]*$", text)
        body = text[: digits.start()] if digits else text
        if body.startswith(":"):
            if body.endswith(":") and self.open_at is None and self.closed:
                problems.append(Problem(*where, f"{body} after :| with no |: to repeat from "
                                                "(abc2midi: found :: before |:)"))
            self.open_at, self.closed = None, True
        if digits:
            problems += self.ending(digits.group(), where)
        if body.endswith(":") and not (body.startswith(":") and body.count(":") == 1):
            if self.open_at is not None:
                problems.append(Problem(*where, f"{body} opens a repeat while the one at line {self.open_at[0]} is open"))
            self.open_at, self.closed, self.music = where, False, False
        return problems

    def ending(self, number: str, where: tuple) -> list[Problem]:
        if number.startswith("1") and self.open_at is None and self.closed:
            return [Problem(*where, "a first ending after :| with no |: to repeat from")]
        return []

    def end(self) -> list[Problem]:
        if self.open_at is not None:
            return [Problem(*self.open_at, "|: is never closed by :|")]
        return []


def tune_blocks(text: str, unnumbered: bool = False) -> list[tuple[int, str]]:
    """(first line number, text) of every tune in a file's raw text.

    The blocks are the corpus reader's (`tunes.tune_paragraphs`: the same
    lines start and end them), with the user's raw lines. With `unnumbered`,
    a block without an `X:` line that reads as a tune is one too.
    """
    blocks: list[tuple[int, str]] = []
    current: list[str] = []     # raw lines
    cleaned: list[str] = []     # the same, as the corpus reads them (comment lines left out)
    start = 0

    def close() -> None:
        if cleaned and (cleaned[0].startswith("X:") or unnumbered and reads_as_tune(cleaned)):
            blocks.append((start, "\n".join(current) + "\n"))
        current.clear()
        cleaned.clear()

    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        clean = clean_line(line)
        if clean is None:  # a comment line: part of the tune it is in, if any
            if current:
                current.append(line)
            continue
        if clean.startswith("X:") or not clean:
            close()
        if clean:
            if not current:
                start = number
            current.append(line)
            cleaned.append(clean)
    close()
    return blocks


# Above this many characters (a file of thousands of tunes), tunes are
# checked in parallel, one process per core.
_PARALLEL_CHARS = 1_000_000


def _report(block: tuple[int, str]) -> TuneReport:
    from .support import ignored

    start, text = block
    lines = text.split("\n")
    title = next((line[2:].strip() for line in lines if line.startswith("T:")), "")
    first = clean_line(lines[0]) or ""
    numbered = first.startswith("X:")
    warnings = ([] if numbered else [Problem(start, 1, 0, NO_X_WARNING)]) + ignored(text, start)
    return TuneReport(first[2:].strip() if numbered else "", title, start, check_tune(text, start), warnings)


def _linted_report(block: tuple[int, str]) -> TuneReport:
    from .lint import lint_tune

    report = _report(block)
    found = sorted(report.problems + lint_tune(block[1], block[0]), key=lambda p: (p.line, p.col))
    return TuneReport(report.number, report.title, report.line, found, report.warnings)


def check_text(text: str, unnumbered: bool = False, lint: bool = False) -> list[TuneReport]:
    """A report for every tune of a file (with `unnumbered`, tunes without an X: line too, with a warning).

    With `lint`, constructs folk tunes do not write (`lint.RULES`) are problems too.
    """
    blocks = tune_blocks(text, unnumbered)
    report = _linted_report if lint else _report
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(text) < _PARALLEL_CHARS or cores < 2:
        return [report(block) for block in blocks]
    with ProcessPoolExecutor(max_workers=min(cores, 8)) as pool:
        return list(pool.map(report, blocks, chunksize=64))
