"""The originality index: the bars of a model's training tunes, for `--max-copy-bars` and its report.

A model that has learned its corpus well can write out a training tune it
knows by heart. The index holds every training tune as its sequence of
bars (`music.abc.barkeys`: what makes two bars the same), so that

- the writer can forbid, while it samples, the bar that would make a run
  of N+1 consecutive bars equal to a run of one training tune
  (`forbidden`, used by `guard.CopyGuard`);
- every generated tune can be given its nearest training tune: the one it
  shares the longest run of consecutive bars with (`longest_copy`).

Which tunes: the training split the checkpoint records (config.json
"corpus": sources, limit, train_hash) and the transposed copies it trained
on (`corpus/augment.py`). The held-out tunes are not in it: the model never
saw them. The index is built once per training set and kept: beside a
shipped model (`models/default/bars.json.gz`, written by `python -m
tunesmith.modes.abc.originality models/default`), else in the cache folder
(`$XDG_CACHE_HOME/tunesmith`, keyed by the training set's hashes). A file
whose hashes are not the checkpoint's is never used (the index is built
again from the corpus), and a corpus that cannot be read, or reads to
other tunes than the model trained on, is refused with one line naming
`--max-copy-bars` (0 generates without the guard).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ...atomic import write_bytes_atomic
from ...errors import TunesmithError
from ...insight.metrics import BarIndex as RunIndex
from ...music.abc.barkeys import bar_text, tune_bars

if TYPE_CHECKING:
    from ...checkpoint import Checkpoint
    from ...music.abc.tunes import Tune

INDEX_FORMAT = 1          # bump when what a bar is (barkeys) or the file changes
SHIPPED_FILE = "bars.json.gz"
OPTION = "--max-copy-bars"

# What the guard asks of a bar written so far (`Forbidden.status`).
FREE, OPEN, COPY = 0, 1, 2


@dataclass(frozen=True)
class Forbidden:
    """The bars that may not come next (each would make a run of N+1 bars of one training tune)."""

    bars: frozenset[tuple[str, ...]]
    prefixes: frozenset[tuple[str, ...]]   # every beginning of those bars, the empty one and whole ones included

    @classmethod
    def of(cls, bars: frozenset[tuple[str, ...]]) -> "Forbidden":
        return cls(bars, frozenset(bar[:i] for bar in bars for i in range(len(bar) + 1)))

    def status(self, elements: tuple[str, ...]) -> int:
        """COPY: these elements are a forbidden bar; OPEN: they begin one; FREE: no forbidden bar begins so."""
        if elements in self.bars:
            return COPY
        return OPEN if elements in self.prefixes else FREE


@dataclass(frozen=True)
class Copy:
    """A tune's nearest training tune: the one it shares the longest run of consecutive bars with."""

    bars: int                        # that run, in bars (0: no bar shared with any training tune)
    tune: int | None = None          # the training tune (its place in the index, from 0)
    title: str | None = None
    shared: int = 0                  # distinct bars of the tune found in that training tune

    def to_json(self, limit: int) -> dict:
        """As `generate --json` and the web API give it; `limit` is the --max-copy-bars it was written under."""
        nearest = None if not self.bars else {"index": self.tune, "title": self.title, "shared_bars": self.shared}
        return {"longest_run": self.bars, "max_copy_bars": limit, "nearest": nearest}


def note(originality: dict | None) -> str:
    """One line for people about a tune's `Copy.to_json`: its nearest training tune and the run they share."""
    if not originality:
        return ""
    limit = originality["max_copy_bars"]
    rule = f"at most {limit} allowed" if limit else "guard off"
    run, nearest = originality["longest_run"], originality["nearest"]
    if not run:
        return f"Shares no bar with any training tune ({rule})"
    shared = nearest["shared_bars"]
    return (f"Nearest training tune: \u201c{nearest['title']}\u201d (no. {nearest['index']}): {run} bar"
            f"{'s' if run > 1 else ''} in a row, {shared} bar{'s' if shared > 1 else ''} in all ({rule})")


class BarIndex:
    """The training tunes as sequences of bar ids, and the bars by id (see the module docstring)."""

    def __init__(self, record: dict, bars: list[str], titles: list[str], tunes: list[list[int]]):
        self.record = record                      # what it was built from: format and hashes
        self.bars = [tuple(b.split(" ")) for b in bars]
        self.ids = {bar: i for i, bar in enumerate(self.bars)}
        self.titles, self.tunes = titles, tunes
        self._lock = threading.Lock()
        self._next: dict[int, dict[tuple[int, ...], list[int]]] = {}
        self._forbidden: dict[tuple[int, ...], Forbidden] = {}
        self._runs: RunIndex | None = None

    @classmethod
    def of_tunes(cls, record: dict, tunes: list["Tune"]) -> "BarIndex":
        """The index of these tunes."""
        ids: dict[tuple[str, ...], int] = {}
        sequences = [[ids.setdefault(bar, len(ids)) for bar in tune_bars(t.text)] for t in tunes]
        return cls(record, [bar_text(bar) for bar in ids], [t.title for t in tunes], sequences)

    def to_bytes(self) -> bytes:
        data = {"record": self.record, "bars": [bar_text(b) for b in self.bars], "titles": self.titles,
                "tunes": self.tunes}
        return gzip.compress(json.dumps(data, separators=(",", ":")).encode(), compresslevel=9, mtime=0)

    @classmethod
    def from_bytes(cls, data: bytes) -> "BarIndex":
        found = json.loads(gzip.decompress(data))
        return cls(found["record"], found["bars"], found["titles"], found["tunes"])

    def bar_id(self, elements: tuple[str, ...]) -> int:
        """The bar's id, or -1 for a bar no training tune has."""
        return self.ids.get(elements, -1)

    def forbidden(self, history: list[int], limit: int) -> Forbidden | None:
        """What may not come after the bars in `history` (ids) under --max-copy-bars `limit`; None: anything may."""
        if limit < 1 or len(history) < limit:
            return None
        key = tuple(history[-limit:])
        if -1 in key:
            return None
        found = self._forbidden.get(key)
        if found is None:
            after = self._followers(limit).get(key)
            if after is None:
                return None
            found = self._forbidden[key] = Forbidden.of(frozenset(self.bars[i] for i in after))
        return found

    def _followers(self, limit: int) -> dict[tuple[int, ...], list[int]]:
        """Every run of `limit` bars in a training tune -> the bars that follow it there; made once per limit
        (0.06 CPU seconds for the folk corpus at 3: the runs are cut by `zip`, not by slicing)."""
        with self._lock:
            table = self._next.get(limit)
            if table is None:
                table = self._next[limit] = {}
                get = table.get
                for bars in self.tunes:
                    for run, after in zip(zip(*(bars[k:] for k in range(limit))), bars[limit:]):
                        found = get(run)
                        if found is None:
                            table[run] = [after]
                        else:
                            found.append(after)
        return table

    def longest_copy(self, text: str) -> Copy:
        """The training tune `text` (a tune) shares the longest run of consecutive bars with, and that run.

        Found as `evaluate` finds a tune's nearest training tune (`insight.metrics.BarIndex.nearest`: of
        equally long runs, the tune sharing more distinct bars, then the first), on the bars read here.
        """
        with self._lock:
            if self._runs is None:
                self._runs = RunIndex(self.tunes)
        found = self._runs.nearest([self.ids.get(bar, -1) for bar in tune_bars(text)])
        if found.piece is None:
            return Copy(0)
        return Copy(found.longest_run, found.piece, self.titles[found.piece], found.shared_bars)


# -- which index a checkpoint has ------------------------------------------------------------------

_LOADED: dict[str, BarIndex] = {}
_LOADING = threading.Lock()


def training_record(meta: dict) -> dict | None:
    """What a checkpoint's index must be built from: the format and its training set's hashes.

    None for a checkpoint that does not record its training corpus (one made by hand): there is
    nothing to guard against, and it is sampled without the guard, as it would be without a header table.
    """
    corpus = meta.get("corpus")
    if not isinstance(corpus, dict) or not corpus.get("sources") or not corpus.get("train_hash"):
        return None
    augmented = (corpus.get("augmentation") or {}).get("augmented_hash")
    return {"format": INDEX_FORMAT, "sources": corpus["sources"], "limit": corpus.get("limit"),
            "train_hash": corpus["train_hash"], "augmented_hash": augmented,
            "transpose": (meta.get("train") or {}).get("transpose", "none"),
            # a fine-tuned model's seeded split, and the vocabulary it kept pieces by (corpus.load.recorded_corpus)
            "split": corpus.get("split"), "codec": meta.get("codec") if corpus.get("split") else None}


def _same_set(found: dict, wanted: dict) -> bool:
    return all(found.get(k) == wanted[k] for k in ("format", "train_hash", "augmented_hash"))


def cache_file(record: dict) -> Path:
    """Where the index of a training set is kept in the cache folder."""
    from ...corpus.midi_bundled import cache_dir

    key = json.dumps([record[k] for k in ("format", "train_hash", "augmented_hash")])
    return cache_dir() / f"bars-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json.gz"


def index_for(ckpt: "Checkpoint", say: Callable[[str], None] | None = None) -> BarIndex | None:
    """The checkpoint's index: in memory, beside it, in the cache, or built now (and kept); see the module docstring.

    None when the checkpoint does not record its corpus (`training_record`). `say` is told when the
    index has to be built (tens of seconds for a corpus of thousands of tunes).
    """
    record = training_record(ckpt.meta)
    if record is None:
        return None
    key = json.dumps(record, sort_keys=True)
    with _LOADING:  # one thread builds; the others wait for it
        found = _LOADED.get(key)
        if found is None:
            found = _LOADED[key] = _read_or_build(ckpt, record, say or _to_stderr)
    return found


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _read_or_build(ckpt: "Checkpoint", record: dict, say: Callable[[str], None]) -> BarIndex:
    cached = cache_file(record)
    for path in (Path(ckpt.path) / SHIPPED_FILE, cached):
        index = _read(path)
        if index is not None and _same_set(index.record, record):
            return index
    _check_sources(record, ckpt.path)  # a corpus that is gone is refused before any work is announced
    say(f"{OPTION}: indexing the bars of the training tunes of {ckpt.path} (once; kept in {cached}) ...")
    index = BarIndex.of_tunes(record, training_tunes(record, ckpt.path))
    try:
        write_bytes_atomic(cached, index.to_bytes())
    except (OSError, TunesmithError):
        say(f"{OPTION}: could not keep the index in {cached}; it will be built again next time")
    say(f"{OPTION}: indexed {len(index.tunes)} training tunes, {len(index.bars)} distinct bars")
    return index


def _read(path: Path) -> BarIndex | None:
    """The index in `path`, or None when there is none or it cannot be read (it is then rebuilt)."""
    try:
        return BarIndex.from_bytes(path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None


def _check_sources(record: dict, where: object) -> None:
    """Every source of the training corpus is a bundled corpus or a path that is still there."""
    from ...corpus.bundled import BUNDLED

    for source in record["sources"]:
        if source not in BUNDLED and not Path(source).exists():
            raise TunesmithError(f"{OPTION}: cannot read the training corpus of the model at {where} to index it: "
                                 f"{source}: no such file or folder; generate with {OPTION} 0")


def training_tunes(record: dict, where: object) -> list["Tune"]:
    """The tunes the model trained on: its training split, and the transposed copies if it had them."""
    from ...corpus.augment import augment
    from ...corpus.bundled import corpus_hash
    from ...codecs import codec_from_dict
    from ...corpus.load import load_corpus
    from ...corpus.split import Split

    sources = " ".join(record["sources"])
    try:
        codec = codec_from_dict(record["codec"]) if record.get("codec") else None
        corpus = load_corpus(record["sources"], record["limit"], "abc", Split.from_record(record.get("split"), codec))
    except TunesmithError as exc:
        raise TunesmithError(f"{OPTION}: cannot read the training corpus of the model at {where} ({sources}) "
                             f"to index it: {exc}; generate with {OPTION} 0") from None
    if corpus_hash(corpus.train) != record["train_hash"]:
        raise TunesmithError(f"{OPTION}: the training corpus of the model at {where} ({sources}) has changed "
                             f"since it was trained, so its copies cannot be told; generate with {OPTION} 0")
    tunes = list(corpus.train)
    if record["augmented_hash"] is not None:
        copies, made = augment(corpus.train, corpus.held_out, record["transpose"])
        if made.get("augmented_hash") != record["augmented_hash"]:
            raise TunesmithError(f"{OPTION}: the transposed training copies of the model at {where} "
                                 f"(--transpose {record['transpose']}) are not the ones it trained on; "
                                 f"generate with {OPTION} 0")
        tunes += copies
    return tunes


def write_shipped_index(model: Path) -> Path:
    """Build a model's index and write it beside the model (`make models` does it for the shipped model)."""
    from ...checkpoint import load_checkpoint

    ckpt = load_checkpoint(model)
    record = training_record(ckpt.meta)
    if record is None:
        raise TunesmithError(f"{model}: the model does not record its training corpus; there is nothing to index")
    index = BarIndex.of_tunes(record, training_tunes(record, ckpt.path))
    path = Path(ckpt.path) / SHIPPED_FILE
    write_bytes_atomic(path, index.to_bytes())
    return path


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        _to_stderr(f"wrote {write_shipped_index(Path(folder))}")
