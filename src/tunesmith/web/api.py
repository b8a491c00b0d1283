"""The JSON API (`/api/...`): thin translations of requests to `Composer` calls.

Errors are JSON `{"detail": message}` with a 4xx status (see `app.py`), so
the page shows the message as it is.
"""

from __future__ import annotations

from enum import Enum
from typing import Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field

from ..errors import TunesmithError
from ..modes import Mode, RewriteRequest
from ..modes.rewriting import the_range
from ..music.abc.check import check_text
from ..render.sheet import DEFAULT_WIDTH, MIN_WIDTH
from ..modes.abc import MODE as ABC
from ..modes.abc.originality import note
from .catalog import ABC_MODELS
from .requests import MAX_ID, Body, Text, request_model, rewrite_model, text
from .service import MEDIA_TYPES, Composer, RequestError, field_names, problems_of
from .store import StoredTune

router = APIRouter(prefix="/api")


def composer(request: Request) -> Composer:
    """The app's Composer (one per app)."""
    return request.app.state.composer


GenerateIn = request_model(ABC, "GenerateIn")


InfillIn = rewrite_model(
    "InfillIn", "New music for some bars of a piece (cycles of a tabla composition), with a model of any mode.",
    bars=(Optional[Text], text(20, default=None, description=(
        "ABC and MIDI: the bars to rewrite, e.g. \"9-12\" or \"5\"; ABC numbers them as the checker does (a pickup "
        "is bar 1), MIDI as its event text's Bar lines."))),
    cycles=(Optional[Text], text(20, default=None, description=(
        "Tabla: the whole cycles of the tala to rewrite, e.g. \"2-3\" (the landing sam stays)."))))
VaryIn = rewrite_model("VaryIn", "A variation of a piece, with a model of any mode.", amount=(float, Field(
    0.3, strict=True, allow_inf_nan=False, gt=0, le=1,
    description="The share of the piece's bars (tabla: cycles) to rewrite, in (0, 1]; ABC keeps the first and last "
                "bar of each part, tabla the first cycle.")))


class AbcIn(Body):
    """One tune's ABC text."""

    abc: Text = text(description="The text of one tune, from its X: line.")


def page_width():
    """The `width` field of a request whose answer is a score: a phone asks for a narrower page (static/app.js)."""
    return Field(None, strict=True, ge=MIN_WIDTH, le=DEFAULT_WIDTH, description=(
        f"The page's width in verovio units, {MIN_WIDTH} to {DEFAULT_WIDTH} (the default; 2.5 a CSS pixel at "
        "the score's natural size): a phone asks for a narrower page, so fewer bars share a line and the notes "
        "stay large."))


class RenderIn(AbcIn):
    """One tune to engrave, on a page as wide as the screen it is shown on."""

    width: int | None = page_width()


class SaveIn(AbcIn):
    """An edited tune to keep."""

    parent: int | None = Field(None, strict=True, description="The tune it was edited from.")


class CheckIn(Body):
    """ABC text with one or more tunes."""

    abc: Text = text(description="ABC text: one tune or several, each from its X: line.")


class Kind(str, Enum):
    """The files a stored tune can be downloaded as."""

    abc = "abc"
    mid = "mid"
    wav = "wav"
    svg = "svg"
    musicxml = "musicxml"
    pdf = "pdf"


def tune_json(tune: StoredTune) -> dict:
    """A stored tune as the API gives it: text, where it came from, its page and files, its problems."""
    return {
        "id": tune.id, "title": tune.title, "abc": tune.abc, "origin": tune.origin, "model": tune.model,
        "params": tune.params, "parent": tune.parent, "created": tune.created, "url": f"/tune/{tune.id}",
        "files": {k.value: f"/api/tunes/{tune.id}.{k.value}" for k in Kind},
        "problems": problems_of(tune.abc),
        "originality": tune.params.get("originality"),  # a generated tune's nearest training tune
        "originality_note": note(tune.params.get("originality")),
    }


def store_generated(c: Composer, body, **marks) -> tuple[int, list[StoredTune]]:
    """New tunes for a generate request, stored with the request that made them (and `marks`, e.g. the front
    page's welcome tune): (seed used, stored tunes). The API and the front page write tunes only through here."""
    seed, entry, texts = c.compose(ABC, body, ABC_MODELS)
    details = c.details(ABC, body, entry, texts)
    record = {**body.model_dump(), "model": entry.name, "seed": seed, **marks}
    return seed, [c.store.add(text, origin="generated", model=entry.name,
                              params={**record, "index": i, "originality": found["originality"]})
                  for i, (text, found) in enumerate(zip(texts, details))]


@router.get("/models")
def list_models(c: Composer = Depends(composer)) -> dict:
    """The models to choose from: the shipped ones and every trained run's best checkpoint."""
    return {"models": [{"name": e.name, "description": e.description} for e in c.catalog.entries()]}


@router.post("/generate")
def generate(body: GenerateIn, c: Composer = Depends(composer)) -> dict:
    """New tunes, stored, each with its sheet music (`svg`, or `svg_error` when it will not engrave) and its
    nearest training tune (`originality`: the longest run of bars it shares with one, see docs/abc.md)."""
    seed, tunes = store_generated(c, body)
    out = []
    for tune in tunes:
        svg, error = c.svg_or_error(tune)
        out.append({**tune_json(tune), "svg": svg, "svg_error": error})
    return {"seed": seed, "tunes": out}


@router.post("/infill")
def infill(body: InfillIn, c: Composer = Depends(composer)) -> dict:
    """New music for bars of a piece (tabla: cycles), leading into what follows; the rest unchanged (not stored).

    The model's mode decides what is sent: an ABC tune as `abc` with `bars`, a tabla composition as `text` with
    `cycles`, a MIDI piece's event text as `text` with `bars`. Each version is the best of `candidates` (the
    fewest `bits` the model spends on the rest of the piece after it).
    """
    entry, mode = c.rewriter(body.model)
    piece = c.piece_of(mode, body)
    try:
        span = the_range(mode, f"model {entry.name!r}", body.bars, body.cycles)
    except TunesmithError as exc:
        raise RequestError(422, field_names(str(exc))) from None
    seed, done = c.rewrite(mode, entry, body, lambda ckpt, sampling, seed: mode.infill(ckpt, RewriteRequest(
        text=piece, bars=span, n=body.n, seed=seed, candidates=body.candidates, sampling=sampling)))
    return rewritten_json(mode, entry.name, seed, done)


@router.post("/vary")
def vary(body: VaryIn, c: Composer = Depends(composer)) -> dict:
    """Variations of a piece: the same form and bar (tabla: cycle) count, about `amount` of them rewritten (not
    stored). The model's mode decides what is sent: an ABC tune as `abc`, a tabla composition or MIDI event text
    as `text`."""
    entry, mode = c.rewriter(body.model)
    piece = c.piece_of(mode, body)
    seed, done = c.rewrite(mode, entry, body, lambda ckpt, sampling, seed: mode.vary(ckpt, RewriteRequest(
        text=piece, amount=body.amount, n=body.n, seed=seed, candidates=body.candidates, sampling=sampling)))
    return rewritten_json(mode, entry.name, seed, done)


def rewritten_json(mode: Mode, model: str, seed: int, done) -> dict:
    """What infill or vary answers: the request's whole (`Generated.about`) and per version its text with what the
    mode says of it (`details`). ABC: `tunes`, each `abc` with the checker's `problems`; tabla and MIDI: `pieces`,
    each `text`, a tabla composition with its grid of cycles (as `/api/tabla` gives one: the tab draws its card
    from it)."""
    out = {"seed": seed, "model": model, "mode": mode.name, **done.about}
    if mode.name == "abc":
        return {**out, "tunes": [{"abc": text, **detail, "problems": problems_of(text)}
                                 for text, detail in zip(done.pieces, done.details)]}
    pieces = [{"text": text, **detail} for text, detail in zip(done.pieces, done.details)]
    if mode.name == "tabla":
        from ..music.tabla.notation import read_text
        from .tabla import grid

        for piece in pieces:
            piece["grid"] = grid(read_text(piece["text"])[0].composition)
    return {**out, "pieces": pieces}


@router.post("/render")
def render(body: RenderIn, c: Composer = Depends(composer)) -> dict:
    """Sheet music and problems of one tune that is not stored (the editor's live view, a phone's score)."""
    problems = problems_of(body.abc) if len(body.abc) <= c.limits.max_chars else []
    return {"svg": c.preview_svg(body.abc, body.width), "problems": problems}


@router.post("/check")
def check(body: CheckIn) -> dict:
    """The checker's report on every tune of the text: bar lengths, keys, meters, unclosed chords."""
    return {"tunes": [r.to_dict() for r in check_text(body.abc.replace("\r\n", "\n"))]}


@router.post("/tunes", status_code=201)
def save(body: SaveIn, c: Composer = Depends(composer)) -> dict:
    """Keep an edited tune as a new tune with its own address."""
    return tune_json(c.save(body.abc, body.parent))


@router.get("/tunes")
def recent(limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0, le=MAX_ID),
           c: Composer = Depends(composer)) -> dict:
    """Stored tunes, newest first."""
    return {"total": c.store.count(),
            "tunes": [{k: v for k, v in tune_json(t).items() if k != "problems"} for t in c.store.recent(limit, offset)]}


@router.get("/tunes/{tune_id:int}")
def get_tune(tune_id: int, c: Composer = Depends(composer)) -> dict:
    """One stored tune."""
    return tune_json(c.tune(tune_id))


@router.get("/tunes/{tune_id:int}.{kind}", response_class=Response,
            responses={200: {"content": {t.split(";")[0]: {} for t in MEDIA_TYPES.values()}}})
def download(tune_id: int, kind: Kind, transpose: int = Query(0, ge=-12, le=12, description=(
                 "Semitones to move the tune, up or down (2: D major to E major); every kind moves the same way.")),
             c: Composer = Depends(composer)) -> Response:
    """A stored tune as a file: its ABC, a MIDI file, a WAV recording, SVG or PDF sheet music, or MusicXML."""
    data = c.file(tune_id, kind.value, transpose)
    title = c.tune(tune_id).title
    name = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in title).strip("-")[:60] or "tune"
    moved = f"{transpose:+d}" if transpose else ""
    return Response(data, media_type=MEDIA_TYPES[kind.value],
                    headers={"Content-Disposition": f'inline; filename="{tune_id}-{name}{moved}.{kind.value}"'})

