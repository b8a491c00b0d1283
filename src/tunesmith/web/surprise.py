"""The surprise map on the score, and writing again from one of a note's alternatives (`/api/surprise...`).

`POST /api/surprise` reads a tune with a model and gives its sheet music
with each note coloured by the model's surprise, and per note its
characters, bits and the model's likeliest alternatives
(`insight.surprise`). `POST /api/surprise/regenerate` writes the tune again
from a note with one of them in its place: the rest of the bar (the tune
after it kept, `modes.abc.reprime.rest_of_bar`) or the rest of the tune. The
writing is the one generation path (`Composer.compose`, a primer like any
other), and the new tune is stored like a generated one.
(Continuing from the editor's cursor needs nothing here: it is
`/api/generate` with the text before the cursor as the primer.)
"""

from __future__ import annotations

import secrets
from enum import Enum

from fastapi import APIRouter, Depends
from pydantic import Field, create_model

from ..errors import TunesmithError
from ..insight.surprise import SCALE_BITS, surprise_map
from ..modes.abc.reprime import MAX_SYMBOL_CHARS, check_alternative, continuation, primer_at, rest_of_bar
from .api import ABC, GenerateIn, composer, page_width, tune_json
from .catalog import ABC_MODELS
from .requests import MAX_ID, MAX_SEED, Body, Text, text
from .service import Composer, RequestError, field_names, inert_svg, one_tune

router = APIRouter(prefix="/api/surprise")

# Seeds tried, one after another, for a bar that fits back into the tune (the model may end its bar short
# before a repeat, where the tune went on): 92 bars of 100 fitted at the first try, 97 within 4 (docs/web.md).
BAR_TRIES = 4
_SAMPLING = ("model", "seed", "temperature", "top_p", "top_k")


class Scope(str, Enum):
    """How much of the tune the model writes again after the chosen symbol."""

    bar = "bar"
    tune = "tune"


class SurpriseIn(Body):
    """A tune to read, and the model to read it with."""

    abc: Text = text(description="The text of one tune, from its X: line.")
    model: Text | None = text(200, default=None, description="A model's name (default: the shipped ABC model).")
    width: int | None = page_width()


RegenerateIn = create_model(
    "RegenerateIn", __base__=Body, __doc__="A note of a tune to write again from, with another symbol in its place.",
    abc=(Text, text(description="The text of one tune, from its X: line.")),
    at=(int, Field(strict=True, ge=0, le=MAX_ID, description="Where the note starts: its offset in `abc`, in "
                                                             "characters (the surprise map's `start`).")),
    symbol=(Text, text(MAX_SYMBOL_CHARS, description="What to write there instead (one of the note's alternatives).")),
    scope=(Scope, Field(Scope.bar, description="Write again the rest of the note's bar (the tune after it kept), "
                                               "or the rest of the tune.")),
    **{name: (GenerateIn.model_fields[name].annotation, GenerateIn.model_fields[name]) for name in _SAMPLING},
)


def tune_in(c: Composer, abc: str) -> tuple[str, int]:
    """The one tune of the text sent (as `one_tune` reads it: from its X: line) and where it starts in that
    text, so that the offsets a request gives and an answer returns count in the text as sent (an editor's)."""
    tune = one_tune(abc, c.limits)
    start = abc.replace("\r\n", "\n").replace("\r", "\n").find(tune.rstrip("\n"))
    return tune, max(start, 0)


def _read(c: Composer, tune: str, model: str | None, width: int | None = None):
    """The surprise map of one tune by the named model (the shipped one when None), its score engraved on a
    page `width` units wide (None: the default page; a phone's is narrower, as for `/api/render`)."""
    svg = c.preview_svg(tune, width)
    entry = c.catalog.find(model, ABC_MODELS)
    with c.turn():
        try:
            return entry, surprise_map(c.catalog.load(entry), tune, svg, where="abc")
        except TunesmithError as exc:  # a character the model never saw
            raise RequestError(422, field_names(str(exc))) from None


@router.post("")
def read(body: SurpriseIn, c: Composer = Depends(composer)) -> dict:
    """The tune's sheet music (on a page `width` units wide) with each note coloured by the model's surprise,
    and per note (by its SVG id) its characters (offsets `start`..`end` in `abc`), bits, and the model's likeliest alternatives."""
    tune, start = tune_in(c, body.abc)
    entry, found = _read(c, tune, body.model, body.width)
    return {"model": entry.name, "unit": found.unit, "svg": inert_svg(found.svg), "scale_bits": SCALE_BITS,
            "mean_bits": round(found.mean_bits(), 4), "unmapped": found.unmapped,
            "notes": [n.to_dict(shift=start) for n in found.notes]}


@router.post("/regenerate")
def regenerate(body: RegenerateIn, c: Composer = Depends(composer)) -> dict:
    """The tune written again from a note with `symbol` in its place: stored, with its sheet music, as
    `/api/generate` gives its tunes; `written` is where the model's text is in it (offsets)."""
    tune, start = tune_in(c, body.abc)
    at = body.at - start
    primer = _checked_primer(c, body, tune, at)
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    entry, new, span = _write_again(c, body, tune, at, primer, seed)
    record = {**body.model_dump(exclude={"abc"}), "scope": body.scope.value, "model": entry.name, "seed": seed,
              "primer": primer}
    stored = c.store.add(new, origin="generated", model=entry.name, params=record)
    svg, error = c.svg_or_error(stored)
    return {"seed": seed, "written": list(span),
            "tunes": [{**tune_json(stored), "svg": svg, "svg_error": error}]}


def _checked_primer(c: Composer, body, tune: str, at: int) -> str:
    """The tune up to the note and the symbol, refused (422) before any writing when it cannot be written on."""
    entry = c.catalog.find(body.model, ABC_MODELS)
    if body.symbol not in c.catalog.load(entry).codec.index:
        raise RequestError(422, f"symbol {body.symbol!r}: not a symbol of model {entry.name!r}")
    try:
        primer = primer_at(tune, at, body.symbol, given=body.at)
        check_alternative(tune, at, body.symbol, given=body.at)
    except TunesmithError as exc:
        raise RequestError(422, str(exc)) from None
    return primer


def _write_again(c: Composer, body, tune: str, at: int, primer: str, seed: int):
    """(model, new tune, where the model's text is in it): the whole continuation, or the first of up to
    BAR_TRIES seeds (seed, seed + 1, ...) whose bar fits back into the tune."""
    sampling = {name: getattr(body, name) for name in _SAMPLING if name != "seed"}
    tries = BAR_TRIES if body.scope is Scope.bar else 1
    for k in range(tries):
        request = GenerateIn(**sampling, seed=(seed + k) % (MAX_SEED + 1), n=1, primer=primer)
        _, entry, (written,) = c.compose(ABC, request, ABC_MODELS)
        if body.scope is Scope.tune:
            return entry, written, (continuation(primer, written) - len(body.symbol), len(written))
        fitted = rest_of_bar(tune, at, body.symbol, written)
        if fitted is not None:
            return entry, *fitted
    raise RequestError(422, f"the model's bar did not fit back into the tune with seeds {seed} to "
                            f"{seed + tries - 1} (not the length of the bar it replaces, or something left "
                            "open); try another seed, or write again the rest of the tune")
