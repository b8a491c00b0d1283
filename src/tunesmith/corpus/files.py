"""Read ABC tunes from the user's files and folders, with clear errors."""

from __future__ import annotations

from pathlib import Path

from ..errors import TunesmithError
from ..music.abc.tunes import Tune, parse_tunes

ABC_SUFFIXES = (".abc", ".ABC")


def read_text(path: Path) -> str:
    """A file's text (UTF-8, else Latin-1); binary or empty files are errors."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TunesmithError(f"{path}: cannot read ({exc.strerror})") from None
    if not data.strip():
        raise TunesmithError(f"{path}: the file is empty")
    if b"\x00" in data[:65536]:
        raise TunesmithError(f"{path}: a binary file, not ABC text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def tunes_in_file(path: Path) -> list[Tune]:
    """Every tune in one ABC file, canonical; a file with none is an error."""
    tunes = parse_tunes(read_text(path))
    if not tunes:
        raise TunesmithError(
            f"{path}: no ABC tunes found (a tune starts with an X: line and has a K: line before its music)"
        )
    return tunes


def abc_files(folder: Path) -> list[Path]:
    """ABC files under a folder, recursively, in a stable order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in ABC_SUFFIXES)


def tunes_from_path(path: Path) -> list[Tune]:
    """Tunes from a file, or from every .abc file in a folder."""
    if not path.exists():
        raise TunesmithError(f"{path}: no such file or folder")
    if path.is_file():
        return tunes_in_file(path)
    files = abc_files(path)
    if not files:
        raise TunesmithError(f"{path}: the folder has no .abc files")
    tunes: list[Tune] = []
    for file in files:
        tunes.extend(parse_tunes(read_text(file)))
    if not tunes:
        raise TunesmithError(f"{path}: none of its {len(files)} .abc files holds an ABC tune")
    return tunes
