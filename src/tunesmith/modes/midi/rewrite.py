"""`tunesmith infill` and `tunesmith vary` for MIDI: read the piece, rewrite its bars, write the versions.

The piece is a MIDI file (.mid, .midi) or an event-text file (.txt, its
pieces numbered 1, 2 ... for --tune). Versions go to -o: one MIDI file
each (`out.mid`, or `out-1.mid`, `out-2.mid` ... for several), or event
text (.txt, a blank line between versions); without -o, event text on
stdout. Files are written whole at the end (atomically), so an interrupted
run leaves none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...atomic import write_bytes_atomic
from ...errors import TunesmithError
from ...music.midi import MidiPiece, midi_bytes, piece_from_text, read_midi
from ..base import Generated, RewriteRequest
from ..rewriting import check_amount, infill_answer, variations, variations_answer, write_texts
from .corpus import MIDI_SUFFIXES, event_blocks, is_midi_file, text_blocks

if TYPE_CHECKING:
    from ...checkpoint import Checkpoint


def read_piece(req: RewriteRequest) -> tuple[MidiPiece, str]:
    """The asked piece of the file (or the one of `req.text`: event text), and how to name it in messages."""
    if req.text is not None:
        return _the_one_in_text(req.text), "text"
    path = req.path
    if is_midi_file(path):
        if req.piece is not None and req.piece.strip() != "1":
            raise TunesmithError(f"--tune {req.piece}: {path} is a MIDI file, one piece (--tune 1 or none)")
        return read_midi(path), str(path)
    blocks = text_blocks(path)
    if req.piece is None and len(blocks) > 1:
        raise TunesmithError(f"{path} has {len(blocks)} pieces; choose one with --tune, e.g. --tune 1 (1-{len(blocks)})")
    number = req.piece.strip() if req.piece is not None else "1"
    if not number.isdigit() or not 1 <= int(number) <= len(blocks):
        raise TunesmithError(f"--tune {req.piece}: {path} has pieces 1-{len(blocks)}")
    first, text = blocks[int(number) - 1]
    where = f"{path}: piece {number} (line {first})"
    return piece_from_text(text.rstrip("\n") + "\n", path.stem, where), where


def _the_one_in_text(text: str) -> MidiPiece:
    """The one piece of event text a text (the web API's) holds; one clear error otherwise."""
    blocks = event_blocks(text)
    if not blocks:
        raise TunesmithError("text: no piece found; send a piece's event text (Tempo_.., Bar, Pos_.., Pitch_.. ...), "
                             "as a MIDI model writes it (its .txt)")
    if len(blocks) > 1:
        raise TunesmithError(f"text: {len(blocks)} pieces found (a blank line ends one); send one at a time")
    return piece_from_text(blocks[0][1], "", "text")


def _view(ckpt: "Checkpoint", piece: MidiPiece) -> MidiPiece:
    from .tables import Tables
    from .writer import fit_to_vocabulary

    return fit_to_vocabulary(piece, Tables(ckpt.codec))


def _check_output(req: RewriteRequest) -> None:
    if req.output is not None and req.output.suffix.lower() not in MIDI_SUFFIXES + (".txt",):
        raise TunesmithError(f"-o {req.output}: name a .mid file (or .txt for the event text)")


def infill_file(ckpt: "Checkpoint", req: RewriteRequest) -> Generated:
    """`tunesmith infill --bars`: versions of the piece with those bars rewritten."""
    from .infill import bar_gap, infill

    _check_output(req)
    piece, where = read_piece(req)
    try:
        gap = bar_gap(piece, _view(ckpt, piece), req.bars)
        versions = infill(ckpt, gap, req.n, req.candidates, req.sampling, req.seed)
    except TunesmithError as exc:
        raise TunesmithError(f"{where}: {exc}") from None
    header = (f"{where}, {gap.name} rewritten: each version is the best of {req.candidates} candidates at leading "
              f"into the rest of the piece, {versions[0].tail_symbols} events that cost the model "
              f"{versions[0].original_bits:.1f} bits after the piece's own bars")
    return infill_answer(lambda summary: _write([v.piece for v in versions], req, summary), header, versions, "bar",
                         (gap.first, gap.last), req.candidates, bits_of=lambda v: v.bits,
                         candidate_bits_of=lambda v: [b for _, b in v.group],
                         note_of=lambda v: f"{len([n for n in v.piece.notes if gap.inside(n)])} notes in the gap")


def vary_file(ckpt: "Checkpoint", req: RewriteRequest) -> Generated:
    """`tunesmith vary`: variations of the piece with about `req.amount` of its bars rewritten."""
    from .infill import vary

    amount = check_amount(req.amount)
    _check_output(req)
    piece, where = read_piece(req)
    versions = variations(req, where, lambda version, tell: vary(ckpt, piece, amount, req.candidates, req.sampling,
                                                                 req.seed, version, tell))
    return variations_answer(lambda summary: _write([v.piece for v in versions], req, summary), where, amount, "bar",
                             versions, lambda v: v.bars)


def _write(pieces: list[MidiPiece], req: RewriteRequest, message: str) -> Generated:
    """The versions: MIDI files or event text in -o (atomically), or event text on stdout."""
    from . import _outputs

    texts = [p.text for p in pieces]
    if req.output is None or req.output.suffix.lower() == ".txt":
        return write_texts(texts, req, message)
    files = [(path, midi_bytes(p)) for p, path in zip(pieces, _outputs(req.output, len(pieces)))]
    for path, data in files:
        write_bytes_atomic(path, data)
    where = files[0][0] if len(files) == 1 else f"{files[0][0]} .. {files[-1][0].name}"
    return Generated(message=f"{message}\nwrote {len(files)} MIDI file{'s' if len(files) > 1 else ''} ({where})", pieces=texts)
