"""The Tabla tab: compose tabla in a tala with the tabla mode's writer, see each cycle as a grid, hear it.

Pages `/tabla` (the form) and `/tabla/<id>` (one stored composition), and
the JSON API under `/api/tabla`. The composing is the tabla mode's
`generate_compositions` (tala-true: whole cycles, marks in place, landing on
sam); the sound is `render.tabla_audio`. This module only checks what the
web adds (how many at once, how long the audio may last), keeps the results
in the app's store, and lays a composition out as a grid of cycles.
"""

from __future__ import annotations

from enum import Enum

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from ..checkpoint import read_config
from ..codecs import codec_from_dict
from ..codecs.tabla_bols import known_talas
from ..modes.tabla import MODE as TABLA
from ..modes.tabla.options import TablaPractice
from ..modes.tabla.forms import read_form
from ..modes.tabla.plans import longest
from ..music.tabla.notation import Composition, read_text
from ..music.tabla.talas import TALAS, get_tala
from .api import composer
from .catalog import ModelCatalog, ModelEntry, ModelKind
from .requests import request_model
from ..errors import TunesmithError
from .service import Composer, RequestError
from .pages import templates
from .store import StoredComposition

router = APIRouter()

# Audio is rendered whole in memory (44.1 kHz floats, a few layers): a slow tempo times many cycles
# could ask for hours of it, so a composition may last at most this long.
MAX_AUDIO_SECONDS = 300.0
MEDIA_TYPES = {"txt": "text/plain; charset=utf-8", "wav": "audio/wav", "mid": "audio/midi"}


class Kind(str, Enum):
    """The files a stored composition can be downloaded as."""

    txt = "txt"
    wav = "wav"
    mid = "mid"


TablaIn = request_model(TABLA, "TablaIn")


def _describe_tabla(config: dict) -> str:
    bits = config.get("metrics", {}).get("held_out_bits_per_symbol")
    figure = f", {bits:.3f} held-out bits/bol" if isinstance(bits, (int, float)) else ""
    return f"{config.get('model', {}).get('cell', '?')} on tabla{figure}"


# The models that write tabla: shipped ones ("tabla" first), then every trained run's best checkpoint.
TABLA_MODELS = ModelKind("tabla", lambda c: isinstance(c.get("codec"), dict) and c["codec"].get("name") == "tabla-bols",
                         _describe_tabla, noun="tabla model", empty="no tabla models: none in")


def tabla_models(catalog: ModelCatalog) -> list[ModelEntry]:
    """The tabla models on offer."""
    return catalog.entries(TABLA_MODELS)


def model_talas(entry: ModelEntry) -> list[str]:
    """The talas this model writes in, in TALAS's order: those its vocabulary has a header for, read from its
    config.json as the writer reads them when it refuses another ("this model never saw it"). A config that
    does not read offers every tala, and generating then says what is wrong with the model."""
    try:
        known = set(known_talas(codec_from_dict(read_config(entry.path)["codec"]).vocab))
    except TunesmithError:
        return list(TALAS)
    return [name for name in TALAS if name in known]


def find_model(catalog: ModelCatalog, name: str | None) -> ModelEntry:
    """The tabla model with this name (None: the first on offer); an unknown name is the user's error."""
    return catalog.find(name, TABLA_MODELS)


def _band(name: str) -> str:
    """The colour band of a form's section: theme, variation, tihai (its phrases and lead), gap, theka, body."""
    if name.startswith("tihai") or name.startswith("phrase"):
        return "tihai"
    return name.split()[0]


def grid(comp: Composition) -> dict:
    """The composition laid out for the page: per cycle its vibhags, each with its mark and its matras' bols,
    each matra with the part of the form it is in (forms.read_form: theme, variation 2, tihai phrase 1, gap ...)."""
    tala = TALAS[comp.tala]
    starts = (0,) + tala.boundaries
    reading = read_form(comp)
    part = {i: s.name for s in reading.sections for i in range(s.start, s.end)}

    n = tala.matras
    cycles = [[{"mark": mark, "matras": [list(m) for m in cycle[start:start + length]],
                "parts": [part.get(c * n + start + j, "") for j in range(length)]}
               for mark, start, length in zip(tala.marks, starts, tala.vibhags)]
              for c, cycle in enumerate(comp.cycles)]
    sections = [{"name": s.name, "band": _band(s.name), "from": s.start + 1, "to": s.end}
                for s in reading.sections if s.name != "gap"]
    return {"tala": tala.name, "matras": tala.matras, "vibhags": list(tala.vibhags), "marks": list(tala.marks),
            "cycles": cycles, "landing": list(comp.landing) if comp.landing is not None else None,
            "landing_part": part.get(len(comp.cycles) * n, ""),
            "form": comp.form, "in_form": reading.in_form, "sections": sections}


def _read(stored: StoredComposition) -> Composition:
    [reading] = read_text(stored.text)
    if reading.composition is None:  # stored only after the tabla reader accepted it
        raise AssertionError(f"stored composition {stored.id} does not read: {reading.problems}")
    return reading.composition


def composition_json(stored: StoredComposition) -> dict:
    """A stored composition as the API gives it: text, frame, grid, its page and files."""
    comp = _read(stored)
    return {
        "id": stored.id, "title": stored.title, "text": stored.text, "tala": stored.tala, "tempo": comp.tempo,
        "form": comp.form, "cycles": len(comp.cycles), "model": stored.model, "params": stored.params,
        "created": stored.created, "url": f"/tabla/{stored.id}",
        "files": {k.value: f"/api/tabla/{stored.id}.{k.value}" for k in Kind}, "grid": grid(comp),
    }


def composition(c: Composer, comp_id: int) -> StoredComposition:
    """A stored composition, or 404."""
    found = c.store.get_composition(comp_id)
    if found is None:
        raise RequestError(404, f"no tabla composition {comp_id}")
    return found


def generate(c: Composer, body: TablaIn) -> tuple[int, list[StoredComposition]]:
    """New compositions, stored; returns the seed used and them. Waits for a free generation slot."""
    tala = get_tala(body.tala, "tala")
    # Without cycles each form takes its own length: the longest of them must fit too.
    cycles = longest(tala) if body.cycles is None else body.cycles
    if body.tempo > 0 and cycles >= 1:  # out of range, the tabla mode says why
        seconds = (cycles * tala.matras + 1) * 60 / body.tempo
        if seconds > MAX_AUDIO_SECONDS:
            upto = "up to " if body.cycles is None else ""
            raise RequestError(422, f"cycles, tempo: {upto}{cycles} cycles of {tala.name} at {body.tempo:g} matras "
                                    f"per minute last {seconds:.0f} s; at most {MAX_AUDIO_SECONDS:.0f} s here "
                                    "(fewer cycles or a faster tempo)")
    seed, entry, comps = c.compose(TABLA, body, TABLA_MODELS)
    record = {**body.model_dump(), "tala": tala.name, "model": entry.name, "seed": seed}
    return seed, [c.store.add_composition(comp.file_text(), title=comp.title, tala=comp.tala, model=entry.name,
                                          params={**record, "index": i})
                  for i, comp in enumerate(comps)]


def composition_file(c: Composer, comp_id: int, kind: str) -> bytes:
    """A stored composition as a file: its text, MIDI, or WAV with the layers it was asked with (made once, kept)."""
    from ..render.limits import RenderLimitError
    from ..render.tabla_audio import check_composition, composition_midi, composition_wav

    stored = composition(c, comp_id)
    if kind == "txt":
        return stored.text.encode("utf-8")
    cached = c.store.composition_render(comp_id, kind)
    if cached is not None:
        return cached
    comp = _read(stored)
    p = stored.params
    try:
        if kind == "mid":
            data = composition_midi(comp, comp.tempo)
        else:  # audio is the heavy render: measured, then it waits its turn with other audio (never a generation's)
            check_composition(comp, comp.tempo, theka=bool(p.get("theka")))
            with c.audio_turn():
                data = composition_wav(comp, comp.tempo, theka=bool(p.get("theka")), drone=bool(p.get("drone")),
                                       seed=int(p.get("seed", 0)))
    except RenderLimitError as exc:  # too long or too many strokes to render: refused, nothing kept
        raise RequestError(exc.status, str(exc)) from None
    c.store.keep_composition_render(comp_id, kind, data)
    return data


# -- practice: the lehra, a tempo ramp and layakari (render/tabla_practice.py) --------------------------

PRACTICE_SPECS = TABLA.player.option_specs()
_TRUE, _FALSE = ("1", "true", "on"), ("0", "false", "off", "")


def _practice_value(spec, raw: str):
    """One query value as its declared type; a value that is not one is a 422 naming the field."""
    if spec.type is bool:
        if raw.lower() not in _TRUE + _FALSE:
            raise RequestError(422, f"{spec.name}: {raw!r} is not true or false")
        return raw.lower() in _TRUE
    if raw.strip() == "":
        return spec.default
    if spec.type in (int, float):
        try:
            value = spec.type(raw)
        except ValueError:
            raise RequestError(422, f"{spec.name}: {raw!r} is not {'a whole number' if spec.type is int else 'a number'}") from None
        low, high = spec.info.minimum, spec.info.maximum
        if value != value or (low is not None and value < low) or (high is not None and value > high):
            raise RequestError(422, f"{spec.name}: {raw} is not between {low:g} and {high:g}")
        return value
    if spec.info.max_chars is not None and len(raw) > spec.info.max_chars:
        raise RequestError(422, f"{spec.name}: at most {spec.info.max_chars} characters")
    return raw


def practice_options(query) -> TablaPractice:
    """The practice options of a query string (?lehra=1&sa=D&laya=2 ...), each checked; another field is a 422."""
    known = {spec.name: spec for spec in PRACTICE_SPECS}
    values = {}
    for name, raw in query.items():
        if name not in known:
            raise RequestError(422, f"{name}: not a practice option (known: {', '.join(known)})")
        values[name] = _practice_value(known[name], raw)
    return TablaPractice(**values)


def _practised(comp: Composition, options: TablaPractice):
    """The renderer's Practice for the composition, its settings checked (a 422) and its length measured (413)."""
    from ..modes.tabla.practice import practice_of
    from ..render.limits import RenderLimitError
    from ..render.tabla_practice import check_practice

    practice = practice_of(options, comp)
    try:
        schedule = check_practice(comp, practice)
    except RenderLimitError as exc:
        raise RequestError(exc.status, str(exc)) from None
    except TunesmithError as exc:
        raise RequestError(422, str(exc)) from None
    if schedule.total_seconds > MAX_AUDIO_SECONDS:
        raise RequestError(413, f"the practice playback lasts {schedule.total_seconds:.0f} s; at most "
                                f"{MAX_AUDIO_SECONDS:.0f} s here (fewer ramp cycles or a faster tempo)")
    return practice, schedule


def practice_json(comp: Composition, options: TablaPractice, wav_url: str) -> dict:
    """What the page's player needs: the WAV's address and when each cycle starts, at which tempo."""
    practice, schedule = _practised(comp, options)
    tala = TALAS[comp.tala]
    query = urlencode({k: ("1" if v is True else "0" if v is False else v)
                       for k, v in vars(options).items() if v is not None})
    return {"wav": f"{wav_url}?{query}", "tala": tala.name, "matras": tala.matras, "marks": list(tala.marks),
            "vibhag_starts": [0, *tala.boundaries], "laya": practice.laya, "tempos": list(schedule.tempos),
            "cycle_starts": list(schedule.cycle_starts), "total_seconds": schedule.total_seconds,
            "composition_matras": sum(len(c) for c in comp.cycles)}


def practice_wav(c: Composer, comp: Composition, options: TablaPractice, seed: int = 0) -> bytes:
    """The practice playback as a WAV, rendered in the audio slot."""
    from ..render.tabla_practice import practice_wav as render

    practice, _ = _practised(comp, options)
    with c.audio_turn():
        return render(comp, practice, seed)


def theka_of(name: str) -> Composition:
    """One cycle of a tala's theka landing on sam; an unknown tala is a 404 naming the known ones."""
    from ..modes.tabla.practice import theka_composition
    from ..music.tabla.talas import find_tala, unknown_tala_message

    tala = find_tala(name)
    if tala is None:
        raise RequestError(404, unknown_tala_message(name))
    return theka_composition(tala)


# -- pages ----------------------------------------------------------------------

def _talas() -> list[dict]:
    return [{"name": t.name, "matras": t.matras, "shape": t.shape, "marks": list(t.marks)} for t in TALAS.values()]


@router.get("/tabla", response_class=HTMLResponse, include_in_schema=False)
def tabla_page(request: Request, c: Composer = Depends(composer)) -> HTMLResponse:
    """The Tabla tab: the form (its talas those of the first model; tabla.js swaps them when another model is
    chosen), the theka's own tala menu (every tala: a theka needs no model), and the compositions it writes."""
    models = tabla_models(c.catalog)
    talas = {m.name: model_talas(m) for m in models}
    options = TABLA.option_specs()
    return templates.TemplateResponse(request, "tabla.html", {
        "models": models, "limits": c.limits, "options": options, "sampling": TABLA.sampling,
        "practice": PRACTICE_SPECS, "model_talas": talas, "tala": next(s for s in options if s.name == "tala"),
        "only": {"tala": talas[models[0].name]} if models else {}})


@router.get("/tabla/{comp_id:int}", response_class=HTMLResponse, include_in_schema=False)
def composition_page(request: Request, comp_id: int, c: Composer = Depends(composer)) -> HTMLResponse:
    """One stored composition's own page."""
    try:
        stored = composition(c, comp_id)
    except RequestError as exc:
        return templates.TemplateResponse(request, "missing.html", {"message": str(exc)}, status_code=404)
    return templates.TemplateResponse(request, "tabla_one.html", {"comp": composition_json(stored),
                                                                  "practice": PRACTICE_SPECS})


# -- the JSON API -----------------------------------------------------------------

@router.get("/api/tabla/talas")
def list_talas() -> dict:
    """The talas: matras, vibhags (4+4+4+4) and their marks (X sam, 0 khali, numbers tali)."""
    return {"talas": _talas()}


@router.get("/api/tabla/models")
def list_models(c: Composer = Depends(composer)) -> dict:
    """The tabla models to choose from: the shipped one and every trained tabla run's best checkpoint, each with
    the talas it writes in (another is refused)."""
    return {"models": [{"name": e.name, "description": e.description, "talas": model_talas(e)}
                       for e in tabla_models(c.catalog)]}


@router.post("/api/tabla/generate")
def generate_route(body: TablaIn, c: Composer = Depends(composer)) -> dict:
    """New tabla compositions, stored, each with its cycle grid and its page, audio, MIDI and text files."""
    seed, stored = generate(c, body)
    return {"seed": seed, "compositions": [composition_json(s) for s in stored]}


@router.get("/api/tabla/{comp_id:int}")
def get_composition(comp_id: int, c: Composer = Depends(composer)) -> dict:
    """One stored composition."""
    return composition_json(composition(c, comp_id))


@router.get("/api/tabla/{comp_id:int}.{kind}", response_class=Response,
            responses={200: {"content": {t.split(";")[0]: {} for t in MEDIA_TYPES.values()}}})
def download(comp_id: int, kind: Kind, c: Composer = Depends(composer)) -> Response:
    """A stored composition as a file: its text (tabla notation), a WAV recording or a MIDI file."""
    data = composition_file(c, comp_id, kind.value)
    title = composition(c, comp_id).title
    name = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in title).strip("-")[:60] or "tabla"
    return Response(data, media_type=MEDIA_TYPES[kind.value],
                    headers={"Content-Disposition": f'inline; filename="tabla-{comp_id}-{name}.{kind.value}"'})


@router.get("/api/tabla/theka/{tala}")
def get_theka(tala: str) -> dict:
    """One cycle of a tala's theka landing on sam, as a composition: its text and grid, and its practice player."""
    comp = theka_of(tala)
    return {"title": comp.title, "tala": comp.tala, "text": comp.file_text(), "grid": grid(comp),
            "practice": f"/api/tabla/theka/{comp.tala}/practice"}


@router.get("/api/tabla/theka/{tala}/practice")
def theka_practice(tala: str, request: Request) -> dict:
    """A tala's theka for practice (query: the practice options): the WAV's address and its cycles' timing."""
    comp = theka_of(tala)
    return practice_json(comp, practice_options(request.query_params), f"/api/tabla/theka/{comp.tala}/practice.wav")


@router.get("/api/tabla/theka/{tala}/practice.wav", response_class=Response,
            responses={200: {"content": {"audio/wav": {}}}})
def theka_practice_wav(tala: str, request: Request, c: Composer = Depends(composer)) -> Response:
    """A tala's theka played for practice: with a lehra, a ramp, layakari (query: the practice options)."""
    data = practice_wav(c, theka_of(tala), practice_options(request.query_params))
    return Response(data, media_type="audio/wav")


@router.get("/api/tabla/{comp_id:int}/practice")
def composition_practice(comp_id: int, request: Request, c: Composer = Depends(composer)) -> dict:
    """A stored composition for practice (query: the practice options): the WAV's address and its cycles' timing."""
    comp = _read(composition(c, comp_id))
    return practice_json(comp, practice_options(request.query_params), f"/api/tabla/{comp_id}/practice.wav")


@router.get("/api/tabla/{comp_id:int}/practice.wav", response_class=Response,
            responses={200: {"content": {"audio/wav": {}}}})
def composition_practice_wav(comp_id: int, request: Request, c: Composer = Depends(composer)) -> Response:
    """A stored composition played for practice: with a lehra, a ramp, layakari (query: the practice options)."""
    stored = composition(c, comp_id)
    data = practice_wav(c, _read(stored), practice_options(request.query_params), int(stored.params.get("seed", 0)))
    return Response(data, media_type="audio/wav")
