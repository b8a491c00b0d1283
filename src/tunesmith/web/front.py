"""The front page's invitation: a tune ready to play, the newest tunes, and the styles "Surprise me" draws from.

A first visit should have something to hear before anything is chosen: the
newest generated tune of the store, or, in a store with no tunes yet, one
the shipped model writes with a fixed seed (well under a second) when the
app starts, stored and labelled as such. "Surprise me" (static/app.js) draws
a seed in the browser and takes the style `surprise_style(seed)` names, so
the tune it opens can be written again from its seed alone.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

from ..errors import TunesmithError
from .service import Composer
from .store import StoredTune


@dataclass(frozen=True)
class TuneStyle:
    """What "Surprise me" fixes of a tune: its rhythm (None: the model's choice), meter and key."""

    rhythm: str | None
    meter: str
    key: str


# Rhythms and meters as the folk corpus pairs them most often (jig 6/8: 477 tunes, reel C|: 440, hornpipe C|:
# 209, slip jig 9/8: 93, strathspey C: 76, 2/4 and 3/4 without an R: line: 378 and 254), in its commonest keys.
_RHYTHMS = (("jig", "6/8"), ("reel", "C|"), ("hornpipe", "C|"), ("slip jig", "9/8"), ("strathspey", "C"),
            (None, "2/4"), (None, "3/4"))
_KEYS = ("D", "G", "A", "Em", "Am", "C")
# Every rhythm meets every key as seeds go up (7 rhythms and 6 keys share no factor).
SURPRISE_STYLES = tuple(TuneStyle(rhythm, meter, _KEYS[i % len(_KEYS)]) for i, (rhythm, meter) in
                        enumerate(_RHYTHMS * len(_KEYS)))
# The tune a fresh store starts with: a jig in D, the corpus's commonest kind, from a fixed seed.
WELCOME_SEED = 1
WELCOME_STYLE = TuneStyle("jig", "6/8", "D")
RECENT = 8  # tunes listed on the front page; the archive has the rest


def surprise_style(seed: int) -> TuneStyle:
    """The style "Surprise me" asks for with `seed` (app.js picks the same: styles[seed % count])."""
    return SURPRISE_STYLES[seed % len(SURPRISE_STYLES)]


@dataclass(frozen=True)
class Featured:
    """The tune the front page offers to play, and what to say about where it came from."""

    tune: StoredTune | None
    label: str
    error: str | None = None
    writing: bool = False  # the welcome tune is being written: the page shows it in a moment (app.js reloads)


class FrontPage:
    """Finds the front page's tune; writes the welcome tune, once, in the background, when the store has none.

    A visit never waits for the model (a page must answer at once, however
    busy the server): in an empty store it starts the writing, or finds it
    started by `tunesmith serve` as the app came up, and says so; the page
    looks again in a moment.
    """

    def __init__(self, composer: Composer):
        self.composer = composer
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._failure: str | None = None  # why the last writing failed (no model, busy), shown until one succeeds

    def featured(self) -> Featured:
        """The newest generated tune (else the newest tune); in an empty store, word of the welcome tune."""
        found = self._newest()
        if found is not None:
            return Featured(found, self._label(found))
        with self._lock:
            failure, running = self._failure, self._writer is not None and self._writer.is_alive()
        self.prepare()
        if failure is not None and not running:  # said once, without reloading; the next visit tries again
            return Featured(None, "", f"No tune to play yet: {failure}")
        return Featured(None, "", "The first tune is being written; it shows here in a moment.", writing=True)

    def prepare(self) -> None:
        """Start writing the welcome tune in a thread of its own, unless the store has a tune or it is under way."""
        with self._lock:
            if self._writer is not None and self._writer.is_alive() or self._newest() is not None:
                return
            self._writer = threading.Thread(target=self._write_welcome, name="welcome-tune", daemon=True)
            self._writer.start()

    def wait(self, seconds: float) -> None:
        """Until the welcome tune's writing is over (for tests, and a server that wants it before serving)."""
        writer = self._writer
        if writer is not None:
            writer.join(seconds)

    def cached_svg(self, tune: StoredTune) -> str | None:
        """The tune's score if it was engraved before; else app.js fetches it, so that the page never waits
        for the engraver (busy with other people's renders)."""
        data = self.composer.store.render(tune.id, "svg")
        return data.decode("utf-8") if data is not None else None

    def recent(self) -> list[StoredTune]:
        return self.composer.store.recent(RECENT)

    def _newest(self) -> StoredTune | None:
        tunes = self.composer.store.recent(50)
        return next((t for t in tunes if t.origin == "generated"), tunes[0] if tunes else None)

    def _write_welcome(self) -> None:
        from .api import GenerateIn, store_generated

        body = GenerateIn(n=1, seed=WELCOME_SEED, **asdict(WELCOME_STYLE))
        try:
            store_generated(self.composer, body, welcome=True)
            failure = None
        except TunesmithError as exc:
            failure = str(exc)
        except Exception as exc:  # noqa: BLE001 — a thread of its own: say what went wrong on the page instead
            failure = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._failure = failure

    @staticmethod
    def _label(tune: StoredTune) -> str:
        if tune.params.get("welcome"):
            return (f"Written by the {tune.model} model when this app first started (seed {tune.params['seed']}), "
                    "so that there is a tune to play")
        if tune.origin == "generated":
            return "The newest tune in the archive"
        return "The newest tune in the archive (edited by hand)"
