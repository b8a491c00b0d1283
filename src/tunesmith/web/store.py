"""The web app's tunes and tabla compositions in SQLite, every one generated or edited, with its renders cached.

A tune never changes once stored (an edit is a new tune that names its
parent), so a render of it, once made, stays right and is kept beside it.
One connection per operation keeps the store safe to use from the server's
worker threads.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TunesmithError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tunes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    abc TEXT NOT NULL,
    origin TEXT NOT NULL,          -- 'generated' or 'edited'
    model TEXT,                    -- which model wrote it (generated tunes)
    params TEXT NOT NULL,          -- JSON: the request that made it
    parent INTEGER REFERENCES tunes(id),
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS renders (
    tune INTEGER NOT NULL REFERENCES tunes(id),
    kind TEXT NOT NULL,            -- 'svg', 'mid', 'wav'
    data BLOB NOT NULL,
    PRIMARY KEY (tune, kind)
);
-- Tabla compositions (the Tabla tab), numbered apart from the tunes; a database from before them gains
-- these tables when it is next opened, and its tunes stay as they were.
CREATE TABLE IF NOT EXISTS compositions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    text TEXT NOT NULL,            -- the composition in tabla notation, header and all
    tala TEXT NOT NULL,
    model TEXT,
    params TEXT NOT NULL,          -- JSON: the request that made it (tempo, cycles, seed, audio layers ...)
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS composition_renders (
    composition INTEGER NOT NULL REFERENCES compositions(id),
    kind TEXT NOT NULL,            -- 'wav', 'mid'
    data BLOB NOT NULL,
    PRIMARY KEY (composition, kind)
);
-- Renders that failed (a tune that crashes or hangs verovio), kept so that a view of the tune shows why at once.
CREATE TABLE IF NOT EXISTS render_failures (
    tune INTEGER NOT NULL REFERENCES tunes(id),
    kind TEXT NOT NULL,            -- 'svg'
    message TEXT NOT NULL,
    PRIMARY KEY (tune, kind)
);
"""


# SQLite's INTEGER is a signed 64-bit number: an id past it names no row (and sqlite3 cannot even pass it).
_ID_RANGE = range(-2**63, 2**63)


def _storable(number: int) -> bool:
    return number in _ID_RANGE


def default_db_path() -> Path:
    """$TUNESMITH_DB, else tunes.db in the user's data folder (XDG)."""
    if os.environ.get("TUNESMITH_DB"):
        return Path(os.environ["TUNESMITH_DB"])
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "tunesmith" / "tunes.db"


def tune_title(abc: str) -> str:
    """The first T: of a tune, or "Untitled"."""
    for line in abc.split("\n"):
        if line.startswith("T:") and line[2:].strip():
            return line[2:].strip()
    return "Untitled"


@dataclass(frozen=True)
class StoredTune:
    """One row of the store."""

    id: int
    title: str
    abc: str
    origin: str
    model: str | None
    params: dict = field(default_factory=dict)
    parent: int | None = None
    created: float = 0.0


@dataclass(frozen=True)
class StoredComposition:
    """One tabla composition of the store."""

    id: int
    title: str
    text: str
    tala: str
    model: str | None
    params: dict = field(default_factory=dict)
    created: float = 0.0


class TuneStore:
    """Tunes, tabla compositions and their cached renders in one SQLite file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise TunesmithError(f"{self.path}: cannot open the tune database ({exc})") from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def add(self, abc: str, *, origin: str, model: str | None = None,
            params: dict | None = None, parent: int | None = None) -> StoredTune:
        """Store a tune; returns it with its new id."""
        now = time.time()
        title = tune_title(abc)
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "INSERT INTO tunes (title, abc, origin, model, params, parent, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (title, abc, origin, model, json.dumps(params or {}), parent, now),
            )
            tune_id = cur.lastrowid
        return StoredTune(tune_id, title, abc, origin, model, params or {}, parent, now)

    def get(self, tune_id: int) -> StoredTune | None:
        """The tune with this id, or None."""
        if not _storable(tune_id):
            return None
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM tunes WHERE id = ?", (tune_id,)).fetchone()
        return _row(row) if row else None

    def recent(self, limit: int = 50, offset: int = 0) -> list[StoredTune]:
        """The newest tunes first."""
        if not (_storable(limit) and _storable(offset)):
            return []
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM tunes ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        return [_row(r) for r in rows]

    def count(self) -> int:
        """How many tunes are stored."""
        with closing(self._connect()) as db:
            return db.execute("SELECT COUNT(*) FROM tunes").fetchone()[0]

    def render(self, tune_id: int, kind: str) -> bytes | None:
        """A cached render of a tune, or None."""
        if not _storable(tune_id):
            return None
        with closing(self._connect()) as db:
            row = db.execute("SELECT data FROM renders WHERE tune = ? AND kind = ?", (tune_id, kind)).fetchone()
        return bytes(row[0]) if row else None

    def keep_render(self, tune_id: int, kind: str, data: bytes) -> None:
        """Cache a render of a tune (a stored tune never changes, so it stays right)."""
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO renders (tune, kind, data) VALUES (?, ?, ?)", (tune_id, kind, data))

    def render_failure(self, tune_id: int, kind: str) -> str | None:
        """Why a render of a tune failed before, or None."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT message FROM render_failures WHERE tune = ? AND kind = ?", (tune_id, kind)).fetchone()
        return row[0] if row else None

    def keep_render_failure(self, tune_id: int, kind: str, message: str) -> None:
        """Keep why a render of a tune failed (the tune never changes, so it would fail again)."""
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO render_failures (tune, kind, message) VALUES (?, ?, ?)",
                       (tune_id, kind, message))

    def add_composition(self, text: str, *, title: str, tala: str, model: str | None = None,
                        params: dict | None = None) -> StoredComposition:
        """Store a tabla composition; returns it with its new id."""
        now = time.time()
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "INSERT INTO compositions (title, text, tala, model, params, created) VALUES (?, ?, ?, ?, ?, ?)",
                (title, text, tala, model, json.dumps(params or {}), now),
            )
            comp_id = cur.lastrowid
        return StoredComposition(comp_id, title, text, tala, model, params or {}, now)

    def get_composition(self, comp_id: int) -> StoredComposition | None:
        """The tabla composition with this id, or None."""
        if not _storable(comp_id):
            return None
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM compositions WHERE id = ?", (comp_id,)).fetchone()
        if row is None:
            return None
        return StoredComposition(row["id"], row["title"], row["text"], row["tala"], row["model"],
                                 json.loads(row["params"]), row["created"])

    def composition_render(self, comp_id: int, kind: str) -> bytes | None:
        """A cached render of a composition, or None."""
        if not _storable(comp_id):
            return None
        with closing(self._connect()) as db:
            row = db.execute("SELECT data FROM composition_renders WHERE composition = ? AND kind = ?",
                             (comp_id, kind)).fetchone()
        return bytes(row[0]) if row else None

    def keep_composition_render(self, comp_id: int, kind: str, data: bytes) -> None:
        """Cache a render of a composition (stored compositions never change either)."""
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO composition_renders (composition, kind, data) VALUES (?, ?, ?)",
                       (comp_id, kind, data))


def _row(row: sqlite3.Row) -> StoredTune:
    return StoredTune(row["id"], row["title"], row["abc"], row["origin"], row["model"],
                      json.loads(row["params"]), row["parent"], row["created"])
