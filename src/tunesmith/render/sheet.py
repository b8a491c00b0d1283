"""ABC -> SVG sheet music, engraved by verovio in worker processes.

Verovio can abort or segfault on malformed ABC, and a C++ crash cannot be
caught in Python; so it runs in child processes (`sheet_worker.py`), started
once and kept warm (starting one costs about 0.06 s, a render a few tens of
milliseconds). `sheet_pool.py` shares them among callers, with a deadline per
render; a tune that crashes or hangs verovio gives a TunesmithError and its
process is replaced. The web app has a pool of its own (`web/service.py`);
this module's default pool serves the CLI.
"""

from __future__ import annotations

import re
import threading

from ..errors import TunesmithError
from ..music.abc.lexer import tokens
from ..music.abc.voices import has_voices
from .sheet_pool import SheetPool

DEFAULT_WIDTH = 2100  # verovio page units (at scale 40, about 840 px): a score that reads on a laptop
MIN_WIDTH = 600       # the narrowest page asked for (a phone's score): room for a bar of a reel or two
_TUNE_RE = re.compile(r"^K:", re.MULTILINE)
_NOTE_RE = re.compile(r"[A-Ga-g]")
_default: SheetPool | None = None
_default_lock = threading.Lock()


def default_pool() -> SheetPool:
    """The pool renders use when given none (made on first use: most commands never draw a score)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SheetPool()
        return _default


def engravable(abc: str) -> str:
    """The tune as verovio can take it. Verovio aborts on characters that are not ABC (a stray `!`,
    an old line-break mark), on an unclosed chord symbol (`"Am` while it is being typed) and on two
    bar lines written together (`[|:`); the first two are left out, the bar lines get a space between.

    `tunesmith check` still reports what was left out; the score shows the music around it.
    """
    kept: list[str] = []
    previous = ""
    for t in tokens(abc):
        if t.kind == "unknown" or (t.kind == "chord_symbol" and (len(t.text) < 2 or not t.text.endswith('"'))):
            continue
        if t.kind == "bar" and previous == "bar":
            kept.append(" ")
        kept.append(t.text)
        previous = t.kind
    return "".join(kept)


def render_svg(abc: str, *, timeout: float = 20.0, arrived: float | None = None, pool: SheetPool | None = None,
               width: int = DEFAULT_WIDTH) -> str:
    """SVG sheet music of one tune's ABC text (title, meter, key and notes), engraved by verovio.

    `width` is the page's width in verovio units (at scale 40, 2.5 a CSS pixel): a narrower page puts
    fewer bars on a line, so the score drawn across a phone's screen keeps notes of a readable size. It answers within `timeout` seconds of `arrived` (a `time.monotonic()`,
    default now), in `pool` (default `default_pool()`); `SheetBusy` when the
    pool had no time for it, any other TunesmithError when the tune is at fault.
    """
    if not MIN_WIDTH <= width <= DEFAULT_WIDTH:
        raise TunesmithError(f"width {width}: a page {MIN_WIDTH} to {DEFAULT_WIDTH} verovio units wide")
    return (pool or default_pool()).render(_engraver_text(abc, timeout), width, timeout=timeout, arrived=arrived)


def render_pages(abc: str, page_height: int, *, timeout: float = 20.0, arrived: float | None = None,
                 pool: SheetPool | None = None) -> list[str]:
    """One tune as printed pages: an SVG per page, each as tall as its music and at most `page_height`
    verovio units (a 210 mm wide page is DEFAULT_WIDTH units), for `render/pdf.py`. Same rules as `render_svg`."""
    return (pool or default_pool()).render_pages(_engraver_text(abc, timeout), DEFAULT_WIDTH, page_height,
                                                 timeout=timeout, arrived=arrived)


def _engraver_text(abc: str, timeout: float) -> str:
    """The tune as sent to verovio; a TunesmithError for a bad timeout or text that is no tune."""
    if timeout <= 0:
        raise TunesmithError(f"timeout {timeout:g}: give a positive number of seconds")
    _, _, body = abc.partition("\nK:")
    if not _TUNE_RE.search(abc) or not _NOTE_RE.search(body.partition("\n")[2]):
        raise TunesmithError("sheet music: not an ABC tune (it needs a K: line and notes after it)")
    if not abc.lstrip().startswith("X:"):
        abc = "X:1\n" + abc  # verovio needs the X: line a tune starts with
    if has_voices(abc):  # verovio's ABC reader draws every voice on one staff: a score of a staff each instead
        from .musicxml import voices_musicxml

        score = voices_musicxml(engravable(abc))
        if score is not None:
            return score
    return engravable(abc)
