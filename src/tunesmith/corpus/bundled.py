"""Corpora that ship inside installed packages (music21's ABC collections).

Only the raw ABC files are read; music21's own parser is slow and unneeded,
and the package is never imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

from ..errors import TunesmithError
from ..music.abc.origins import EUROPE
from ..music.abc.tunes import Tune, dedupe, join_tunes, parse_tunes
from .files import read_text


@dataclass(frozen=True)
class BundledCorpus:
    """A named corpus: folders of music21's corpus (or a reader of its own) and an optional tune filter."""

    description: str
    folders: tuple[str, ...]
    keep: Callable[[Tune], bool] | None = None
    reader: Callable[[], Sequence[Tune]] | None = None   # clean tunes, instead of reading `folders` as they are


def _essen() -> Sequence[Tune]:
    from .essen import essen_collection

    return essen_collection().tunes


FOLK = ("oneills1850", "ryansMammoth", "airdsAirs", "miscFolk")

BUNDLED: dict[str, BundledCorpus] = {
    "oneills1850": BundledCorpus("O'Neill's Music of Ireland (1850), deduplicated", ("oneills1850",)),
    "ryans": BundledCorpus("Ryan's Mammoth Collection (1883)", ("ryansMammoth",)),
    "airds": BundledCorpus("Aird's Selection of Airs (1782-1803)", ("airdsAirs",)),
    "miscfolk": BundledCorpus("American fife and Northumbrian minstrelsy tunes", ("miscFolk",)),
    "folk": BundledCorpus("all four collections above, duplicates removed", FOLK),
    "jigs": BundledCorpus(
        "every tune in 6/8 from the four collections (like the Nottingham jigs)",
        FOLK, keep=lambda t: t.meter == "6/8",
    ),
    # The Essen folksong collection, cleaned by corpus/essen.py; every tune has an O: (origin) line.
    "essen": BundledCorpus("Essen folksong collection: German, Chinese, other European songs",
                           ("essenFolksong",), reader=_essen),
    "essen-germany": BundledCorpus("Essen songs from Germany (O:Germany)", ("essenFolksong",), reader=_essen,
                                   keep=lambda t: t.origin == "Germany"),
    "essen-china": BundledCorpus("Essen songs from China (han1, han2; O:China)", ("essenFolksong",),
                                 reader=_essen, keep=lambda t: t.origin == "China"),
    "essen-europe": BundledCorpus("Essen songs from the rest of Europe (Luxembourg, Lorraine, Austria ...)",
                                  ("essenFolksong",), reader=_essen,
                                  keep=lambda t: t.origin in EUROPE and t.origin != "Germany"),
}


def music21_corpus_dir() -> Path:
    """Where music21 keeps its corpus files, without importing music21."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise TunesmithError("the bundled corpora need the music21 package: pip install music21")
    return Path(list(spec.submodule_search_locations)[0]) / "corpus"


@lru_cache(maxsize=None)
def load_bundled(name: str) -> tuple[Tune, ...]:
    """The clean, deduplicated tunes of a bundled corpus, numbered from 1."""
    if name not in BUNDLED:
        raise TunesmithError(f"unknown corpus {name!r}; bundled corpora: {', '.join(BUNDLED)}")
    spec = BUNDLED[name]
    root = music21_corpus_dir()
    tunes: list[Tune] = []
    if spec.reader is not None:
        tunes = list(spec.reader())
    else:
        for folder in spec.folders:
            for path in sorted((root / folder).glob("*.abc")):
                tunes.extend(parse_tunes(read_text(path)))
    if spec.keep is not None:
        tunes = [t for t in tunes if spec.keep(t)]
    return tuple(dedupe(tunes))


def cleaning_report(name: str) -> list[str]:
    """How a bundled corpus was cleaned beyond the canonical form, in lines (none for most)."""
    if BUNDLED[name].reader is _essen:
        from .essen import essen_collection

        return essen_collection().report()
    return []


def corpus_hash(tunes: list[Tune] | tuple[Tune, ...]) -> str:
    """A short content hash of a corpus, stored in checkpoints."""
    return hashlib.sha256(join_tunes(list(tunes)).encode()).hexdigest()[:16]
