"""Turn `--corpus` arguments (bundled names, files, folders) into one clean corpus."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TunesmithError
from ..music.abc.tunes import Tune
from .bundled import BUNDLED, corpus_hash, load_bundled
from .files import tunes_from_path
from .split import Split, split_tunes

if TYPE_CHECKING:
    from ..codecs.base import Codec


@dataclass
class Corpus:
    """Pieces (tunes, chorales, compositions) from one or more sources, deduplicated, split by piece."""

    sources: list[str]
    tunes: list[Tune]
    train: list[Tune]
    held_out: list[Tune]
    limit: int | None = None
    mode: str = "abc"
    augmented: list[Tune] = field(default_factory=list)   # transposed copies of training tunes (`augment.py`)
    augmentation: dict | None = None                       # what `augment` added and dropped
    split: Split | None = None                             # a seeded held-out share (fine-tuning); None: 5 % by hash
    unreadable: list[Tune] = field(default_factory=list)   # pieces left out: the split's codec cannot spell them
    harmonised: list[Tune] = field(default_factory=list)  # copies with chord symbols (`augment.harmonised_copies`)
    harmonisation: dict | None = None                      # what `harmonised_copies` added and dropped

    @property
    def training_set(self) -> list[Tune]:
        """What the model trains on: the training tunes, their transposed and their harmonised copies, if any."""
        return self.train + self.augmented + self.harmonised

    def describe(self) -> dict:
        """What a checkpoint records about the data it saw (and what its mode keeps of the training pieces)."""
        record = {
            "sources": self.sources,
            "limit": self.limit,
            "tunes": len(self.tunes),
            "train_tunes": len(self.train),
            "held_out_tunes": len(self.held_out),
            "hash": corpus_hash(self.tunes),
            "train_hash": corpus_hash(self.train),
            "held_out_hash": corpus_hash(self.held_out),
        }
        if self.profile is not None:
            record["profile"] = self.profile
        if self.augmentation is not None:
            record["augmentation"] = self.augmentation
        if self.split is not None:
            record["split"] = self.split.record()
            record["unreadable"] = len(self.unreadable)
        if self.harmonisation is not None:
            record["chords"] = self.harmonisation
        return record

    def unknown_characters(self) -> str:
        """The characters of the left-out pieces that the split's codec cannot spell, each once."""
        if self.split is None or self.split.codec is None:
            return ""
        return "".join(dict.fromkeys(ch for t in self.unreadable for ch in self.split.codec.unknown(t.text)))

    @cached_property
    def profile(self) -> dict | None:
        """What the mode keeps of the training pieces for generation (`Mode.profile`); made once."""
        from ..modes import get_mode

        make = get_mode(self.mode).profile
        return None if make is None else make(self.train)


def source_tunes(spec: str) -> list[Tune]:
    """Tunes of one source: a bundled corpus name, else a file or folder."""
    if spec in BUNDLED:
        return list(load_bundled(spec))
    return tunes_from_path(Path(spec))


def load_corpus(specs: list[str], limit: int | None = None, mode: str = "abc", split: Split | None = None) -> Corpus:
    """Every source's pieces in `mode`, duplicates across sources removed, optionally the first `limit`.

    `split`: hold out a seeded share (and keep only what its codec can spell) instead of 5 % by content hash.
    """
    from ..modes import get_mode

    chosen = get_mode(mode)
    if not specs:
        raise TunesmithError(f"--corpus: give a bundled corpus name ({', '.join(chosen.corpora())}) or a file or folder")
    tunes: list = []
    sources = []
    bundled = chosen.corpora()
    for spec in specs:
        tunes.extend(chosen.load_source(spec))
        sources.append(spec if spec in bundled else str(Path(spec).resolve()))
    tunes = chosen.dedupe(tunes)
    tunes, unreadable = split.readable(tunes) if split is not None else (tunes, [])
    if limit is not None:
        if limit < 2:
            raise TunesmithError("--limit: need at least 2 tunes (one is held out)")
        tunes = tunes[:limit]
    if len(tunes) < 2:
        left_out = f" ({len(unreadable)} more have characters the model's vocabulary lacks)" if unreadable else ""
        raise TunesmithError(f"--corpus {' '.join(specs)}: only {len(tunes)} tune{left_out}; training needs at least 2")
    train, held_out = split.apply(tunes) if split is not None else split_tunes(tunes)
    return Corpus(sources, tunes, train, held_out, limit, chosen.name, split=split, unreadable=unreadable)


def recorded_corpus(record: dict, mode: str, codec: "Codec | None" = None) -> Corpus:
    """The corpus a checkpoint was trained on, read and split again as its config.json's `corpus` records it.

    `codec` is the checkpoint's: a fine-tuned model's corpus keeps only the pieces its vocabulary can spell.
    """
    return load_corpus(list(record["sources"]), record.get("limit"), mode, Split.from_record(record.get("split"), codec))


def export_tunes(specs: list[str], strict: bool = False, limit: int | None = None) -> tuple[list[Tune], int, int]:
    """Clean ABC tunes of every source, duplicates removed: (tunes, how many `strict` dropped, of how many).

    `strict` drops the tunes `tunesmith check` finds problems in; `limit` keeps the first so many.
    """
    from ..music.abc.check import check_tune
    from ..music.abc.tunes import dedupe

    tunes = dedupe([t for spec in specs for t in source_tunes(spec)])
    dropped, total = 0, len(tunes)
    if strict:
        kept = dedupe([t for t in tunes if not check_tune(t.text)])
        dropped, tunes = len(tunes) - len(kept), kept
    if limit is not None:
        tunes = tunes[: max(limit, 0)]
    return tunes, dropped, total
