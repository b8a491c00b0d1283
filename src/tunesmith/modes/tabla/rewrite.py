"""`tunesmith infill --cycles` and `tunesmith vary` for tabla: read the composition, rewrite cycles, write versions.

The composition is read from a notation file (its compositions numbered 1,
2 ... for --tune); each version is written whole in the canonical notation
(`Composition.file_text`: title, tala, tempo, form, one cycle a line, the
landing), several with a blank line between them, to -o (atomically) or stdout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import TunesmithError
from ...music.tabla.notation import Composition, compositions_in_file, read_text
from ..base import Generated, RewriteRequest
from ..rewriting import check_amount, infill_answer, variations, variations_answer, write_texts

if TYPE_CHECKING:
    from ...checkpoint import Checkpoint


def read_composition(req: RewriteRequest) -> tuple[Composition, str]:
    """The asked composition of the file (or the one of `req.text`), and how to name it in messages."""
    if req.text is not None:
        return _the_one_in_text(req.text), "text"
    comps = compositions_in_file(req.path)
    if req.piece is None and len(comps) > 1:
        raise TunesmithError(f"{req.path} has {len(comps)} compositions; choose one with --tune, e.g. --tune 1 "
                             f"(1-{len(comps)})")
    number = req.piece.strip() if req.piece is not None else "1"
    if not number.isdigit() or not 1 <= int(number) <= len(comps):
        raise TunesmithError(f"--tune {req.piece}: {req.path} has compositions 1-{len(comps)}")
    comp = comps[int(number) - 1]
    name = f"{req.path}: composition {number}" + (f" ({comp.title})" if comp.title else "")
    return comp, name


def _the_one_in_text(text: str) -> Composition:
    """The one composition a text (the web API's) holds, checked; one clear error otherwise."""
    readings = read_text(text.replace("\r\n", "\n"))
    if not readings:
        raise TunesmithError("text: no composition found; a composition starts with its tala: line")
    if len(readings) > 1:
        raise TunesmithError(f"text: {len(readings)} compositions found (a blank line ends one); send one at a time")
    [reading] = readings
    if reading.problems:
        p = reading.problems[0]
        where = f"cycle {p.cycle}: " if p.cycle else ""
        raise TunesmithError(f"text:{p.line}:{p.col}: {where}{p.message}")
    return reading.composition


def infill_file(ckpt: "Checkpoint", req: RewriteRequest) -> Generated:
    """`tunesmith infill --cycles`: versions of the composition with those cycles rewritten."""
    from .infill import cycle_gap, infill

    comp, name = read_composition(req)
    try:
        gap = cycle_gap(comp, req.bars)
        versions = infill(ckpt, gap, req.n, req.candidates, req.sampling, req.seed)
    except TunesmithError as exc:
        raise TunesmithError(f"{name}: {exc}") from None
    header = (f"{name}, {gap.name} of {gap.tala.name} rewritten: each version is the best of {req.candidates} "
              f"candidates at leading into the rest, {versions[0].tail_symbols} symbols that cost the model "
              f"{versions[0].original_bits:.1f} bits after the composition's own cycles")
    return infill_answer(lambda summary: _write([v.comp for v in versions], req, summary), header, versions, "cycle",
                         (gap.first, gap.last), req.candidates, bits_of=lambda v: v.bits,
                         candidate_bits_of=lambda v: [b for _, b in v.group])


def vary_file(ckpt: "Checkpoint", req: RewriteRequest) -> Generated:
    """`tunesmith vary`: variations of the composition with about `req.amount` of its cycles rewritten."""
    from .infill import vary

    amount = check_amount(req.amount)
    comp, name = read_composition(req)
    versions = variations(req, name, lambda version, tell: vary(ckpt, comp, amount, req.candidates, req.sampling,
                                                                req.seed, version, tell))
    return variations_answer(lambda summary: _write([v.comp for v in versions], req, summary), name, amount, "cycle",
                             versions, lambda v: v.cycles)


def _write(comps: list[Composition], req: RewriteRequest, message: str) -> Generated:
    """The versions in the canonical notation: to the output file or stdout."""
    return write_texts([c.file_text() for c in comps], req, message)
