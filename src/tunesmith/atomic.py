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


def _aside(path: Path) -> Path:
    """Where folder_atomic sets the previous folder aside while it swaps the new one in."""
    return path.with_name(f".{path.name}.old")


def settled(path: Path) -> Path:
    """Where the folder `path` is to be read from, even if a writer was killed in the middle of replacing it.

    folder_atomic swaps a folder in two renames: the previous one aside
    (`.<name>.old`), then the new one in. A process killed between them (kill
    -9, power loss) leaves no `path`, and the previous folder, whole, aside:
    read that. The next write puts it back first (readers never rename, so
    they cannot race a live writer).
    """
    path = Path(path)
    if not path.exists() and _aside(path).is_dir():
        return _aside(path)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def recover_folder(path: Path) -> None:
    """Finish what a killed writer of `path` left: put a folder set aside back, remove its half-written folders.

    A temporary folder is named `.<name>.<pid>.<random>`; one whose process
    is gone will never be swapped in. Without this, a training run killed N
    times while writing latest/ would keep N partial copies of the model.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return  # nothing was ever written there
    aside = _aside(path)
    if not path.exists() and aside.is_dir():
        os.replace(aside, path)
    prefix = f".{path.name}."
    for stale in path.parent.iterdir():
        pid = stale.name[len(prefix):].split(".", 1)[0] if stale.name.startswith(prefix) else ""
        if pid.isdigit() and int(pid) != os.getpid() and stale.is_dir() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def folder_atomic(path: Path, where: str | None = None) -> Iterator[Path]:
    """A folder to fill beside `path`: when the block ends without error it replaces `path` whole
    (its files readable by all), otherwise it is removed. Readers never see half a folder, and
    a writer killed at any moment leaves `path` or, for `settled`, the previous folder aside.

    `where` names the folder in the error when it cannot be made (default: the path).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        recover_folder(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", dir=path.parent))
    except OSError as exc:
        raise TunesmithError(f"{where or path}: cannot write ({exc.strerror})") from None
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; what is written is for sharing
        yield tmp
        for file in tmp.iterdir():
            file.chmod(0o644)
        old = _aside(path)
        if old.exists():
            shutil.rmtree(old)  # left by a writer killed after its swap: `path` is whole
        if path.exists():
            os.replace(path, old)
        # Killed here, `path` is missing and the previous folder is whole at `old` (see `settled`).
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
