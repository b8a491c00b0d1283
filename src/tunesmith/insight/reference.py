"""The training corpus measured once: the yardstick every generated piece is held against.

Measuring ~4,000 training tunes takes tens of seconds of pure Python;
`start_reference` runs it in a second process (started without torch's
threads) while the first one generates, and the report collects it when it
needs it.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Hashable

from .measures import PieceProfile, measures_for
from .metrics import BarIndex, distribution, intervals

if TYPE_CHECKING:
    from ..codecs.base import Codec

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# name -> (label, values of one profile); every statistic is a distribution over all pieces' values.
STATISTICS: dict[str, tuple[str, Callable[[PieceProfile], list[Hashable]]]] = {
    "pitch_class": ("pitch class", lambda p: [PITCH_CLASSES[x % 12] for x in p.pitches]),
    "interval": ("melodic interval (semitones, +-13 = beyond an octave)", lambda p: intervals(p.pitches)),
    "note_length": ("note length (whole notes)", lambda p: p.lengths),
    "pitch_range": ("pitch range of a piece (semitones)", lambda p: [max(p.pitches) - min(p.pitches)] if p.pitches else []),
    "notes_per_bar": ("notes per bar", lambda p: p.notes_per_bar),
    "key": ("key", lambda p: [p.key] if p.key else []),
    "meter": ("meter", lambda p: [p.meter] if p.meter else []),
}


@dataclass
class Reference:
    """The training pieces of one corpus: titles, every bar indexed, the music distributions."""

    titles: list[str]
    numbers: list[int]     # each piece's number in its corpus (its X: in `tunesmith corpus export`)
    index: BarIndex
    distributions: dict[str, dict]


def statistics_of(mode: str) -> dict[str, tuple[str, Callable[[PieceProfile], list[Hashable]]]]:
    """The statistics the report compares for a mode's pieces (ABC's unless the mode names its own)."""
    return measures_for(mode).statistics or STATISTICS


def distributions(profiles: list[PieceProfile], mode: str = "abc") -> dict[str, dict]:
    """Every statistic's distribution over the pieces."""
    return {name: distribution(v for p in profiles for v in values(p))
            for name, (_, values) in statistics_of(mode).items()}


def build_reference(sources: list[str], limit: int | None, mode: str, split: dict | None = None,
                    codec: "Codec | None" = None) -> Reference:
    """Load a corpus exactly as training split it and measure its training pieces.

    `split` and `codec`: a fine-tuned checkpoint's recorded split and its codec (`corpus.load.recorded_corpus`).
    """
    from ..corpus.load import recorded_corpus

    corpus = recorded_corpus({"sources": sources, "limit": limit, "split": split}, mode, codec)
    measures = measures_for(mode)
    profiles = [measures.profile(p.text, False) for p in corpus.train]
    numbers = [getattr(p, "number", i + 1) for i, p in enumerate(corpus.train)]
    return Reference([p.title for p in corpus.train], numbers, BarIndex([p.bars for p in profiles], measures.flag),
                     distributions(profiles, mode))


def start_reference(pool: ProcessPoolExecutor, sources: list[str], limit: int | None, mode: str,
                    split: dict | None = None, codec: "Codec | None" = None) -> Future:
    """build_reference in the pool's process; the Future's result is the Reference."""
    return pool.submit(build_reference, list(sources), limit, mode, split, codec)


def reference_pool() -> ProcessPoolExecutor:
    """One worker process, started fresh ("spawn": no copy of torch's threads from this process)."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
