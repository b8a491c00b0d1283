"""The local web app: one page to compose, a page per tune, an archive, a listening test, the JSON API and its docs.

Everything the browser loads (scripts, styles, the API docs' swagger-ui) is
served from here, so the app works with no internet. Errors are JSON
`{"detail": message}`: 400 bad input, 404 unknown tune, 413 too large,
422 malformed request or tune, 503 busy (too many generations or renders waiting; with
Retry-After).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import math
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import fastapi_offline
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..checkpoint import SHIPPED_MODELS
from ..errors import TunesmithError
from .api import ABC, composer, router, tune_json
from .apidoc import description as api_description
from .catalog import ModelCatalog
from .finetune import UPLOAD_PATH
from .finetune import router as finetune_router
from .front import SURPRISE_STYLES, FrontPage
from .inside import VIEWS, Inside
from .listen import ListenTest
from .listen import router as listen_router
from .pages import templates
from .player import router as player_router
from .service import Composer, Limits, RequestError
from .surprise import router as surprise_router
from .store import TuneStore, default_db_path

if TYPE_CHECKING:
    import torch

HERE = Path(__file__).parent
WELCOME_WAIT = 60  # seconds `tunesmith serve` waits at start for the front page's first tune (then serves anyway)


def create_app(db: Path | None = None, runs_dir: Path | None = Path("runs"),
               shipped_dir: Path = SHIPPED_MODELS, limits: Limits = Limits(), device: "torch.device | str" = "cpu",
               welcome: bool = False) -> FastAPI:
    """The app, with its tune database at `db` (default: see `default_db_path`) and models from both folders,
    run on `device` (a torch device: `tunesmith serve --device`). `welcome`: as the server starts, write the
    front page's first tune into an empty database (`tunesmith serve` does; else the first visit starts it)."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if welcome:  # the front page's tune, written before the server takes requests where the store has none
            app.state.front.prepare()  # (about a second; a failure, e.g. no model, is shown on the page)
            await asyncio.to_thread(app.state.front.wait, WELCOME_WAIT)
        yield

    app = FastAPI(title="tunesmith", version=__version__, docs_url=None, redoc_url=None,
                  description=api_description(), lifespan=lifespan)
    app.state.composer = Composer(ModelCatalog(shipped_dir, runs_dir, device), TuneStore(db or default_db_path()),
                                  limits)
    app.state.front = FrontPage(app.state.composer)
    app.state.listen = ListenTest(app.state.composer)  # its tables in the same database
    inside = Inside(app.state.composer)
    # A tunebook to fine-tune on may be larger than any other request: room for its JSON escapes (6 bytes a
    # character at most), so that web/finetune.py, not this cap, tells an upload of too many characters.
    app.add_middleware(BodyLimit, max_body=limits.max_body,
                       larger={UPLOAD_PATH: 6 * limits.max_tunebook + limits.max_body})
    # swagger-ui 5 (OpenAPI 3.1, which FastAPI writes), from the files fastapi-offline ships.
    app.mount("/static/swagger", StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="swagger")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    for tab in templates.env.globals["tabs"]:  # each mode's own tab, as its Mode declares it
        if tab.module is not None:
            app.include_router(importlib.import_module(tab.module).router)
    app.include_router(listen_router)  # /listen and /api/listen/...: across the modes, like the archive
    app.include_router(surprise_router)  # /api/surprise...: the surprise map on the score, and its alternatives
    app.include_router(player_router)  # /api/player: the tune page's practice player, in a key
    app.include_router(finetune_router)  # /finetune and /api/finetune/...: a model adapted to the user's tunebook

    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return JSONResponse({"detail": _printable(str(exc))}, status_code=exc.status, headers=headers)

    @app.exception_handler(TunesmithError)
    async def bad_input(request: Request, exc: TunesmithError) -> JSONResponse:
        return JSONResponse({"detail": _printable(str(exc))}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_message(exc), "errors": jsonable(exc.errors())}, status_code=422)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="tunesmith API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger/favicon.png",
                                   swagger_ui_parameters={"validatorUrl": None})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """The icon pages link to (base.html); served here too for what asks the old address."""
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request, c: Composer = Depends(composer)) -> HTMLResponse:
        front = app.state.front
        featured = front.featured()
        return templates.TemplateResponse(request, "index.html", {
            "models": c.catalog.entries(), "limits": c.limits, "options": ABC.option_specs(), "sampling": ABC.sampling,
            "featured": featured, "featured_tune": featured.tune and tune_json(featured.tune),
            "featured_svg": featured.tune and front.cached_svg(featured.tune), "recent": front.recent(),
            "total": c.store.count(), "styles": [s.__dict__ for s in SURPRISE_STYLES]})

    @app.get("/tune/{tune_id:int}", response_class=HTMLResponse, include_in_schema=False)
    def tune_page(request: Request, tune_id: int, c: Composer = Depends(composer)) -> HTMLResponse:
        try:
            tune = c.tune(tune_id)
        except RequestError as exc:
            return templates.TemplateResponse(request, "missing.html", {"message": str(exc)}, status_code=404)
        svg, error = c.svg_or_error(tune)
        return templates.TemplateResponse(request, "tune.html", {"tune": tune_json(tune), "svg": svg, "svg_error": error})

    @app.get("/tune/{tune_id:int}/inside", response_class=HTMLResponse, include_in_schema=False)
    def inside_page(request: Request, tune_id: int, model: str | None = None, layer: int | None = None,
                    neuron: str = "auto", view: str = "compact", c: Composer = Depends(composer)) -> HTMLResponse:
        context = {"models": c.catalog.entries(), "views": VIEWS,
                   "chosen": {"model": model, "layer": layer, "neuron": neuron, "view": view}}
        try:
            tune = c.tune(tune_id)
            fragment, used = inside.fragment(tune_id, model, layer, neuron, view)
        except TunesmithError as exc:
            status = exc.status if isinstance(exc, RequestError) else 400
            found = c.store.get(tune_id)
            return templates.TemplateResponse(request, "inside.html", {
                **context, "tune": found and tune_json(found), "message": str(exc)}, status_code=status)
        return templates.TemplateResponse(request, "inside.html", {
            **context, "tune": tune_json(tune), "fragment": fragment, "used": used})

    @app.get("/archive", response_class=HTMLResponse, include_in_schema=False)
    def archive(request: Request, page: int = 1, c: Composer = Depends(composer)) -> HTMLResponse:
        per_page, total = 50, c.store.count()
        pages = max(1, -(-total // per_page))
        page = min(max(page, 1), pages)  # a page past either end shows the nearest one
        tunes = c.store.recent(per_page, (page - 1) * per_page)
        return templates.TemplateResponse(request, "archive.html", {
            "tunes": tunes, "page": page, "pages": pages, "total": total})

    return app


def validation_message(exc: RequestValidationError) -> str:
    """One readable line from pydantic's errors, naming each field: `n: Input should be a valid integer (got "1")`."""
    parts = []
    for err in exc.errors():
        kind, loc = err.get("type"), tuple(err.get("loc", ()))
        if kind == "json_invalid":
            parts.append(f"request body: not valid JSON ({err.get('ctx', {}).get('error', 'malformed')})")
            continue
        if loc == ("body",) and kind in ("model_attributes_type", "dict_type", "model_type", "missing"):
            given = err.get("input")
            if kind == "missing" or given in (None, b"", ""):
                what = "nothing"
            elif isinstance(given, (bytes, bytearray)):  # not sent as JSON
                what = "no JSON"
            else:
                what = f"a JSON {_JSON_KINDS.get(type(given), 'value')}"
            parts.append(f"request body: send a JSON object of the request's fields, with Content-Type: "
                         f"application/json (got {what})")
            continue
        where = ".".join(str(p) for p in loc if p not in ("body", "query", "path"))
        message = err.get("msg", "invalid")
        if kind == "extra_forbidden":
            message = "not a field of this request"
        elif kind == "string_unicode":  # a field's name with a lone surrogate
            where, message = where or "request body", "a field's name is not Unicode text; send text as UTF-8"
        given = err.get("input")
        if kind != "missing" and isinstance(given, (bool, int, float, str)) and len(repr(given)) <= 40:
            message += f" (got {json.dumps(given, ensure_ascii=True) if not isinstance(given, float) else given})"
        parts.append(f"{where}: {message}" if where else message)
    return _printable("; ".join(parts) or "invalid request")


_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def jsonable(errors: list) -> list:
    """pydantic's error list as JSON can hold it: an exception in `ctx` as text, a number JSON has no
    spelling for (inf, nan) as text, text with lone surrogates escaped, long input cut short."""
    return _jsonable(errors)


def _jsonable(value):
    if isinstance(value, dict):
        return {_printable(str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, int):
        return value if -2**63 <= value < 2**64 else _short(str(value))  # JSON has big numbers; not every reader
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "backslashreplace")
    return _printable(_short(str(value)))


def _short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def _printable(text: str) -> str:
    """`text` with lone surrogates as \\udXXX escapes: a response must encode as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class BodyLimit:
    """Refuses a request body over `max_body` bytes with 413, before any route reads it (`larger`: a path's own cap)."""

    def __init__(self, app, max_body: int, larger: dict[str, int] | None = None):
        self.app, self.max_body, self.larger = app, max_body, larger or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cap = self.larger.get(scope.get("path", ""), self.max_body)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            return await self._refuse(scope, receive, send, cap)
        # A body without a declared length (chunked) is read here, up to the cap, and handed on whole.
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > cap:
                return await self._refuse(scope, receive, send, cap)
        handed = False

        async def replay():
            nonlocal handed
            if not handed:
                handed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send, cap: int):
        response = JSONResponse({"detail": f"request body over {cap} bytes; send less"}, status_code=413)
        await response(scope, receive, send)
