"""What a musical language (a *mode*) supplies to the shared trainer, sampler and command line.

Every mode works on *pieces*: objects with `text` (the piece in the mode's
notation, ending with a newline), `text_without_number` (what makes two
pieces the same: duplicates are dropped by it and the held-out split hashes
it) and `title`. In training streams, pieces follow one another with a blank
line between them, so every codec has a newline symbol and a blank line ends
a piece in every mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from ..options import Sampling, Style

if TYPE_CHECKING:
    from ..checkpoint import Checkpoint


class Piece(Protocol):
    """One tune, chorale or composition, in its mode's notation."""

    text: str
    title: str

    @property
    def text_without_number(self) -> str: ...


@dataclass(frozen=True)
class GenerateRequest:
    """Everything `tunesmith generate` can ask; each mode reads the fields it knows."""

    n: int = 5
    seed: int = 0
    sampling: Sampling = Sampling()
    style: Style = Style()              # abc: header fields to fix
    primer: str | None = None           # the start of a piece, in the mode's notation
    primer_file: Path | None = None     # midi: a MIDI opening to continue
    max_length: int = 2000              # cap on symbols per piece
    free: bool = False                  # no well-formedness constraints
    bars: int | None = None             # midi: stop after N bars
    seconds: float | None = None        # midi: stop after S seconds
    tala: str | None = None             # tabla: the cycle
    cycles: int | None = None           # tabla: how many cycles
    tempo: float | None = None          # tabla/midi: beats per minute
    output: Path | None = None          # where to write (None: stdout where the mode allows)
    render: tuple[str, ...] = ()        # extra files to render beside the output: midi, wav, svg, pianoroll


@dataclass
class Generated:
    """What a generate call produced: text for stdout (when no file was named) and a line for stderr."""

    stdout: str = ""
    message: str = ""
    pieces: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """One checked file: per piece a dict with number, title, line and problems.

    Each problem is a dict with at least line, col (1-based) and message; a mode
    may add where in the music it is (abc: bar, tabla: cycle).
    """

    file: str
    pieces: list[dict[str, Any]]
    label: str = "piece "   # how a piece is named before its number: "tune X:", "composition "

    @property
    def bad(self) -> int:
        """How many pieces have problems."""
        return sum(bool(p["problems"]) for p in self.pieces)

    def lines(self) -> list[str]:
        """One `file:line:col: piece: message` line per problem, for people."""
        return [f"{self.file}:{q['line']}:{q['col']}: {self.label}{p['number']} ({p['title']}): {q['message']}"
                for p in self.pieces for q in p["problems"]]


@dataclass(frozen=True)
class Mode:
    """A musical language: its codecs, corpora, generation and checker."""

    name: str
    description: str
    codecs: tuple[str, ...]                                   # the first is the default
    unit: str                                                 # what one symbol is called: char, token, event, bol
    default_model: str                                        # folder under models/ of the shipped model
    corpora: Callable[[], dict[str, str]]                     # bundled corpus name -> description
    load_source: Callable[[str], list[Any]]                   # bundled name, file or folder -> pieces
    dedupe: Callable[[list[Any]], list[Any]]                  # drop repeated pieces (by text_without_number)
    generate: Callable[["Checkpoint", GenerateRequest], Generated]
    check_file: Callable[[Path], CheckReport]
    count_corpus: Callable[[str], tuple[int, int]] | None = None  # name -> (pieces, characters) for `corpus list`
