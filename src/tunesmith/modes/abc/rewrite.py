"""`tunesmith infill` and `tunesmith vary` for ABC files: read the tune, rewrite it, write the versions.

The tune is taken from the file as written (`check.tune_blocks`: its own
lines, comments included), so that what is not rewritten comes out byte
for byte (line ends as `\\n`). Each version is the whole tune, X: line
included; several versions follow one another with a blank line between.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import TunesmithError, no_pieces
from ..base import Generated, RewriteRequest
from ..rewriting import infill_answer, variations, variations_answer, write_texts

if TYPE_CHECKING:
    from ...checkpoint import Checkpoint


def read_tune(req: RewriteRequest) -> tuple[str, str]:
    """The text of the asked tune of the file (or `req.text`, one tune: the web API's), and how to name it in
    messages ("tune X:3 (Title)")."""
    from ...corpus.files import ABC_HINT, ABC_TUNES, read_text
    from ...music.abc.check import tune_blocks

    if req.text is not None:
        return req.text, _name(req.text)
    text = read_text(req.path)
    blocks = [block for _, block in tune_blocks(text, unnumbered=True)]
    if not blocks:
        raise no_pieces(req.path, ABC_TUNES, ABC_HINT, text)
    numbers = [_field(block, "X") for block in blocks]
    if req.piece is not None:
        if req.piece.strip() not in numbers:
            raise TunesmithError(f"--tune {req.piece}: {req.path} has no tune X:{req.piece.strip()} "
                                 f"(its tunes: X:{', X:'.join(n or '?' for n in numbers)})")
        block = blocks[numbers.index(req.piece.strip())]
    elif len(blocks) > 1:
        raise TunesmithError(f"{req.path} has {len(blocks)} tunes; choose one with --tune, e.g. --tune {numbers[0] or 1} "
                             f"(its tunes: X:{', X:'.join(n or '?' for n in numbers)})")
    else:
        block = blocks[0]
    return block, _name(block)


def _name(block: str) -> str:
    """A tune as messages name it: "tune X:3 (Title)"."""
    title = _field(block, "T")
    name = f"tune X:{_field(block, 'X')}" if _field(block, "X") else "the tune"
    return f"{name} ({title})" if title else name


def _field(block: str, letter: str) -> str:
    """The value of the tune's first `letter:` line ("" when it has none)."""
    return next((line[2:].strip() for line in block.split("\n") if line.startswith(f"{letter}:")), "")


def _where(req: RewriteRequest, name: str) -> str:
    return name if req.path is None else f"{req.path}: {name}"


def infill_file(ckpt: "Checkpoint", req: RewriteRequest) -> Generated:
    """`tunesmith infill`: versions of the tune with bars `req.bars` rewritten."""
    from .infill import gap_of, infill

    text, name = read_tune(req)
    try:
        gap = gap_of(text, req.bars or "")
    except TunesmithError as exc:
        raise TunesmithError(f"{_where(req, name)}: {exc}") from None
    versions = infill(ckpt, gap, req.n, req.candidates, req.sampling, req.seed)
    header = (f"{name}, {gap.name} rewritten: each version is the best of {req.candidates} "
              f"candidates at leading into the rest of the tune, {versions[0].tail_symbols} symbols that cost the "
              f"model {versions[0].original_bits:.1f} bits after the tune's own bars")
    return infill_answer(lambda summary: write_texts([v.text for v in versions], req, summary), header, versions,
                         "bar", (gap.first, gap.last), req.candidates, bits_of=lambda v: v.chosen.bits,
                         candidate_bits_of=lambda v: [c.bits for c in v.candidates],
                         note_of=lambda v: " | ".join(v.chosen.music),
                         details_of=lambda v: {"music": list(v.chosen.music)})


def vary_file(ckpt: "Checkpoint", req: RewriteRequest) -> Generated:
    """`tunesmith vary`: variations of the tune with about `req.amount` of its bars rewritten."""
    from .vary import vary

    text, name = read_tune(req)
    amount = req.amount if req.amount is not None else 0.0
    versions = variations(req, _where(req, name), lambda version, tell: vary(ckpt, text, amount, req.candidates,
                                                                             req.sampling, req.seed, version, tell))
    return variations_answer(lambda summary: write_texts([v.text for v in versions], req, summary), name, amount, "bar",
                             versions, lambda v: v.bars)
