"""The tabla mode's corpora (bundled, a notation file, a folder of them) and its checker."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ...errors import TunesmithError
from ...music.tabla.notation import Composition, read_file
from ..base import CheckReport

SUFFIXES = (".txt", ".tabla")


def corpora() -> dict[str, str]:
    """The bundled tabla corpora: name -> description."""
    from ...corpus.tabla import CORPORA

    return dict(CORPORA)


def count(name: str) -> tuple[int, int]:
    """(compositions, characters) of a bundled corpus, as training sees it."""
    from ...corpus.tabla import load_bundled

    pieces = dedupe(load_bundled(name))
    return len(pieces), sum(len(p.text) + 1 for p in pieces)


def load_source(spec: str) -> list[Composition]:
    """Compositions of a bundled corpus, a notation file, or a folder of .txt/.tabla files."""
    from ...corpus.tabla import CORPORA, load_bundled
    from ...music.tabla.notation import compositions_in_file

    if spec in CORPORA:
        return load_bundled(spec)
    path = Path(spec)
    if not path.exists():
        raise TunesmithError(f"{path}: no such file or folder (bundled tabla corpora: {', '.join(CORPORA)})")
    if path.is_file():
        return compositions_in_file(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise TunesmithError(f"{path}: the folder has no {' or '.join(SUFFIXES)} files of tabla compositions")
    return [c for f in files for c in compositions_in_file(f)]


def dedupe(pieces: list[Composition]) -> list[Composition]:
    """Compositions equal to an earlier one (apart from their number) dropped; the rest renumbered."""
    seen: set[str] = set()
    kept = []
    for piece in pieces:
        if piece.text_without_number not in seen:
            seen.add(piece.text_without_number)
            kept.append(replace(piece, number=len(kept) + 1))
    return kept


def check_file(path: Path) -> CheckReport:
    """Every composition of a notation file against its tala; a file with none is the error training gives."""
    return CheckReport(str(path), [r.to_dict() for r in read_file(Path(path))], label="composition ",
                       piece="composition")
