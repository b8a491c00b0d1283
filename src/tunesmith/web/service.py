"""What the web app does, free of HTTP: generate, check, render and keep tunes, within limits.

The routes in `app.py` only translate requests to these calls and errors
to status codes; a `RequestError` carries the status, any other
`TunesmithError` is the user's bad input (400).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Callable

from pydantic import BaseModel

from ..errors import TunesmithError
from ..modes import GenerateRequest, Mode
from ..music.abc.check import check_tune, tune_blocks
from ..options import Sampling
from ..render.limits import RenderLimitError
from ..render.sheet_pool import SheetBusy, SheetPool
from .catalog import ALL_MODELS, ModelCatalog, ModelEntry, ModelKind
from .requests import options_from
from .store import StoredTune, TuneStore

# What a download of each kind is, by file suffix.
MEDIA_TYPES = {"abc": "text/vnd.abc; charset=utf-8", "mid": "audio/midi", "wav": "audio/wav",
               "svg": "image/svg+xml", "musicxml": "application/vnd.recordare.musicxml+xml",
               "pdf": "application/pdf"}
# Kinds engraved by verovio: a failure is the tune's, and is kept (a stored tune never changes).
_ENGRAVED = ("svg", "pdf")
# A command-line option named in a library message: "--max-length" -> "max_length".
_OPTION_NAME = re.compile(r"(?<![\w-])--([a-z][a-z-]*)")
# Markup a browser would run: script elements, event-handler attributes, javascript: links (in tags only;
# text is escaped, so a title that says "on=" or "javascript:" is not a match).
_ACTIVE_SVG = re.compile(r"<\s*(script|foreignObject|iframe)\b|<[^>]*\son[a-z]+\s*=|<[^>]*=\s*[\"']?\s*javascript:",
                         re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server; the defaults suit a laptop shared by a few people.

    Sheet music (`render/sheet_pool.py`): `render_workers` verovio processes
    draw it and up to `render_queue` more renders wait; a render answers within
    `render_timeout` seconds of its arrival, a tune verovio cannot finish by
    then is abandoned (and its failure kept with the stored tune), and a render
    that finds no room, or spends its time waiting, is a 503 with Retry-After.
    Each kind of work holds a bounded share of the server's 40 threads: sheet
    music `2 * render_workers + render_queue` (tunes set aside included),
    generations `generations + queue`, audio `audio + queue`, and the drawing
    of PDF pages (after their engraving, a sheet-music render) `2 * audio`.
    """

    max_tunes: int = 8              # tunes per generate request (and versions per infill or vary request)
    max_candidates: int = 32        # candidates per version of an infill or vary request
    max_chars: int = 8000           # characters per tune (typed, or generated: caps --max-length)
    max_body: int = 64 * 1024       # bytes per request body
    render_timeout: float = 15.0    # seconds for one sheet-music render, from the request's arrival (waiting included)
    render_workers: int = 2         # verovio processes drawing sheet music for the requests as they come
    render_queue: int = 8           # sheet-music renders waiting for one; beyond that the oldest gets 503
    generations: int = 2            # generations running at once; the others wait their turn
    audio: int = 2                  # audio renders running at once, in slots of their own (never a generation's)
    queue: int = 8                  # generations (or audio renders) waiting; beyond that the server says it is busy
    max_tunebook: int = 1024 * 1024  # characters of a tunebook uploaded to fine-tune on (its body may hold 6 bytes each)
    finetune_minutes: float = 30.0  # CPU minutes one fine-tuning may ask for; one runs at a time


class RequestError(TunesmithError):
    """A request the server refuses, with the HTTP status that says why (and, when busy, when to come back)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # seconds, for a Retry-After header


class Turns:
    """Slots for one kind of heavy work: `slots` run at once, `queue` more wait, beyond that 503 busy."""

    def __init__(self, slots: int, queue: int, noun: str):
        self.queue, self.noun = queue, noun
        self._slots = threading.BoundedSemaphore(slots)
        self._waiting = 0
        self._waiting_lock = threading.Lock()

    @contextmanager
    def turn(self):
        """A slot: wait in line for one, or refuse when the line is full."""
        if not self._slots.acquire(blocking=False):
            with self._waiting_lock:
                if self._waiting >= self.queue:
                    raise RequestError(503, f"busy: {self._waiting} {self.noun} are waiting; try again in a minute",
                                       retry_after=60)
                self._waiting += 1
            try:
                self._slots.acquire()
            finally:
                with self._waiting_lock:
                    self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()


def one_tune(abc: str, limits: Limits) -> str:
    """The text of exactly one tune, within the size cap, with `\\n` line ends; else a clear error."""
    if len(abc) > limits.max_chars:
        raise RequestError(413, f"abc: {len(abc)} characters; a tune may have at most {limits.max_chars}")
    text = abc.replace("\r\n", "\n").replace("\r", "\n")
    blocks = tune_blocks(text)
    if not blocks:
        raise RequestError(422, "abc: no tune found; a tune starts with an X: line (e.g. X:1)")
    if len(blocks) > 1:
        raise RequestError(422, f"abc: {len(blocks)} tunes found (a blank line ends a tune); send one at a time")
    return blocks[0][1]


def field_names(message: str) -> str:
    """A library message with its command-line option names (--max-length) as the API's fields (max_length)."""
    return _OPTION_NAME.sub(lambda m: m[1].replace("-", "_"), message)


def inert_svg(svg: str) -> str:
    """The SVG, checked to hold nothing a browser would run; it goes into the page as markup."""
    # verovio escapes a tune's text; this guards the page should an engraver ever fail to.
    if _ACTIVE_SVG.search(svg):
        raise TunesmithError("sheet music: the engraved SVG holds scripting; not shown")
    return svg


def problems_of(abc: str) -> list[dict]:
    """The checker's problems of one tune, as JSON-ready dicts (line, col, bar, message); and what the players
    read past without a note changing (`support.ignored`: %%MIDI directives ...), so that the editor says so."""
    from ..music.abc.support import ignored

    return [asdict(p) for p in sorted(check_tune(abc) + ignored(abc), key=lambda p: (p.line, p.col))]


class Composer:
    """The web app's work: models, the tune store, renders, and the generation queue.

    Generations, audio renders and sheet music each wait in a line of their
    own, so that no kind of work waits behind another (a tune that hangs
    verovio holds up no generation); each line is bounded, which keeps the
    server's threads for the requests that need none of them.
    """

    def __init__(self, catalog: ModelCatalog, store: TuneStore, limits: Limits = Limits()):
        self.catalog, self.store, self.limits = catalog, store, limits
        self._generations = Turns(limits.generations, limits.queue, "generations")
        self._audio = Turns(limits.audio, limits.queue, "audio renders")
        # Drawing PDF pages (cairo: a second or so each) after their engraving; a short line, so that every
        # kind of work together stays within the server's 40 threads.
        self._print = Turns(limits.audio, limits.audio, "PDF renders")
        self.sheets = SheetPool(limits.render_workers, limits.render_queue)

    def compose(self, mode: Mode, body: BaseModel, kind: ModelKind) -> tuple[int, ModelEntry, list]:
        """New pieces in `mode` from a request made by `requests.request_model`: (seed used, model, pieces).

        Every mode's generation goes through here: the limits, the model, the
        seed, the mode's own writer, and a turn in the generation queue.
        """
        lim, noun = self.limits, mode.piece + "s"
        if not 1 <= body.n <= lim.max_tunes:
            raise RequestError(422, f"n: between 1 and {lim.max_tunes} {noun} per request (asked for {body.n})")
        if body.max_length is not None and not mode.min_length <= body.max_length <= lim.max_chars:
            raise RequestError(422, f"max_length: between {mode.min_length} and {lim.max_chars} symbols "
                                    f"(got {body.max_length})")
        if body.primer is not None and len(body.primer) > lim.max_chars:
            raise RequestError(413, f"primer: {len(body.primer)} characters; at most {lim.max_chars}")
        entry = self.catalog.find(body.model, kind)
        seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
        primer = body.primer.replace("\r\n", "\n") if body.primer and body.primer.strip() else None
        try:
            sampling = Sampling(body.temperature, body.top_k, body.top_p, False)
            sampling.check()
            request = GenerateRequest(n=body.n, seed=seed, sampling=sampling, primer=primer,
                                      max_length=body.max_length, options=options_from(mode, body))
            with self.turn():
                pieces = mode.write(self.catalog.load(entry), request)
        except RequestError:
            raise
        except TunesmithError as exc:
            raise TunesmithError(field_names(str(exc))) from None
        return seed, entry, pieces

    def rewriter(self, name: str | None) -> tuple[ModelEntry, Mode]:
        """The model a rewrite request (infill, vary) names, of any mode (none: the shipped ABC model), and its mode."""
        from ..modes import mode_of

        entry = self.catalog.find(name, ALL_MODELS)
        return entry, mode_of(self.catalog.load(entry).meta)

    def piece_of(self, mode: Mode, body: BaseModel) -> str:
        """The one piece a rewrite request sends, in the field its model's mode reads (ABC: `abc`, others: `text`),
        within the size cap (413), with `\\n` line ends; the other field, or none, is a 422."""
        field, other = ("abc", "text") if mode.name == "abc" else ("text", "abc")
        if getattr(body, other) is not None:
            raise RequestError(422, f"{other}: the model writes {mode.writes}; send its {mode.piece} as {field}")
        given = getattr(body, field)
        if given is None:
            raise RequestError(422, f"{field}: missing; the model writes {mode.writes}, send one {mode.piece} as {field}")
        if mode.name == "abc":
            return one_tune(given, self.limits)
        symbols = len(given.split())  # bols and marks, or MIDI events: a piece's size in the mode's symbols
        if symbols > self.limits.max_chars:
            raise RequestError(413, f"text: {symbols} {mode.unit}s; a {mode.piece} may have at most "
                                    f"{self.limits.max_chars}")
        return given.replace("\r\n", "\n").replace("\r", "\n")

    def rewrite(self, mode: Mode, entry: ModelEntry, body: BaseModel,
                run: Callable[[Any, Sampling, int], Any]) -> tuple[int, Any]:
        """Rewrite the piece a request sends (infill, vary) with `entry`, a model of `mode`: (seed used, what `run` gave).

        The limits, the seed, the sampling (the mode's where the request leaves
        it) and a turn in the generation queue, as for `compose`;
        `run(checkpoint, sampling, seed)` does the rest.
        """
        lim = self.limits
        if not 1 <= body.n <= lim.max_tunes:
            raise RequestError(422, f"n: between 1 and {lim.max_tunes} versions per request (asked for {body.n})")
        if not 1 <= body.candidates <= lim.max_candidates:
            raise RequestError(422, f"candidates: between 1 and {lim.max_candidates} per version "
                                    f"(asked for {body.candidates})")
        seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
        defaults = mode.sampling
        try:
            sampling = Sampling(defaults.temperature if body.temperature is None else body.temperature, body.top_k,
                                defaults.top_p if body.top_p is None else body.top_p, False)
            sampling.check()
            with self.turn():
                result = run(self.catalog.load(entry), sampling, seed)
        except RequestError:
            raise
        except TunesmithError as exc:
            raise TunesmithError(field_names(str(exc))) from None
        return seed, result

    def details(self, mode: Mode, body: BaseModel, entry: ModelEntry, pieces: list[str]) -> list[dict]:
        """What the mode adds to each piece `compose` wrote for `body` (ABC: its nearest training tune)."""
        if mode.details is None:
            return [{} for _ in pieces]
        request = GenerateRequest(n=len(pieces), options=options_from(mode, body))
        try:
            return mode.details(self.catalog.load(entry), request, pieces)
        except TunesmithError as exc:
            raise TunesmithError(field_names(str(exc))) from None

    def turn(self):
        """A slot to run a model in: wait in line for one, or refuse (503) when the line is full."""
        return self._generations.turn()

    def audio_turn(self):
        """A slot to render audio in, apart from the generations' slots: wait in line, or 503."""
        return self._audio.turn()

    def save(self, abc: str, parent: int | None) -> StoredTune:
        """Store an edited tune (a new tune; its parent stays as it was)."""
        text = one_tune(abc, self.limits)
        if parent is not None and self.store.get(parent) is None:
            raise RequestError(404, f"parent: no tune {parent}")
        return self.store.add(text, origin="edited", params={"parent": parent} if parent else {}, parent=parent)

    def tune(self, tune_id: int) -> StoredTune:
        """A stored tune, or 404."""
        found = self.store.get(tune_id)
        if found is None:
            raise RequestError(404, f"no tune {tune_id}")
        return found

    def preview_svg(self, abc: str, width: int | None = None) -> str:
        """Sheet music of a tune that is not stored (the editor's live view; `width`: a narrower page, for a
        phone's screen, in verovio units)."""
        arrived = time.monotonic()
        return self._svg(one_tune(abc, self.limits), arrived, width)

    def file(self, tune_id: int, kind: str, transpose: int = 0) -> bytes:
        """A stored tune as a file of `kind` (abc, mid, wav, svg, musicxml, pdf), moved by `transpose` semitones;
        renders are made once and kept (each transposition apart).

        So is sheet music that failed: a stored tune never changes, so it
        would fail again (an edit is a new tune, and gets a fresh try). A
        render refused for want of time (503) is not the tune's fault and is
        not kept. Only engraving failures are kept: audio's depend on
        limits that a restart may change.
        """
        from ..render.files import check_transpose, in_key

        arrived = time.monotonic()
        check_transpose(semitones=transpose, option="transpose")
        tune = self.tune(tune_id)
        abc = in_key(tune.abc, transpose)  # NotTransposable (a TunesmithError: 400) for K:none, K:Hp
        if kind == "abc":
            return abc.encode("utf-8")
        key = kind if not transpose else f"{kind}{transpose:+d}"  # "pdf", "pdf+2"
        cached = self.store.render(tune_id, key)
        if cached is not None:
            return cached
        failure = self.store.render_failure(tune_id, key)
        if failure is not None:
            raise TunesmithError(failure)
        try:
            data = self._render(abc, kind, arrived)
        except RequestError:
            raise
        except RenderLimitError as exc:  # the tune asks for too much (too long, too many notes): nothing is kept
            raise RequestError(exc.status, str(exc)) from None
        except TunesmithError as exc:
            if kind in _ENGRAVED and not isinstance(exc, SheetBusy):
                self.store.keep_render_failure(tune_id, key, str(exc))
            raise
        self.store.keep_render(tune_id, key, data)
        return data

    def svg_or_error(self, tune: StoredTune) -> tuple[str | None, str | None]:
        """The tune's sheet music, or the reason there is none (a tune that will not engrave is still shown)."""
        try:
            return self.file(tune.id, "svg").decode("utf-8"), None
        except TunesmithError as exc:
            return None, str(exc)

    def _render(self, abc: str, kind: str, arrived: float) -> bytes:
        from ..render import render_midi, render_wav

        if kind == "svg":
            return self._svg(abc, arrived).encode("utf-8")
        if kind == "mid":
            return render_midi(abc)
        if kind == "wav":
            with self.audio_turn():
                return render_wav(abc)
        if kind == "musicxml":
            from ..render.musicxml import abc_to_musicxml

            return abc_to_musicxml(abc).encode("utf-8")
        if kind == "pdf":
            return self._pdf(abc, arrived)
        raise RequestError(404, f"no file kind {kind!r}; choose {', '.join(MEDIA_TYPES)}")

    def _pdf(self, abc: str, arrived: float) -> bytes:
        """PDF sheet music: engraved in the app's pool within the render timeout, drawn in a turn of its own."""
        from ..render.files import tune_label
        from ..render.limits import check_chars, check_svg_chars, current
        from ..render.pdf import blocks_of, book_pdf, title_of

        check_chars(abc, current(None))
        check_svg_chars(abc, current(None))
        try:
            blocks = blocks_of(abc, timeout=self.limits.render_timeout, arrived=arrived, pool=self.sheets)
        except SheetBusy as exc:
            raise RequestError(503, str(exc), retry_after=exc.retry_after) from None
        with self._print.turn():
            return book_pdf([blocks], title_of(tune_label(abc)[1]))

    def _svg(self, abc: str, arrived: float, width: int | None = None) -> str:
        """Sheet music from the app's pool, within the render timeout of the request's arrival; busy is 503."""
        from ..render import render_svg
        from ..render.sheet import DEFAULT_WIDTH

        try:
            return inert_svg(render_svg(abc, timeout=self.limits.render_timeout, arrived=arrived, pool=self.sheets,
                                        width=width or DEFAULT_WIDTH))
        except SheetBusy as exc:
            raise RequestError(503, str(exc), retry_after=exc.retry_after) from None

