"""The ABC mode: folk tunes in ABC notation, one character (or ABC token) per symbol.

Its package: `options` (the header fields a user fixes), `writer` (the
tune writer for the shared sampler), `masks` (the well-formed automaton's
masks, cached per state), `measures` (what `evaluate` and `visualize`
measure in a tune), and `infill`, `vary` and `rewrite` (new music for some
bars of a tune, and variations). The automaton itself is `music.abc.wellformed`.
"""

from __future__ import annotations

from pathlib import Path

from ...atomic import write_text_atomic
from ...codecs.abc_chars import CharCodec
from ...codecs.abc_tokens import TokenCodec
from ...errors import TunesmithError
from ..base import CheckReport, Generated, GenerateRequest, Mode, WebTab, deferred, imported
from .options import MIN_LENGTH, Style


def _corpora() -> dict[str, str]:
    from ...corpus.bundled import BUNDLED

    return {name: spec.description for name, spec in BUNDLED.items()}


def _count(name: str) -> tuple[int, int]:
    from ...corpus.bundled import load_bundled
    from ...music.abc.tunes import join_tunes

    tunes = load_bundled(name)
    return len(tunes), len(join_tunes(list(tunes)))


def _load_source(spec: str) -> list:
    from ...corpus.load import source_tunes

    return source_tunes(spec)


def _dedupe(tunes: list) -> list:
    from ...music.abc.tunes import dedupe

    return dedupe(tunes)


def _write(ckpt, req: GenerateRequest) -> list[str]:
    from . import forms, headers
    from .writer import generate_tunes

    headers.check_origin(ckpt.meta, MODE.options_of(req).origin)
    return generate_tunes(ckpt, req.n, seed=req.seed, sampling=req.sampling, style=MODE.options_of(req),
                          primer=req.primer, max_symbols=MODE.max_length_of(req), free=req.free,
                          headers=None if req.free else headers.table_of(ckpt.meta),
                          forms=None if req.free else forms.table_of(ckpt.meta))


def _generate(ckpt, req: GenerateRequest) -> Generated:
    if req.render and req.output is None:
        raise TunesmithError("--render writes files beside the ABC file: name it with -o, e.g. -o out/new.abc")
    tunes = _write(ckpt, req)
    text = "\n".join(tunes)
    if req.output is None:
        return Generated(stdout=text, pieces=tunes)
    if req.render:  # a tune beyond a render limit writes nothing, the tunes neither (the same seed rewrites them)
        from ...render.files import over_limits, parse_kinds, refuse_over_limits

        refuse_over_limits(over_limits(tunes, parse_kinds(",".join(req.render), "--render")), len(tunes))
    write_text_atomic(req.output, text)
    message = f"wrote {len(tunes)} tunes to {req.output}"
    if req.render:
        from ...render.files import render_files

        written = render_files(tunes, req.render, req.output)
        message += f" and {len(written)} rendered files beside it"
    return Generated(message=message, pieces=tunes)


def _details(ckpt, req: GenerateRequest, tunes: list[str]) -> list[dict]:
    """Each tune's title, and its nearest training tune: the one it shares the longest run of bars with.

    "originality" is None for a model that does not record its training corpus, or (with the guard off)
    whose corpus cannot be read now.
    """
    from .originality import index_for

    limit = 0 if req.free else MODE.options_of(req).max_copy_bars
    try:
        index = index_for(ckpt)
    except TunesmithError:
        if limit:
            raise
        index = None
    return [{"title": next((line[2:].strip() for line in tune.split("\n") if line.startswith("T:")), ""),
             "originality": None if index is None else index.longest_copy(tune).to_json(limit)} for tune in tunes]


def _profile(tunes: list) -> dict:
    """What ABC generation keeps of the training tunes besides the weights: their headers and forms."""
    from .forms import FormTable
    from .headers import HeaderTable

    return {"headers": HeaderTable.of_tunes(tunes).to_json(), "forms": FormTable.of_tunes(tunes).to_json()}


def _check_file(path: Path, lint: bool = False, form: bool = False) -> CheckReport:
    """Every tune of an ABC file, a tune without its X: line with a warning; no tune at all is an error.

    `lint`: constructs folk tunes do not write are problems too (music.abc.lint); `form`: each tune's
    form (parts, repeats, tonic ending) is reported.
    """
    from ...corpus.files import ABC_HINT, ABC_TUNES, read_text
    from ...errors import no_pieces
    from ...music.abc.check import check_text, tune_blocks

    text = read_text(path)  # unreadable input: TunesmithError
    reports = check_text(text, unnumbered=True, lint=lint)
    if not reports:
        raise no_pieces(path, ABC_TUNES, ABC_HINT, text)  # as render and train say it
    pieces = [r.to_dict() for r in reports]
    if form:
        from .fidelity import form_report

        for piece, (_, block) in zip(pieces, tune_blocks(text, unnumbered=True)):
            piece["form"] = form_report(block)
    return CheckReport(str(path), pieces, label="tune X:", piece="tune")


MODE = Mode(
    name="abc",
    description="folk tunes in ABC notation",
    writes="ABC",
    about="A character-level RNN that writes folk tunes in ABC notation (canonical header order X, T, M, L, R, K)",
    corpus_note="bundled with music21 or the user's files; cleaned to canonical ABC, exact duplicates removed",
    codecs=(CharCodec, TokenCodec),
    default_model="default",
    options=Style,
    corpora=_corpora,
    count_corpus=_count,
    load_source=_load_source,
    dedupe=_dedupe,
    write=_write,
    generate=_generate,
    check_file=_check_file,
    measures=imported("tunesmith.modes.abc.measures", "MEASURES"),
    suffix="abc",
    renders=("midi", "wav", "svg", "musicxml", "pdf"),
    piece="tune",
    min_length=MIN_LENGTH,
    primer_help="The start of the music (or, starting with X:, of the whole tune).",
    web=WebTab(path="/", title="Compose"),
    profile=_profile,
    check_levels=("lint", "form"),
    infill=deferred("tunesmith.modes.abc.rewrite", "infill_file"),
    vary=deferred("tunesmith.modes.abc.rewrite", "vary_file"),
    details=_details,
)

__all__ = ["MODE", "Style"]
