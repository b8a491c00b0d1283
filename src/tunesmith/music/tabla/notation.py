"""The plain-text notation of a tabla composition: reading, checking and writing it.

```
title: Delhi kaida, theme
tala: teentaal
tempo: 90
form: kaida
Dha Dha Ti Ta | Dha Dha Tin Na | Ta Ta Ti Ta | Dha Dha Dhin Na ||
Dha
```

- A header of `key: value` lines: `tala` (required), `title`, `tempo`
  (matras per minute), `form` (theka, kaida, rela, tihai, tukda, ...).
- Then bols separated by spaces or newlines; one bol is one matra. `-` is a
  silent matra. Bols sharing a matra are written in brackets, `[Dha Ge]`, or
  joined with capitals, `DhaTi`; they divide the matra equally.
- `|` between vibhags, `||` at the end of every cycle. Each cycle must have
  the tala's matras, and where it has `|` marks its vibhags must be the
  tala's (4+4+4+4 in teentaal).
- A single matra after the last `||` is the sam the composition lands on.
- `#` starts a comment; a blank line ends a composition, so a file can hold
  many. A block with neither a header line nor bols (a note in prose) is not
  a composition; a file with no composition is one error everywhere
  (`errors.no_pieces`).

The *canonical* text (`Composition.text`, what the models learn) has the
`tala` and `form` lines, then one cycle per line with every vibhag marked,
canonical bol spellings, and the landing on its own line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import TunesmithError, no_pieces
from .bols import COMPOUNDS, SILENCE, normalise, split_joined, suggest
from .talas import TALAS, Tala, find_tala, get_tala, unknown_tala_message

Matra = tuple[str, ...]          # the bols sounding in one matra, in turn; (SILENCE,) for a rest
HEADER_KEYS = ("title", "tala", "tempo", "form")
MAX_TEMPO = 1000.0
_TOKEN = re.compile(r"\|\||\||\[|\]|[^\s\[\]|]+")
_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*:\s*(.*?)\s*$")
_FORM = re.compile(r"[a-z][a-z-]*")
TABLA_PIECES = "tabla compositions"
TABLA_HINT = "a composition is a 'tala:' line and cycles of bols ending with '||'"


@dataclass(frozen=True)
class Problem:
    """Something wrong in a composition: where (1-based line and column) and in which cycle (0: none)."""

    line: int
    col: int
    cycle: int
    message: str


@dataclass(frozen=True)
class Composition:
    """A composition in a tala: whole cycles of matras, and the sam it lands on."""

    tala: str
    cycles: tuple[tuple[Matra, ...], ...]
    landing: Matra | None = None
    form: str | None = None
    title: str = ""
    tempo: float | None = None
    number: int = field(default=1, compare=False)
    line: int = field(default=1, compare=False)

    @property
    def text(self) -> str:
        """The canonical text (see the module docstring)."""
        tala = TALAS[self.tala]
        lines = [f"tala: {self.tala}"] + ([f"form: {self.form}"] if self.form else [])
        lines += [cycle_text(tala, cycle) for cycle in self.cycles]
        if self.landing is not None:
            lines.append(matra_text(self.landing))
        return "\n".join(lines) + "\n"

    @property
    def text_without_number(self) -> str:
        """What makes two compositions the same: the canonical text (titles and tempo aside)."""
        return self.text

    def file_text(self) -> str:
        """The composition as a file holds it: title and tempo too."""
        head = f"title: {self.title}\n" if self.title else ""
        text = self.text
        if self.tempo is not None:
            first, rest = text.split("\n", 1)
            text = f"{first}\ntempo: {self.tempo:g}\n{rest}"
        return head + text

    def matras(self) -> list[Matra]:
        """Every matra in playing order, the landing included."""
        out = [m for cycle in self.cycles for m in cycle]
        return out + ([self.landing] if self.landing is not None else [])


def matra_text(matra: Matra) -> str:
    """`Dha` for one bol, `[Dha Ti]` for several sharing the matra."""
    return matra[0] if len(matra) == 1 else "[" + " ".join(matra) + "]"


def cycle_text(tala: Tala, cycle: tuple[Matra, ...] | list[Matra]) -> str:
    """One cycle on one line, `|` between the tala's vibhags and `||` at the end."""
    parts, start = [], 0
    for length in tala.vibhags:
        parts.append(" ".join(matra_text(m) for m in cycle[start:start + length]))
        start += length
    return " | ".join(parts) + " ||"


def fold_group(items: list[str]) -> Matra:
    """A bracket group as a matra: one item alone, a compound's strokes as the compound ([Ti Ra Ki Ta] -> Tirakita)."""
    group = tuple(items)
    for name, parts in COMPOUNDS.items():
        if group == parts:
            return (name,)
    return group


@dataclass
class _Cycles:
    """Reads body tokens into cycles against a tala (None: counts unchecked), collecting problems."""

    tala: Tala | None
    problems: list[Problem] = field(default_factory=list)
    cycles: list[tuple[Matra, ...]] = field(default_factory=list)
    pending: list[Matra] = field(default_factory=list)
    vibhags: list[int] = field(default_factory=list)   # lengths of the closed vibhags of the cycle being read
    group: list[str] | None = None
    group_at: tuple[int, int] = (0, 0)
    cycle_at: tuple[int, int] | None = None

    def problem(self, line: int, col: int, message: str) -> None:
        self.problems.append(Problem(line, col, len(self.cycles) + 1, message))

    def word(self, text: str, line: int, col: int) -> list[str]:
        bol = normalise(text)
        if bol is not None:
            return [bol]
        joined = split_joined(text)
        if joined is not None:
            return joined
        near = suggest(text)
        hint = f"; did you mean {near!r}?" if near else ""
        self.problem(line, col, f"unknown bol {text!r}{hint}")
        return ["?"]

    def token(self, tok: str, line: int, col: int) -> None:
        if self.cycle_at is None:
            self.cycle_at = (line, col)
        if tok == "[":
            if self.group is not None:
                self.problem(line, col, "'[' inside a bracket group; groups do not nest")
            self.group, self.group_at = [], (line, col)
        elif tok == "]":
            if self.group is None:
                self.problem(line, col, "']' without '['")
            elif not self.group:
                self.problem(line, col, "empty brackets '[]'")
                self.group = None
            else:
                self.pending.append(fold_group(self.group))
                self.group = None
        elif tok in ("|", "||"):
            if self.group is not None:
                self.problem(line, col, f"{tok!r} inside brackets; close the group with ']' first")
                if self.group:  # count it as a matra, so that the cycle's count is not wrong as well
                    self.pending.append(fold_group(self.group))
                self.group = None
            self._close_vibhag(line, col, tok)
            if tok == "||":
                self._close_cycle()
        elif self.group is not None:
            self.group.extend(self.word(tok, line, col))
        else:
            bols = self.word(tok, line, col)
            self.pending.append(tuple(bols) if len(bols) > 1 else (bols[0],))

    def _close_vibhag(self, line: int, col: int, tok: str) -> None:
        length = len(self.pending) - sum(self.vibhags)
        if length == 0 and (tok == "|" or self.vibhags):
            self.problem(line, col, f"an empty vibhag before {tok!r}")
        elif length:
            self.vibhags.append(length)

    def _close_cycle(self) -> None:
        line, col = self.cycle_at or (0, 0)
        number, n, tala = len(self.cycles) + 1, len(self.pending), self.tala
        if tala is not None and n != tala.matras:
            self.problem(line, col, f"cycle {number} has {n} matras; {tala.name} has {tala.matras} ({tala.shape})")
        elif tala is not None and len(self.vibhags) > 1 and tuple(self.vibhags) != tala.vibhags:
            self.problem(line, col, f"cycle {number}: vibhags of {'+'.join(map(str, self.vibhags))} matras; "
                                    f"{tala.name} divides its {tala.matras} as {tala.shape}")
        self.cycles.append(tuple(self.pending))
        self.pending, self.vibhags, self.cycle_at = [], [], None

    def finish(self, line: int) -> Matra | None:
        """End of the body: the landing matra, if any; problems for what is left unfinished."""
        if self.group is not None:
            self.problem(*self.group_at, "'[' is never closed with ']'")
            self.group = None
        landing = None
        if len(self.pending) == 1 and self.cycles and not self.vibhags:
            landing = self.pending[0]
            if landing == (SILENCE,):
                self.problem(*(self.cycle_at or (line, 1)), "the composition lands on a silent matra; "
                                                           "the sam after the last '||' must be a bol")
        elif self.pending:
            need = f" of {self.tala.matras}" if self.tala else ""
            self.problem(*(self.cycle_at or (line, 1)), f"cycle {len(self.cycles) + 1} is not closed with '||' "
                                                       f"({len(self.pending)}{need} matras)")
        elif not self.cycles:
            self.problem(line, 1, "no bols: a composition needs at least one cycle ending with '||'")
        return landing


@dataclass
class Reading:
    """One composition of a text as read: what it says (None when unreadable) and what is wrong."""

    number: int
    title: str
    line: int
    problems: list[Problem]
    composition: Composition | None

    def to_dict(self) -> dict:
        """JSON form, as `tunesmith check --json` prints it."""
        return {"number": self.number, "title": self.title, "line": self.line,
                "problems": [vars(p) for p in self.problems]}


def _blocks(text: str) -> list[list[tuple[int, str]]]:
    """Compositions of a text: runs of non-blank lines (comments removed) that `_is_composition`, with 1-based line numbers."""
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if line.strip():
            blocks[-1].append((number, line))
        elif not raw.strip() and blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b and _is_composition(b)]


def _is_composition(block: list[tuple[int, str]]) -> bool:
    """Whether a block is a composition (perhaps a faulty one) rather than other text.

    It is when it has a header line (`tala:`, `title:` ...), a vibhag or cycle
    mark, or when at least half of its words are bols (so that a misspelt bol
    is still reported, while a sentence that happens to hold "take" is not).
    """
    words = []
    for _, line in block:
        match = _HEADER.match(line)
        if match and match.group(1).lower() in HEADER_KEYS:
            return True
        for tok in _TOKEN.findall(line):
            if tok in ("|", "||"):
                return True
            if tok not in ("[", "]"):
                words.append(tok)
    bols = [w for w in words if (normalise(w) or SILENCE) != SILENCE or split_joined(w) is not None]
    return 2 * len(bols) >= len(words) > 0 and bool(bols)


def _header(key: str, value: str, line: int, fields: dict, problems: list[Problem]) -> None:
    key = key.lower()
    if key not in HEADER_KEYS:
        problems.append(Problem(line, 1, 0, f"unknown header field {key!r} (known: {', '.join(HEADER_KEYS)})"))
    elif key == "tala":
        tala = find_tala(value)
        fields["tala"] = tala
        if tala is None:
            problems.append(Problem(line, 1, 0, unknown_tala_message(value)))
    elif key == "tempo":
        try:
            tempo = float(value)
        except ValueError:
            tempo = None
        if tempo is None or not 0 < tempo <= MAX_TEMPO:
            problems.append(Problem(line, 1, 0, f"tempo {value!r}: must be a number of matras per minute "
                                                f"above 0 and at most {MAX_TEMPO:g}"))
        else:
            fields["tempo"] = tempo
    elif key == "form":
        if _FORM.fullmatch(value.lower()):
            fields["form"] = value.lower()
        else:
            problems.append(Problem(line, 1, 0, f"form {value!r}: one lower-case word, e.g. kaida, tihai, theka"))
    else:
        fields["title"] = value


def read_block(block: list[tuple[int, str]], number: int) -> Reading:
    """Read one composition (its lines with their numbers)."""
    fields: dict = {}
    problems: list[Problem] = []
    body_start = 0
    for body_start, (line_no, line) in enumerate(block):
        match = _HEADER.match(line)
        if not match:
            break
        _header(match.group(1), match.group(2), line_no, fields, problems)
    else:
        body_start = len(block)
    first = block[0][0]
    has_tala = "tala" in fields
    tala = fields.get("tala")
    if not has_tala:
        problems.append(Problem(first, 1, 0, "no 'tala:' line; write one before the bols, e.g. 'tala: teentaal'"))
    reader = _Cycles(tala)
    for line_no, line in block[body_start:]:
        if _HEADER.match(line):
            reader.problem(line_no, 1, "a header line after the bols; put title/tala/tempo/form lines first")
            continue
        for match in _TOKEN.finditer(line):
            reader.token(match.group(), line_no, match.start() + 1)
    landing = reader.finish(block[-1][0])
    problems += reader.problems
    title = fields.get("title", "")
    composition = None
    if tala is not None and not problems:
        composition = Composition(tala.name, tuple(reader.cycles), landing, fields.get("form"), title,
                                  fields.get("tempo"), number, first)
    return Reading(number, title, first, sorted(problems, key=lambda p: (p.line, p.col)), composition)


def read_text(text: str) -> list[Reading]:
    """Every composition in a text, read and checked."""
    return [read_block(block, i) for i, block in enumerate(_blocks(text), 1)]


def read_file(path: Path) -> list[Reading]:
    """Every composition in a file; an unreadable or binary file, or one without a composition, is a TunesmithError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TunesmithError(f"{path}: cannot read ({exc.strerror})") from None
    if b"\x00" in data[:65536]:
        raise TunesmithError(f"{path}: a binary file, not tabla notation")
    text = data.decode("utf-8", errors="replace")
    readings = read_text(text)
    if not readings:
        raise no_pieces(path, TABLA_PIECES, TABLA_HINT, text)
    return readings


def compositions_in_file(path: Path) -> list[Composition]:
    """The compositions of a file for training; the first problem in it is a TunesmithError."""
    out = []
    for reading in read_file(path):
        if reading.problems:
            p = reading.problems[0]
            where = f"cycle {p.cycle}: " if p.cycle else ""
            extra = len(reading.problems) - 1
            more = f" (and {extra} more; see `tunesmith check --mode tabla {path}`)" if extra else ""
            raise TunesmithError(f"{path}:{p.line}:{p.col}: {where}{p.message}{more}")
        out.append(reading.composition)
    return out


def parse_matras(text: str, tala: Tala, where: str) -> list[Matra]:
    """The matras of a fragment in `tala` (a primer): marks, when given, must fall where the tala puts them."""
    reader = _Cycles(None)
    for line_no, line in enumerate(text.splitlines() or [""], 1):
        for match in _TOKEN.finditer(line):
            tok = match.group()
            reader.token(tok, line_no, match.start() + 1)
            done = sum(len(c) for c in reader.cycles) + len(reader.pending)
            at = done % tala.matras
            if tok == "||" and at != 0 or tok == "|" and at not in tala.boundaries:
                raise TunesmithError(f"{where}: {tok!r} after matra {done}, but {tala.name} ({tala.shape}) "
                                     f"puts {'the end of a cycle' if tok == '||' else 'a vibhag mark'} elsewhere")
    if reader.group is not None:
        reader.problem(*reader.group_at, "'[' is never closed with ']'")
    if reader.problems:
        raise TunesmithError(f"{where}: {reader.problems[0].message}")
    matras = [m for cycle in reader.cycles for m in cycle] + reader.pending
    if not matras:
        raise TunesmithError(f"{where}: no bols")
    return matras


def theka(tala: Tala | str) -> list[Matra]:
    """One cycle of the tala's theka."""
    tala = get_tala(tala) if isinstance(tala, str) else tala
    return parse_matras(tala.theka, tala, f"theka of {tala.name}")
