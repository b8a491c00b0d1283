"""The MIDI mode's corpora: bundled ones, a MIDI file, an event text, or a folder of MIDI files; transposed and
with drums on request.

An event text (what `tunesmith generate -o x.txt` writes) holds pieces one
after another, a blank line between them; `check --mode midi` and every
command that reads a file of pieces read it the same way (`text_blocks`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ...errors import TunesmithError, no_pieces
from ...music.midi import MidiPiece, piece_from_text, read_midi, split_token, text_problem

MIDI_SUFFIXES = (".mid", ".midi")
TRANSPOSE, DRUMS = "+transpose", "+drums"   # suffixes of a --corpus spec
SHIFTS = range(-5, 7)  # every key once: a fourth down to a tritone up
MIDI_PIECES = "MIDI pieces"
MIDI_HINT = ("a piece is a MIDI file, or event text: a 'Tempo_120 TS_4/4' line, then lines of "
             "'Bar Pos_ Vel_ Pitch_ Dur_' tokens")


def corpora() -> dict[str, str]:
    """The bundled MIDI corpora: name -> description."""
    from ...corpus.midi_bundled import MIDI_CORPORA

    return dict(MIDI_CORPORA)


def count(name: str) -> tuple[int, int]:
    """(pieces, characters of token text) of a bundled corpus, as training sees it."""
    from ...corpus.midi_bundled import load_midi_bundled

    pieces = dedupe(list(load_midi_bundled(name)))  # as training sees them
    return len(pieces), sum(len(p.text) + 1 for p in pieces)


def midi_files(folder: Path) -> list[Path]:
    """MIDI files under a folder, recursively, in a stable order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES)


def is_midi_file(path: Path) -> bool:
    """Whether a file is a Standard MIDI File (by its first bytes or its suffix) rather than event text."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise TunesmithError(f"{path}: cannot read ({exc.strerror})") from None
    return head == b"MThd" or Path(path).suffix.lower() in MIDI_SUFFIXES


def _is_event(token: str) -> bool:
    try:
        split_token(token)
    except ValueError:
        return False
    return True


def text_blocks(path: Path) -> list[tuple[int, str]]:
    """(first line number, text) of every piece of an event-text file; a file with none is an error.

    A piece is a run of non-blank lines with at least one event token in it
    (`Tempo_120`, `Bar`, `Pitch_60` ...); other text (a note to oneself) is
    not a piece, so a file of prose has none.
    """
    from ...corpus.files import read_text

    text = read_text(path, "MIDI or event text")
    pieces = event_blocks(text)
    if not pieces:
        raise no_pieces(path, MIDI_PIECES, MIDI_HINT, text)
    return pieces


def event_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of every piece of event text (a file's, or the web API's), none when it has none."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if not line.strip():
            current = []
            continue
        if not current:
            blocks.append((number, current))
        current.append(line)
    return [(first, "\n".join(lines) + "\n") for first, lines in blocks
            if any(_is_event(token) for line in lines for token in line.split())]


def text_pieces(path: Path) -> list[MidiPiece]:
    """The pieces of an event-text file for training; the first fault in it is an error with its line and column."""
    blocks = text_blocks(path)
    pieces = []
    for n, (first, text) in enumerate(blocks, 1):
        _, problem = text_problem(text)
        if problem is not None:
            line, col, message = problem
            raise TunesmithError(f"{path}:{first + line - 1}:{col}: {message}")
        pieces.append(piece_from_text(text, path.stem if len(blocks) == 1 else f"{path.stem} {n}", str(path)))
    return pieces


def load_source(spec: str) -> list[MidiPiece]:
    """Pieces of a bundled corpus, a MIDI file, an event text, or a folder of MIDI files (bad ones skipped, with a warning).

    `SPEC+drums` keeps drum tracks (as `Drum_` notes). `SPEC+transpose` adds
    every piece in all 12 keys (-5..+6 semitones); the copies share their
    original's identity, so the held-out split keeps them together and no
    transposition of a held-out piece is trained on.
    """
    from ...corpus.midi_bundled import MIDI_CORPORA

    flags = set()
    while suffix := next((x for x in (TRANSPOSE, DRUMS) if spec.endswith(x) and len(spec) > len(x)), None):
        spec, flags = spec[: -len(suffix)], flags | {suffix}
    if flags and not Path(spec).exists() and Path(spec).name in MIDI_CORPORA:
        spec = Path(spec).name  # a run records "bach-chorales+transpose" as a path: it is the bundled one
    pieces = _plain_source(spec, DRUMS in flags)
    if TRANSPOSE in flags:
        if not all(isinstance(p, MidiPiece) for p in pieces):  # cached folk-midi texts: read their notes
            pieces = [piece_from_text(p.text, p.title) for p in pieces]
        copies = (p.transposed(k) if k else p for p in pieces for k in SHIFTS)
        pieces = [c for c in copies if c is not None]
    return pieces


def _plain_source(spec: str, drums: bool) -> list:
    from ...corpus.midi_bundled import MIDI_CORPORA, load_midi_bundled

    if spec in MIDI_CORPORA:
        return list(load_midi_bundled(spec))
    path = Path(spec)
    if not path.exists():
        raise TunesmithError(f"{path}: no such file or folder (bundled MIDI corpora: {', '.join(MIDI_CORPORA)})")
    if path.is_file():
        return [read_midi(path, drums=drums)] if is_midi_file(path) else text_pieces(path)
    files = midi_files(path)
    if not files:
        raise TunesmithError(f"{path}: the folder has no .mid or .midi files")
    pieces, bad = [], []
    for file in files:
        try:
            pieces.append(read_midi(file, str(file.relative_to(path).with_suffix("")), drums))
        except TunesmithError as exc:
            bad.append(str(exc))
    if not pieces:
        raise TunesmithError(f"{path}: none of its {len(files)} MIDI files could be read; the first: {bad[0]}")
    if bad:
        print(f"warning: {path}: skipped {len(bad)} of {len(files)} MIDI files:", file=sys.stderr)
        for line in bad:
            print(f"  {line}", file=sys.stderr)
    return pieces


def dedupe(pieces: list[MidiPiece]) -> list[MidiPiece]:
    """Pieces whose notes, meter and tempo are all equal to an earlier one's are dropped."""
    seen: set[str] = set()
    out = []
    for p in pieces:
        if p.text not in seen:
            seen.add(p.text)
            out.append(p)
    return out
