"""The tabla mode: compositions in bols, one symbol per bol, kept true to the tala.

Its package: `corpus` (bundled corpora, notation files and the checker),
`options` (tala, cycles, tempo, the audio's layers), `writer` (the
tala-true writer for the shared sampler) and `measures` (what `evaluate`
measures in a composition), `infill` and `rewrite` (whole cycles rewritten,
`tunesmith infill --cycles` and `vary`). Its web tab is `web/tabla.py`.
"""

from __future__ import annotations

from pathlib import Path

from ...atomic import write_bytes_atomic, write_text_atomic
from ...codecs.tabla_bols import BolCodec
from ...errors import TunesmithError
from ...music.tabla.notation import Composition
from ...options import Sampling
from ..base import Generated, GenerateRequest, Mode, Player, WebTab, deferred, imported
from .corpus import check_file, corpora, count, dedupe, load_source
from .options import RENDERS, TablaOptions, TablaPractice
from .practice import KINDS, is_tabla_file, planned_files


def _generate(ckpt, req: GenerateRequest) -> Generated:
    from ...render.limits import RenderLimitError
    from ...render.tabla_audio import check_composition, composition_midi, composition_wav

    pieces = MODE.write(ckpt, req)
    texts = [p.file_text() if isinstance(p, Composition) else p for p in pieces]
    text = "\n".join(texts)
    bad = sum(isinstance(p, str) for p in pieces)
    note = f"; {bad} of {len(pieces)} do not check (--free)" if bad else ""
    if req.output is None:
        return Generated(stdout=text, message=note.lstrip("; "), pieces=texts)
    files: list[tuple[Path, bytes]] = []
    kinds = set(req.render)
    for i, piece in enumerate(pieces, 1):
        if kinds and not isinstance(piece, Composition):
            raise TunesmithError(f"composition {i} does not check (--free), so it cannot be rendered; drop --render")
        if kinds & {"wav", "midi"}:  # every composition measured before any is rendered or written
            try:
                check_composition(piece, piece.tempo, theka="theka" in kinds and "wav" in kinds)
            except RenderLimitError as exc:
                raise RenderLimitError(f"composition {i}: {exc}; nothing was written", exc.limit) from None
    for i, piece in enumerate(pieces, 1):
        stem = req.output.stem if len(pieces) == 1 else f"{req.output.stem}-{i}"
        if "wav" in kinds:
            wav = composition_wav(piece, piece.tempo, drone="drone" in kinds, theka="theka" in kinds, seed=req.seed)
            files.append((req.output.with_name(stem + ".wav"), wav))
        if "midi" in kinds:
            files.append((req.output.with_name(stem + ".mid"), composition_midi(piece, piece.tempo)))
    write_text_atomic(req.output, text)
    for path, data in files:
        write_bytes_atomic(path, data)
    rendered = f" and {len(files)} rendered files beside it" if files else ""
    return Generated(message=f"wrote {len(pieces)} compositions to {req.output}{rendered}{note}", pieces=texts)


MODE = Mode(
    name="tabla",
    description="tabla compositions in bols, in a tala",
    writes="tabla",
    about="An RNN that writes tabla compositions in bols, cycle by cycle of a tala (see `music/tabla/`)",
    corpus_note="compositions in tunesmith's bol notation; exact duplicates removed",
    codecs=(BolCodec,),
    default_model="tabla",
    options=TablaOptions,
    corpora=corpora,
    count_corpus=count,
    load_source=load_source,
    dedupe=dedupe,
    write=deferred("tunesmith.modes.tabla.writer", "generate_compositions"),
    generate=_generate,
    check_file=check_file,
    measures=imported("tunesmith.modes.tabla.measures", "MEASURES"),
    suffix="tabla",
    renders=RENDERS,
    # top-p 1: the rarer forms (relas, tukdas, thekas) come back, and the forms, their lengths and the bols
    # come closest to the corpus's (the search in docs/tabla.md, benchmarks/tabla_forms.py --search).
    sampling=Sampling(top_p=1.0),
    piece="composition",
    primer_help="'theka' for one cycle of the tala's theka, or the first bols (Dha Dha Ti Ta | ...); "
                "a first line 'form: kaida' fixes the form.",
    web=WebTab(path="/tabla", title="Tabla", module="tunesmith.web.tabla"),
    player=Player(TablaPractice, is_tabla_file, planned_files, deferred("tunesmith.modes.tabla.practice", "render_file"),
                  KINDS),
    infill=deferred("tunesmith.modes.tabla.rewrite", "infill_file"),
    vary=deferred("tunesmith.modes.tabla.rewrite", "vary_file"),
    rewrites="cycle",
)

__all__ = ["MODE", "TablaOptions", "TablaPractice", "load_source"]
