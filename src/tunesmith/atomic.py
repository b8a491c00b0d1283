"""Write output files whole or not at all: a temp file beside, then a rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import TunesmithError


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers never see half a file."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers never see half a file."""
    path = Path(path)
    if path.is_dir():
        raise TunesmithError(f"{path}: is a folder; give a file name to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise TunesmithError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private; an output is for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def folder_atomic(path: Path, where: str | None = None) -> Iterator[Path]:
    """A folder to fill beside `path`: when the block ends without error it replaces `path` whole
    (its files readable by all), otherwise it is removed. Readers never see half a folder.

    `where` names the folder in the error when it cannot be made (default: the path).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    except OSError as exc:
        raise TunesmithError(f"{where or path}: cannot write ({exc.strerror})") from None
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; what is written is for sharing
        yield tmp
        for file in tmp.iterdir():
            file.chmod(0o644)
        old = path.with_name(f".{path.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
