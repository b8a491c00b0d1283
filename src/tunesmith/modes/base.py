"""What a musical language (a *mode*) supplies to the shared trainer, sampler, command line and web app.

Every mode works on *pieces*: objects with `text` (the piece in the mode's
notation, ending with a newline), `text_without_number` (what makes two
pieces the same: duplicates are dropped by it and the held-out split hashes
it) and `title`. In training streams, pieces follow one another with a blank
line between them, so every codec has a newline symbol and a blank line ends
a piece in every mode.

A mode's own generation options (ABC's meter and key, tabla's tala ...) are
a frozen dataclass whose fields are declared with `option(...)`: the
`tunesmith generate` command and the web forms and API are built from these
declarations, so a mode adds an option without touching the others.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from ..errors import TunesmithError
from ..options import DEFAULT_CANDIDATES, Sampling

if TYPE_CHECKING:
    from ..checkpoint import Checkpoint
    from ..codecs.base import Codec
    from ..insight.measures import Measures


class Piece(Protocol):
    """One tune, chorale or composition, in its mode's notation."""

    text: str
    title: str

    @property
    def text_without_number(self) -> str: ...


# -- a mode's own options ---------------------------------------------------------

@dataclass(frozen=True)
class OptionInfo:
    """How one option is offered: its help, and how the web form shows it."""

    help: str                                   # the CLI's help and the API's description
    label: str = ""                             # the web form's label; "" keeps it off the form (API only)
    suggest: tuple[str, ...] = ()               # web: values offered as you type (any text is allowed)
    choices: Callable[[], list[tuple[str, str]]] | None = None  # web: a select of (value, text)
    minimum: float | None = None                # web: a number input's bounds and step
    maximum: float | None = None
    step: str = "any"
    max_chars: int | None = None                # API: the longest text accepted
    group: str = ""                             # web: check boxes are grouped under this legend
    cli: bool = True                            # an option of `tunesmith generate`


def option(default: Any, help: str, **info: Any) -> Any:
    """A field of a mode's options dataclass, declared with what the CLI and the web show (see OptionInfo)."""
    return field(default=default, metadata={"option": OptionInfo(help, **info)})


def flag(name: str) -> str:
    """An option's command-line spelling: primer_file -> --primer-file."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class OptionSpec:
    """One declared option, read off a mode's options dataclass."""

    name: str            # the field's name: the API field; `--name-with-dashes` on the command line
    type: type           # str, int, float, bool or Path (never None: "not given" is None)
    default: Any
    info: OptionInfo

    @property
    def flag(self) -> str:
        """The command-line spelling."""
        return flag(self.name)

    @property
    def widget(self) -> str:
        """How a web form asks for it: select, checkbox, number or text."""
        if self.info.choices is not None:
            return "select"
        if self.type is bool:
            return "checkbox"
        return "number" if self.type in (int, float) else "text"


def option_specs(options: type) -> list[OptionSpec]:
    """The declared options of a mode's options dataclass, in field order."""
    hints = typing.get_type_hints(options)
    specs = []
    for f in dataclasses.fields(options):
        hint = hints[f.name]
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        specs.append(OptionSpec(f.name, hint, f.default, f.metadata["option"]))
    return specs


# -- requests and results ------------------------------------------------------------

@dataclass(frozen=True)
class GenerateRequest:
    """What every mode is asked for the same way; `options` holds the mode's own (its options dataclass)."""

    n: int = 5
    seed: int = 0
    sampling: Sampling = Sampling()
    primer: str | None = None           # the start of a piece, in the mode's notation
    max_length: int | None = None       # cap on symbols per piece (None: the mode's default)
    free: bool = False                  # no well-formedness constraints
    output: Path | None = None          # where to write (None: stdout where the mode allows)
    render: tuple[str, ...] = ()        # extra files to render beside the output (the mode's `renders`)
    options: Any = None                 # an instance of the mode's `options` (None: all its defaults)


@dataclass(frozen=True)
class RewriteRequest:
    """What `tunesmith infill` and `tunesmith vary` ask of a mode: a piece of a file (or of a text: the web API),
    and what to rewrite in it."""

    path: Path | None = None        # the file with the piece (None: `text` holds it)
    text: str | None = None         # the piece's text itself, one piece (the web API's `text` field); messages name it "text"
    piece: str | None = None        # which piece of the file (ABC: its X: number); None: the file's only one
    bars: str | None = None         # infill: the bars (tabla: the cycles) to rewrite, e.g. "9-12"
    amount: float | None = None     # vary: the share of the piece's bars to rewrite
    n: int = 1                      # how many versions
    seed: int = 0
    candidates: int = DEFAULT_CANDIDATES  # sampled per rewrite; the one that leads best into the rest is kept
    sampling: Sampling = Sampling()
    output: Path | None = None      # where to write (None: stdout)
    progress: Callable[[str], None] | None = None  # told of long work as it goes (the CLI: a line on stderr)


@dataclass
class Generated:
    """What a generate call produced: text for stdout (when no file was named) and a line for stderr.

    Infill and vary add what the web API answers with: `about`, the request's
    whole (infill: the range, the candidates, the bits of the piece's own
    bars), and `details`, one dict per piece (its bits, or what it changed).
    """

    stdout: str = ""
    message: str = ""
    pieces: list[str] = field(default_factory=list)
    about: dict = field(default_factory=dict)
    details: list[dict] = field(default_factory=list)


@dataclass
class CheckReport:
    """One checked file: per piece a dict with number, title, line, problems and warnings.

    Each problem or warning is a dict with at least line, col (1-based) and
    message; a mode may add where in the music it is (abc: bar, tabla: cycle).
    A problem fails the check (exit 1); a warning is something read past (an
    ABC tune without its X: line) and does not. A piece without a number
    (number "") is named by its line.
    """

    file: str
    pieces: list[dict[str, Any]]
    label: str = "piece "   # how a piece is named before its number: "tune X:", "composition "
    piece: str = "piece"    # what one is called where it has no number: "tune"

    def __post_init__(self) -> None:
        for p in self.pieces:
            p.setdefault("warnings", [])  # every piece has both lists, whatever the mode

    @property
    def bad(self) -> int:
        """How many pieces have problems."""
        return sum(bool(p["problems"]) for p in self.pieces)

    @property
    def warned(self) -> int:
        """How many pieces have warnings."""
        return sum(bool(p["warnings"]) for p in self.pieces)

    def lines(self) -> list[str]:
        """One `file:line:col: piece: message` line per problem (and `...: warning: message` per warning), for people."""
        out = []
        for p in self.pieces:
            name = f"{self.label}{p['number']}" if p["number"] != "" else f"{self.piece} at line {p['line']}"
            if "form" in p:  # `check --form`: what the piece is made of, one line
                out.append(f"{self.file}:{p['line']}: {name} ({p['title']}): form {p['form']['text']}")
            found = [(q, "") for q in p["problems"]] + [(q, "warning: ") for q in p["warnings"]]
            for q, level in sorted(found, key=lambda f: (f[0]["line"], f[0]["col"])):
                out.append(f"{self.file}:{q['line']}:{q['col']}: {name} ({p['title']}): {level}{q['message']}")
        return out


# -- the mode itself ---------------------------------------------------------------------

def imported(module: str, name: str) -> Callable[[], Any]:
    """A function giving `module.name`, importing the module when first called (a mode's heavy parts wait)."""
    return lambda: getattr(importlib.import_module(module), name)


def deferred(module: str, name: str) -> Callable[..., Any]:
    """The function `module.name`, its module imported when it is first called."""
    return lambda *args, **kwargs: getattr(importlib.import_module(module), name)(*args, **kwargs)


@dataclass(frozen=True)
class WebTab:
    """A mode's tab in the web app: where its page is, how the navigation names it, and what serves it."""

    path: str                   # the tab's page, e.g. "/tabla"
    title: str                  # e.g. "Tabla"
    module: str | None = None   # the module whose `router` serves the page and its API (None: the app's home)


@dataclass(frozen=True)
class Player:
    """How `tunesmith render` plays a mode's own files (files of other modes are ABC's).

    `options` is a dataclass of `option(...)` fields, as a mode's generation options are: each becomes a flag
    of `tunesmith render` (and the mode's web player may offer the same fields).
    """

    options: type                                             # its playing options (fields made with `option`)
    claims: Callable[[Path], bool]                            # whether a file is in the mode's notation
    plan: Callable[..., Any]                                  # (path, kinds, folder, options, limits): refuses
    # ^ what cannot be rendered (a TunesmithError), before anything of any file is written
    render: Callable[..., list[Path]]                         # (path, kinds, folder, options, limits) -> written
    kinds: tuple[str, ...] = ()                               # what --to may ask of its files

    def option_specs(self) -> list[OptionSpec]:
        """Its declared playing options."""
        return option_specs(self.options)

    def resolve(self, given: dict[str, Any]) -> Any:
        """Its options from those given (other players' are left out)."""
        own = {spec.name for spec in self.option_specs()}
        return self.options(**{k: v for k, v in given.items() if k in own})


@dataclass(frozen=True)
class Mode:
    """A musical language: everything the shared layers need to know about it, in one place.

    Callables that need the mode's heavier modules import them when called,
    so that reading a mode (e.g. for `tunesmith --help`) stays cheap.
    """

    name: str
    description: str                                          # one line, for listings
    writes: str                                               # what its models write, in messages: "ABC", "MIDI"
    about: str                                                # what its models are, for model cards
    corpus_note: str                                          # how its corpora are prepared, for model cards
    codecs: tuple[type["Codec"], ...]                         # the first is the default
    default_model: str                                        # folder under models/ of the shipped model
    options: type                                             # its options dataclass (fields made with `option`)
    corpora: Callable[[], dict[str, str]]                     # bundled corpus name -> description
    count_corpus: Callable[[str], tuple[int, int]]            # name -> (pieces, characters) for `corpus list`
    load_source: Callable[[str], list[Any]]                   # bundled name, file or folder -> pieces
    dedupe: Callable[[list[Any]], list[Any]]                  # drop repeated pieces (by text_without_number)
    write: Callable[["Checkpoint", GenerateRequest], list[Any]]  # new pieces, in the mode's own objects
    generate: Callable[["Checkpoint", GenerateRequest], Generated]  # `tunesmith generate`: pieces, files
    check_file: Callable[..., CheckReport]
    # ^ (path, **levels) -> its report; the levels a mode reads are named in check_levels
    measures: Callable[[], "Measures"]                        # what `evaluate` and `visualize` measure
    suffix: str                                               # file suffix of its pieces as text
    renders: tuple[str, ...] = ()                             # what `generate --render` can write beside
    piece: str = "piece"                                      # what one piece is called: tune, composition
    primer_help: str = "The start of the piece, in the mode's notation."
    max_length: int = 2000                                    # default cap on symbols per piece
    min_length: int = 16                                      # the least cap a piece can be written in
    sampling: Sampling = Sampling()                           # default sampling
    web: WebTab | None = None                                 # its own tab in the web app, if any
    profile: Callable[[list[Any]], dict] | None = None        # what generation keeps from the training pieces
    # ^ besides the weights (ABC: the table of headers), stored in the checkpoint's corpus record
    check_levels: tuple[str, ...] = ()                        # what `check` can add: "lint", "form"
    infill: Callable[["Checkpoint", RewriteRequest], Generated] | None = None  # `tunesmith infill`: bars rewritten
    vary: Callable[["Checkpoint", RewriteRequest], Generated] | None = None    # `tunesmith vary`: a variation
    player: Player | None = None                              # `tunesmith render` of its own files, if any
    rewrites: str = "bar"                                     # what infill's range counts: "bar", or tabla's "cycle"
    details: Callable[["Checkpoint", GenerateRequest, list[str]], list[dict]] | None = None
    # ^ (checkpoint, request, the pieces' texts) -> per piece, what `generate --json` and the web API add
    # to its text (ABC: its title and nearest training tune)

    @property
    def unit(self) -> str:
        """What one symbol of its default codec is called: char, token, event, bol."""
        return self.codecs[0].unit

    def option_specs(self) -> list[OptionSpec]:
        """Its own generation options."""
        return option_specs(self.options)

    def resolve_options(self, given: dict[str, Any]) -> Any:
        """Its options from those a user gave (None: not given); an option of another mode is an error."""
        own = {spec.name for spec in self.option_specs()}
        for name, value in given.items():
            if value is not None and name not in own:
                raise TunesmithError(f"{flag(name)} is for other modes; this model writes {self.writes} (mode {self.name})")
        return self.options(**{k: v for k, v in given.items() if v is not None})

    def options_of(self, request: GenerateRequest) -> Any:
        """The request's options for this mode (its defaults when none were given)."""
        return self.options() if request.options is None else request.options

    def max_length_of(self, request: GenerateRequest) -> int:
        """The request's cap on symbols per piece."""
        return self.max_length if request.max_length is None else request.max_length
