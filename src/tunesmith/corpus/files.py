"""Read ABC tunes from the user's files and folders, with clear errors.

Every command that reads an ABC file (`check`, `render`, `train --corpus`,
`visualize --text`, `evaluate --heldout`) goes through `read_text` and the
same idea of what a tune is (`music.abc.tunes.tune_paragraphs`), so that a
file with no tune in it is one error (`errors.no_pieces`) everywhere.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import TunesmithError, no_pieces
from ..music.abc.tunes import Block, Tune, canonical_tune, tune_paragraphs

ABC_SUFFIXES = (".abc", ".ABC")
ABC_TUNES = "ABC tunes"
ABC_HINT = "a tune starts with an X: line (e.g. X:1) and has a header ending with a K: line (e.g. K:D), then music"


def read_text(path: Path, what: str = "ABC text") -> str:
    """A file's text (UTF-8, else Latin-1); a file that cannot be read or is binary is an error.

    An empty file is read as "": the caller finds no piece in it and says so
    (`errors.no_pieces`), in the words of its own mode.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TunesmithError(f"{path}: cannot read ({exc.strerror})") from None
    if b"\x00" in data[:65536]:
        raise TunesmithError(f"{path}: a binary file, not {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_INLINE_VOICE = re.compile(r"\[V:[^\]]*\]")


def without_voices(lines: Sequence[str]) -> list[str]:
    """A block's lines with its voice lines (`V:`) and inline voice marks (`[V:2]`) left out."""
    return [_INLINE_VOICE.sub("", line) for line in lines if not line.startswith("V:")]


def _readable(block: Block, voices: bool) -> bool:
    """Whether a block is a tune to read: with `voices` (rendering), a tune of several voices is one too."""
    if canonical_tune(list(block.lines), 1) is not None:
        return True
    return voices and canonical_tune(without_voices(block.lines), 1) is not None


def _why_not(block: Block, voices: bool = False) -> str:
    """Why a block is not read, in words."""
    lines = block.lines[1:] if block.numbered else block.lines
    if not voices and any(line.startswith("V:") or "[V:" in line for line in lines):
        return "has several voices (V:), which tunesmith leaves out"
    if not any(line.startswith("K:") for line in lines):
        return "has no K: line"
    return "has no music after its K: line"


def _blocks_of(path: Path, voices: bool = False) -> tuple[str, list[Block], list[Block]]:
    """(text, every tune block, the blocks that read as tunes) of one file; warns of tunes without X:."""
    text = read_text(path)
    blocks = tune_paragraphs(text)
    usable = [b for b in blocks if _readable(b, voices)]
    unnumbered = [b.line for b in usable if not b.numbered]
    if unnumbered:
        where = ", ".join(map(str, unnumbered[:5])) + (" ..." if len(unnumbered) > 5 else "")
        print(f"warning: {path}: {len(unnumbered)} tune(s) without an X: line (line {where}); read as tunes",
              file=sys.stderr)
    return text, blocks, usable


def readable_blocks(path: Path, voices: bool = False) -> tuple[str, list[Block]]:
    """(the file's text, the blocks of its tunes that can be read); a file with none is an error.

    A tune without its `X:` line is read (with a warning on stderr); tunes
    with no `K:` or no music are left out, and so are tunes with several
    voices unless `voices` (the renderers play and draw them; the models
    learn one line). When nothing is left the error says why (`tunesmith
    check` shows where).
    """
    text, blocks, usable = _blocks_of(path, voices)
    if not usable:
        hint = ABC_HINT
        if len(blocks) == 1:
            hint = f"the tune at line {blocks[0].line} {_why_not(blocks[0], voices)} (see `tunesmith check`)"
        elif blocks:
            hint = (f"none of its {len(blocks)} tunes can be read; the first, at line {blocks[0].line}, "
                    f"{_why_not(blocks[0], voices)} (see `tunesmith check`)")
        raise no_pieces(path, ABC_TUNES, hint, text)
    return text, usable


def abc_tune_blocks(path: Path) -> list[list[str]]:
    """The cleaned lines of every tune of an ABC file that can be read; a file with none is an error.

    A tune without its `X:` line is read (with a warning); tunes with several
    voices, no `K:` or no music are left out (see `readable_blocks`).
    """
    return [list(b.lines) for b in readable_blocks(path)[1]]


def tunes_in_file(path: Path) -> list[Tune]:
    """Every tune in one ABC file, canonical, numbered from 1; a file with none is an error."""
    return [canonical_tune(block, n) for n, block in enumerate(abc_tune_blocks(path), 1)]  # type: ignore[misc]


def abc_files(folder: Path) -> list[Path]:
    """ABC files under a folder, recursively, in a stable order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in ABC_SUFFIXES)


def tunes_from_path(path: Path) -> list[Tune]:
    """Tunes from a file, or from every .abc file in a folder (files without tunes in a folder are skipped)."""
    if not path.exists():
        raise TunesmithError(f"{path}: no such file or folder")
    if path.is_file():
        return tunes_in_file(path)
    files = abc_files(path)
    if not files:
        raise TunesmithError(f"{path}: the folder has no .abc files")
    tunes: list[Tune] = []
    for file in files:
        usable = _blocks_of(file)[2]  # numbered per file, as parse_tunes does; load_corpus renumbers
        tunes.extend(canonical_tune(list(b.lines), n) for n, b in enumerate(usable, 1))  # type: ignore[misc]
    if not tunes:
        raise TunesmithError(f"{path}: none of its {len(files)} .abc files holds an ABC tune")
    return tunes
