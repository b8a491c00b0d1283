"""The Essen folksong collection (music21's `essenFolksong`, ABC by Seymour Schlien), cleaned for tunesmith.

About 8,500 songs in 31 files: German songs (Erk, Böhme, Zuccalmaglio,
Fink, ballads, children's songs ...), Chinese songs (han1, han2), other
European songs (Luxembourg, Lorraine, Gottschee, Ireland ...). The files
follow conventions of their own, and the cleaning here turns them into
tunesmith's canonical form (music.abc.tunes) or drops them, counting why:

- `O:` ("Europa, Mitteleuropa, Deutschland, Kassel") becomes a normalised
  origin (`O:Germany`, origins.py), which the model learns and
  `generate --origin` asks for; a song whose O: names no country is dropped;
- `R:` holds genre and topic words ("Romanze, Ballade, Lied", "Shange"),
  not a dance rhythm: it is dropped (the songs have no R: line); `N:` (ids
  and notes) and `S:` (source) go, as in every corpus;
- `M:none` and `M:FREI...` (free meter, no bar lengths to keep) are dropped;
  a `]` the conversion left at a field's end (`M: 2/2]`) is removed; German
  key names become ABC's (`K:H` is B, `K:Es` is Eb);
- a line is a phrase, and a line ending at a full bar has no bar line: the
  bar line is written (` |`), else the next phrase would be read as part of
  the same bar; a phrase ending mid-bar goes on into the next line (as ABC
  reads it: a line end is not a bar line), and the tune's last line ends
  with a bar line;
- meter or unit changes inside a tune, voices and lyrics lines: the
  collection has none (a tune with a meter change would be dropped);
- what `tunesmith check` still finds wrong (mostly bars of the wrong length,
  some of them errors of the encoding) is dropped.

The music21 test files (test*.abc) are left out: they are fixtures, some
deliberately broken. `essen_collection()` gives the kept songs and the counts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache

from ..music.abc.bars import DurationReader
from ..music.abc.check import check_tune
from ..music.abc.lexer import tokens
from ..music.abc.origins import essen_origin
from ..music.abc.tunes import FIELD_RE, Tune, canonical_tune, dedupe, split_blocks
from .files import read_text

FOLDER = "essenFolksong"
# German note names in K: (H is B natural, Es is E flat)
_GERMAN_KEYS = {"H": "B", "Es": "Eb", "Hm": "Bm"}
_DROPPED_HEADER = frozenset("ORNS")   # O: is re-added normalised; R: N: S: are not kept
# Drop reasons, in the order they are tested.
NO_ORIGIN = "no country in its O: line"
FREE_METER = "free meter (M:none, M:FREI...)"
METER_CHANGE = "a meter or unit change inside the tune"
NOT_A_TUNE = "no K: line or no music"
DUPLICATE = "an exact duplicate of another song"


@dataclass(frozen=True)
class EssenCollection:
    """The cleaned songs (deduplicated, numbered from 1) and why the others were dropped."""

    files: tuple[str, ...]
    songs: int                     # tune blocks read
    tunes: tuple[Tune, ...]
    dropped: tuple[tuple[str, int], ...]   # (reason, count), most first

    def report(self) -> list[str]:
        """The cleaning in a few lines (for `corpus list --details`)."""
        lines = [f"{self.songs} songs in {len(self.files)} files of music21's {FOLDER}; "
                 f"kept {len(self.tunes)}, dropped {self.songs - len(self.tunes)}:"]
        lines += [f"  {n:>5}  {reason}" for reason, n in self.dropped]
        origins = Counter(t.origin for t in self.tunes)
        lines.append("  kept by origin (O:): " + ", ".join(f"{o} {n}" for o, n in origins.most_common()))
        return lines


def _header_value(letter: str, value: str) -> str:
    value = value.strip().rstrip("]").strip()
    if letter == "K":
        value = _GERMAN_KEYS.get(value, value)
    return value


def clean_song(block: list[str], number: int) -> tuple[Tune | None, str]:
    """One song's block as a canonical tune, or None and the reason it is dropped."""
    header: list[str] = []
    body: list[str] = []
    origin = None
    in_body = False
    for line in block:
        match = FIELD_RE.match(line)
        if in_body:
            if match and match.group(1) in "ML" or re.search(r"\[[ML]:", line):
                return None, METER_CHANGE
            body.append(line)
            continue
        if not match:
            continue
        letter, value = match.group(1), match.group(2)
        if letter == "O" and origin is None:
            origin = essen_origin(value)
        if letter in _DROPPED_HEADER:
            continue
        value = _header_value(letter, value)
        if letter == "M" and (value.lower() == "none" or value.upper().startswith("FREI")):
            return None, FREE_METER
        header.append(f"{letter}:{value}")
        in_body = letter == "K"
    if origin is None:
        return None, NO_ORIGIN
    tune = canonical_tune(header + body, number)
    if tune is None or tune.meter is None:
        return None, NOT_A_TUNE
    tune = replace(tune, rhythm=None, origin=origin, body=close_phrase_bars(tune))
    problems = check_tune(tune.text)
    if problems:
        message = problems[0].message
        if re.match(r"bar \d+ has ", message):
            return None, "bars of the wrong length (tunesmith check)"
        return None, re.sub(r"\d+", "N", message) + " (tunesmith check)"
    return tune, ""


def close_phrase_bars(tune: Tune) -> str:
    """The body with a bar line ending every line that ends at a full bar, and the last line."""
    head = f"M:{tune.meter}\nL:{tune.unit}\nK:{tune.key}\n"
    lines = tune.body.split("\n")
    reader = DurationReader()
    for field in (f"M:{tune.meter}", f"L:{tune.unit}"):
        reader.field(field[0], field[2:])
    closing: set[int] = set()   # 0-based body lines to end with a bar line
    last_kind: dict[int, str] = {}
    skip = head.count("\n")
    for tok in tokens(head + tune.body + "\n")[3 * 2:]:   # the header: three fields and their newlines
        index = tok.line - skip - 1
        if tok.kind == "newline":
            full = reader.meter is not None and reader.duration == reader.meter
            if last_kind.get(index) not in (None, "bar") and (full or index == len(lines) - 1):
                closing.add(index)
                reader.close(tok, "|")
            continue
        reader.token(tok)
        if tok.kind not in ("space", "comment"):
            last_kind[index] = tok.kind
    return "\n".join(line + " |" if i in closing else line for i, line in enumerate(lines))


@lru_cache(maxsize=1)
def essen_collection() -> EssenCollection:
    """Every song of the collection, cleaned and checked (see the module docstring); read once."""
    from .bundled import music21_corpus_dir

    folder = music21_corpus_dir() / FOLDER
    paths = [p for p in sorted(folder.glob("*.abc")) if not p.name.startswith("test")]
    kept: list[Tune] = []
    dropped: Counter = Counter()
    songs = 0
    for path in paths:
        for block in split_blocks(read_text(path)):
            songs += 1
            lines = block[1:] if block and block[0].startswith("X:") else block
            tune, reason = clean_song(lines, len(kept) + 1)
            if tune is None:
                dropped[reason] += 1
            else:
                kept.append(tune)
    unique = dedupe(kept)
    if len(unique) < len(kept):
        dropped[DUPLICATE] = len(kept) - len(unique)
    return EssenCollection(tuple(p.name for p in paths), songs, tuple(unique),
                           tuple(sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))))
