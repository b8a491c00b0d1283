"""The ABC mode: folk tunes in ABC notation, one character (or ABC token) per symbol."""

from __future__ import annotations

from pathlib import Path

from ..atomic import write_text_atomic
from ..errors import TunesmithError
from .base import CheckReport, Generated, GenerateRequest, Mode


def _corpora() -> dict[str, str]:
    from ..corpus.bundled import BUNDLED

    return {name: spec.description for name, spec in BUNDLED.items()}


def _count(name: str) -> tuple[int, int]:
    from ..corpus.bundled import load_bundled
    from ..music.abc.tunes import join_tunes

    tunes = load_bundled(name)
    return len(tunes), len(join_tunes(list(tunes)))


def _load_source(spec: str) -> list:
    from ..corpus.load import source_tunes

    return source_tunes(spec)


def _dedupe(tunes: list) -> list:
    from ..music.abc.tunes import dedupe

    return dedupe(tunes)


def _generate(ckpt, req: GenerateRequest) -> Generated:
    from ..generate import generate_tunes

    for option, value in (("--bars", req.bars), ("--seconds", req.seconds), ("--tala", req.tala),
                          ("--cycles", req.cycles), ("--primer-file", req.primer_file)):
        if value is not None:
            raise TunesmithError(f"{option} is for other modes; this model writes ABC (mode abc)")
    if req.render and req.output is None:
        raise TunesmithError("--render writes files beside the ABC file: name it with -o, e.g. -o out/new.abc")
    tunes = generate_tunes(ckpt, req.n, seed=req.seed, sampling=req.sampling, style=req.style,
                           primer=req.primer, max_symbols=req.max_length, free=req.free)
    text = "\n".join(tunes)
    if req.output is None:
        return Generated(stdout=text, pieces=tunes)
    write_text_atomic(req.output, text)
    message = f"wrote {len(tunes)} tunes to {req.output}"
    if req.render:
        from ..render.files import render_files

        written = render_files(tunes, req.render, req.output)
        message += f" and {len(written)} rendered files beside it"
    return Generated(message=message, pieces=tunes)


def _check_file(path: Path) -> CheckReport:
    from ..corpus.files import read_text
    from ..music.abc.check import check_text

    reports = check_text(read_text(path))  # unreadable input: TunesmithError
    return CheckReport(str(path), [r.to_dict() for r in reports], label="tune X:")


MODE = Mode(
    name="abc",
    description="folk tunes in ABC notation",
    codecs=("abc-chars", "abc-tokens"),
    unit="char",
    default_model="default",
    corpora=_corpora,
    load_source=_load_source,
    dedupe=_dedupe,
    generate=_generate,
    check_file=_check_file,
    count_corpus=_count,
)
