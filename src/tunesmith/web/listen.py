"""The blind listening test (`/listen`): can a listener tell a model's pieces from real ones by ear?

A session is an even number of trials with one model: exactly half are real
pieces drawn from the model's **held-out** split (the pieces of its training
corpus it never trained on, `corpus.load.load_corpus(...).held_out`, as
`insight/evaluate.py` reads them), half are written by the model through the
app's one generation path (`Composer.compose`, with the mode's default
sampling), in an order drawn from the session's seed (the server draws one
when none is given, and keeps it: the same seed, model and number of trials
give the same pieces in the same order).

The listener hears each piece as audio only: the client gets an opaque
trial id and the address of its audio, nothing else, until it has answered
"human" or "machine"; the truth (the trial's origin) stays on the server.
Every piece is played by the renderer the app uses for its mode (ABC:
`render_wav`; tabla: `composition_wav` at the mode's default tempo, no
drone or theka; MIDI: `midi_to_wav`), and cut to the same excerpt: its
opening, the mode's `Listening.excerpt` seconds (ABC and MIDI 20 s, tabla
8 s), faded out over the last `FADE_SECONDS`. Only pieces that play at
least that long are used, real or generated (a shorter one is passed over
for the next held-out piece, or written again): every trial's audio lasts
exactly as long, with music all through, so that neither a piece's length
nor a silence after it gives anything away. Text that could only tell a real
tune (title, source, composer, notes ...) is removed from the piece kept
with the trial, though it never reaches the listener anyway.

A tabla model writes in the tala it is asked for; its generated trials are
asked for the talas of held-out compositions drawn at random, so both
halves come in the same mix of talas.

Sessions, trials and answers are three tables in the app's SQLite file
(`TuneStore.path`); one answer per trial (a second is a 409).
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
import secrets
import sqlite3
import threading
import time
import wave
from collections import OrderedDict
from contextlib import closing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import Field

from ..errors import TunesmithError
from ..modes import get_mode, mode_name
from .catalog import ABC_MODELS, ModelEntry, ModelKind
from .pages import templates
from .requests import MAX_SEED, MODEL_NAME_CHARS, Body, Text, request_model, text
from .service import Composer, RequestError
from .tabla import TABLA_MODELS

if TYPE_CHECKING:
    from ..checkpoint import Checkpoint

router = APIRouter()

EXCERPT_SECONDS = 20.0   # every ABC or MIDI trial plays this long: the opening of the piece (tabla: 8 s)
FADE_SECONDS = 1.0       # a piece cut short fades out over its last second
MIN_TRIALS, MAX_TRIALS, DEFAULT_TRIALS = 2, 40, 10
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95 % interval
HUMAN, MACHINE = "human", "machine"
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Information fields of ABC that are text about a tune, not its music: title, source, transcriber, notes,
# history, book, origin, area, composer, discography, file, group, words, lyrics, remarks; and % comments.
_ABC_TEXT_FIELD = re.compile(r"^(?:[TSZNHBOACDFGWwr]:|%(?!%))")

_SCHEMA = """
-- The listening test (web/listen.py): a session is one model's trials; the truth of each trial stays here.
CREATE TABLE IF NOT EXISTS listen_sessions (
    id TEXT PRIMARY KEY,           -- opaque
    model TEXT NOT NULL,
    mode TEXT NOT NULL,
    seed INTEGER NOT NULL,         -- draws the order, the real pieces and the generation seeds
    trials INTEGER NOT NULL,
    reveal INTEGER NOT NULL,       -- 1: each answer is told whether it was right
    excerpt REAL NOT NULL,         -- seconds of each piece played
    params TEXT NOT NULL,          -- JSON: corpus, sampling, generation seeds
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS listen_trials (
    id TEXT PRIMARY KEY,           -- opaque: the only name the listener has for a trial
    session TEXT NOT NULL REFERENCES listen_sessions(id),
    position INTEGER NOT NULL,     -- 0-based, in the order played
    origin TEXT NOT NULL CHECK (origin IN ('human', 'machine')),
    piece TEXT NOT NULL,           -- the piece as played, in its mode's notation (titles and notes removed)
    source TEXT NOT NULL,          -- JSON: the held-out piece (index, title) or the generation (seed, index)
    played REAL,                   -- when its audio was first fetched
    UNIQUE (session, position)
);
CREATE TABLE IF NOT EXISTS listen_answers (
    trial TEXT PRIMARY KEY REFERENCES listen_trials(id),   -- one answer per trial
    answer TEXT NOT NULL CHECK (answer IN ('human', 'machine')),
    correct INTEGER NOT NULL,
    answered REAL NOT NULL
);
"""


# -- each mode: its pieces as text, and their sound ---------------------------------

def clean_abc(text: str) -> str:
    """One ABC tune with every text field about it removed (T:, S:, Z:, N:, H:, B:, O: ... and % comments)
    and numbered X:1, so that the kept piece says nothing of where it came from."""
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if not _ABC_TEXT_FIELD.match(line)]
    if lines and lines[0].startswith("X:"):
        lines[0] = "X:1"
    return "\n".join(lines)


def _abc_text(piece: Any) -> str:
    return clean_abc(piece if isinstance(piece, str) else piece.text)


def _abc_seconds(text: str) -> float:
    """How long `render_wav` plays the tune (the same reading, tempo and limits), without making the audio."""
    from ..render.audio import SAMPLE_RATE, event_voices
    from ..render.midi import accent
    from ..render.tempo import default_qpm
    from ..render.tune import read_tune

    parts = read_tune(text)
    _, length = event_voices(accent(parts.melody, parts.meter, parts.pickup), qpm=default_qpm(text), end=parts.end)
    return length / SAMPLE_RATE


def _abc_wav(text: str) -> bytes:
    from ..render import render_wav

    return render_wav(text)  # as the tune page's player: Composer.file(..., "wav")


def _tabla_tempo() -> float:
    return get_mode("tabla").options().tempo  # the tabla mode's default tempo, for both halves


def _tabla_composition(text: str):
    from ..music.tabla.notation import read_text

    readings = read_text(text)
    if len(readings) != 1 or readings[0].composition is None:
        raise TunesmithError("not one tabla composition")
    return readings[0].composition


def _tabla_text(piece: Any) -> str:
    return piece.text  # tala and form lines, then the bols: no title, no tempo (it is played at the default)


def _tabla_seconds(text: str) -> float:
    from ..render.tabla_audio import check_composition

    tempo = _tabla_tempo()
    return len(check_composition(_tabla_composition(text), tempo)) * 60 / tempo


def _tabla_wav(text: str) -> bytes:
    from ..render.tabla_audio import composition_wav

    return composition_wav(_tabla_composition(text), _tabla_tempo())


def _tabla_wants(rng: random.Random, held_out: list, count: int) -> list[dict]:
    """The tala of each generated trial: that of a held-out composition drawn at random."""
    return [{"tala": held_out[rng.randrange(len(held_out))].tala} for _ in range(count)]


def _midi_bytes(text: str) -> bytes:
    from ..music.midi import midi_bytes, piece_from_text

    return midi_bytes(piece_from_text(text))


def _midi_seconds(text: str) -> float:
    from ..render.audio import SAMPLE_RATE, midi_voices

    return midi_voices(_midi_bytes(text))[1] / SAMPLE_RATE


def _midi_wav(text: str) -> bytes:
    from ..render.audio import midi_to_wav

    return midi_to_wav(_midi_bytes(text))  # as `generate --render wav` plays a MIDI model's pieces


def _describe_midi(config: dict) -> str:
    bits = config.get("metrics", {}).get("held_out_bits_per_symbol")
    figure = f", {bits:.3f} held-out bits/event" if isinstance(bits, (int, float)) else ""
    corpus = ", ".join(config.get("corpus", {}).get("sources", [])) or "?"
    return f"{config.get('model', {}).get('cell', '?')} on {corpus}{figure}"


MIDI_MODELS = ModelKind("midi", lambda c: isinstance(c.get("codec"), dict) and c["codec"].get("name") == "midi-events",
                        _describe_midi, noun="MIDI model", empty="no MIDI models: none in")


@dataclass(frozen=True)
class Listening:
    """What the test needs of one mode: its models, a piece as the text kept, how long it plays, its sound,
    and how long an excerpt of it is played."""

    mode: str
    kind: ModelKind
    text_of: Callable[[Any], str]                  # a real or generated piece -> the text kept and played
    seconds: Callable[[str], float]                # how long it plays; TunesmithError when it cannot be played
    wav: Callable[[str], bytes]                    # the app's audio of it, whole
    excerpt: float                                 # seconds played of every piece, real or generated
    wants: Callable[[random.Random, list, int], list[dict]] | None = None  # per generated trial, its mode options

    def fits(self, text: str) -> bool:
        """Whether the piece can be played, within the render limits, for the whole excerpt."""
        try:
            return self.seconds(text) >= self.excerpt
        except (TunesmithError, ValueError):
            return False


# The excerpt: ABC and MIDI, the first 20 s (real folk tunes play 10-70 s, a fifth of them under 20 s; chorales
# 30-60 s). Tabla, the first 8 s: held-out compositions are short (9-22 s at 90 matras a minute, half under
# 15 s) and the model's longer (5-33 s, half over 25 s), so a longer excerpt would pass over most real ones.
LISTENINGS = (
    Listening("abc", ABC_MODELS, _abc_text, _abc_seconds, _abc_wav, EXCERPT_SECONDS),
    Listening("tabla", TABLA_MODELS, _tabla_text, _tabla_seconds, _tabla_wav, 8.0, _tabla_wants),
    Listening("midi", MIDI_MODELS, lambda p: p.text, _midi_seconds, _midi_wav, EXCERPT_SECONDS),
)
_BY_MODE = {listening.mode: listening for listening in LISTENINGS}
_GENERATE_BODIES: dict[str, Any] = {}  # a mode's generate request model, made when first needed


def _generate_body(mode):
    if mode.name not in _GENERATE_BODIES:
        _GENERATE_BODIES[mode.name] = request_model(mode, f"Listen{mode.name.capitalize()}Generate")
    return _GENERATE_BODIES[mode.name]


# -- audio ------------------------------------------------------------------------------

def excerpt(wav: bytes, seconds: float = EXCERPT_SECONDS, fade: float = FADE_SECONDS) -> bytes:
    """A 16-bit WAV exactly `seconds` long: its opening, faded out over `fade` s when cut (padded with silence
    should it be shorter, which a session's pieces never are)."""
    import numpy as np

    with wave.open(io.BytesIO(wav)) as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        frames = w.readframes(w.getnframes())
    if width != 2:
        raise TunesmithError(f"audio: {8 * width}-bit samples; the excerpt is made of 16-bit ones")
    samples = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
    n = round(seconds * rate)
    out = np.zeros((n, channels), dtype="<i2")
    if len(samples) > n:
        cut = samples[:n].astype(np.float32)
        k = min(n, round(fade * rate))
        cut[n - k:] *= np.linspace(1.0, 0.0, k, dtype=np.float32)[:, None]
        out[:] = np.round(cut).astype("<i2")
    else:
        out[: len(samples)] = samples
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(out.tobytes())
    return buf.getvalue()


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a share `correct`/`n` (95 % by default); None when n is 0."""
    if n <= 0:
        return None
    p = correct / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    # All right or all wrong: the interval ends exactly at the end (floating point falls a hair short).
    return (0.0 if correct == 0 else low), (1.0 if correct == n else high)


# -- the store ------------------------------------------------------------------------

class AlreadyAnswered(Exception):
    """A trial has its answer already."""


class ListenStore:
    """The listening test's sessions, trials and answers, in the app's SQLite file (tables made if missing)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            with closing(self._connect()) as db, db:
                db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise TunesmithError(f"{self.path}: cannot open the listening test's tables ({exc})") from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def add_session(self, session: dict, trials: list[dict]) -> None:
        """A session and its trials, in one transaction."""
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO listen_sessions (id, model, mode, seed, trials, reveal, excerpt, params, created) "
                       "VALUES (:id, :model, :mode, :seed, :trials, :reveal, :excerpt, :params, :created)", session)
            db.executemany("INSERT INTO listen_trials (id, session, position, origin, piece, source) "
                           "VALUES (:id, :session, :position, :origin, :piece, :source)", trials)

    def session(self, session_id: str) -> sqlite3.Row | None:
        with closing(self._connect()) as db:
            return db.execute("SELECT * FROM listen_sessions WHERE id = ?", (session_id,)).fetchone()

    def trials(self, session_id: str) -> list[sqlite3.Row]:
        """A session's trials in order, each with its answer (or NULLs)."""
        with closing(self._connect()) as db:
            return db.execute("SELECT t.*, a.answer, a.correct, a.answered FROM listen_trials t "
                              "LEFT JOIN listen_answers a ON a.trial = t.id WHERE t.session = ? ORDER BY t.position",
                              (session_id,)).fetchall()

    def trial(self, trial_id: str) -> sqlite3.Row | None:
        """One trial with its session's mode, reveal and excerpt, and its answer (or NULLs)."""
        with closing(self._connect()) as db:
            return db.execute("SELECT t.*, s.mode, s.reveal, s.excerpt, s.trials AS count, a.answer, a.correct "
                              "FROM listen_trials t JOIN listen_sessions s ON s.id = t.session "
                              "LEFT JOIN listen_answers a ON a.trial = t.id WHERE t.id = ?", (trial_id,)).fetchone()

    def played(self, trial_id: str) -> None:
        """Note when a trial's audio was first fetched."""
        with closing(self._connect()) as db, db:
            db.execute("UPDATE listen_trials SET played = ? WHERE id = ? AND played IS NULL", (time.time(), trial_id))

    def answer(self, trial_id: str, answer: str, correct: bool) -> None:
        """Keep a trial's answer; AlreadyAnswered when it has one."""
        try:
            with closing(self._connect()) as db, db:
                db.execute("INSERT INTO listen_answers (trial, answer, correct, answered) VALUES (?, ?, ?, ?)",
                           (trial_id, answer, int(correct), time.time()))
        except sqlite3.IntegrityError:
            raise AlreadyAnswered(trial_id) from None

    def answered(self, session_id: str) -> int:
        with closing(self._connect()) as db:
            return db.execute("SELECT COUNT(*) FROM listen_answers a JOIN listen_trials t ON t.id = a.trial "
                              "WHERE t.session = ?", (session_id,)).fetchone()[0]

    def tallies(self) -> list[sqlite3.Row]:
        """Answers counted by model, mode, origin and answer (sessions per model: sessions_by_model)."""
        with closing(self._connect()) as db:
            return db.execute("SELECT s.model, s.mode, t.origin, a.answer, COUNT(*) AS n FROM listen_answers a "
                              "JOIN listen_trials t ON t.id = a.trial JOIN listen_sessions s ON s.id = t.session "
                              "GROUP BY s.model, s.mode, t.origin, a.answer ORDER BY s.model, s.mode").fetchall()

    def sessions_by_model(self) -> dict[tuple[str, str], int]:
        """How many sessions with at least one answer each model has."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT s.model, s.mode, COUNT(DISTINCT s.id) FROM listen_answers a "
                              "JOIN listen_trials t ON t.id = a.trial JOIN listen_sessions s ON s.id = t.session "
                              "GROUP BY s.model, s.mode").fetchall()
        return {(r[0], r[1]): r[2] for r in rows}

    def answers(self) -> list[sqlite3.Row]:
        """Every answer with its trial and session, oldest first (the export)."""
        with closing(self._connect()) as db:
            return db.execute("SELECT s.id AS session, s.seed, s.model, s.mode, s.reveal, s.excerpt, t.position, "
                              "t.id AS trial, t.origin, a.answer, a.correct, t.played, a.answered, t.source, t.piece "
                              "FROM listen_answers a JOIN listen_trials t ON t.id = a.trial "
                              "JOIN listen_sessions s ON s.id = t.session ORDER BY a.answered, t.position").fetchall()


# -- the test -------------------------------------------------------------------------

class ListenTest:
    """Sessions of trials: drawn, generated, played, answered and counted."""

    def __init__(self, composer: Composer):
        self.composer = composer
        self.store = ListenStore(composer.store.path)
        self._held_out: dict[tuple, list] = {}
        self._held_lock = threading.Lock()
        self._audio: OrderedDict[tuple, bytes] = OrderedDict()  # the latest excerpts played (a player asks again)
        self._audio_lock = threading.Lock()

    def models(self) -> list[tuple[ModelEntry, Listening]]:
        """Every model the test can be run with, ABC first, then tabla, then MIDI."""
        catalog = self.composer.catalog
        return [(entry, listening) for listening in LISTENINGS for entry in catalog.entries(listening.kind)]

    def find(self, name: str) -> tuple[ModelEntry, Listening]:
        for entry, listening in self.models():
            if entry.name == name:
                return entry, listening
        names = ", ".join(e.name for e, _ in self.models()) or "none"
        raise RequestError(404, f"model {name!r}: no such model; choose one of {names}")

    def held_out(self, entry: ModelEntry, ckpt: Checkpoint, mode: str) -> list:
        """The held-out pieces of the model's corpus, as its checkpoint names it (loaded once per corpus)."""
        from ..corpus.bundled import corpus_hash
        from ..corpus.load import recorded_corpus

        corpus = ckpt.meta.get("corpus") or {}
        sources = corpus.get("sources")
        if not sources or not isinstance(sources, list):
            raise RequestError(422, f"model {entry.name!r}: its checkpoint does not name its training corpus, "
                                    "so it has no held-out pieces to compare with")
        split = corpus.get("split")  # a fine-tuned model's own split, of the pieces its vocabulary spells
        key = (tuple(sources), corpus.get("limit"), mode, json.dumps(split, sort_keys=True) if split else None,
               tuple(ckpt.codec.vocab) if split else None)
        with self._held_lock:
            pieces = self._held_out.get(key)
            if pieces is None:
                try:
                    pieces = recorded_corpus(corpus, mode, ckpt.codec).held_out
                except TunesmithError as exc:
                    raise RequestError(422, f"model {entry.name!r}: its corpus cannot be read ({exc})") from None
                self._held_out[key] = pieces
        recorded = corpus.get("held_out_hash")
        if recorded and corpus_hash(pieces) != recorded:
            raise RequestError(409, f"model {entry.name!r}: its corpus ({', '.join(sources)}) has changed since it "
                                    "was trained, so which pieces it never saw is not known; no test with it")
        return pieces

    def start(self, body: "SessionIn") -> dict:
        """A new session: the trials drawn, the real pieces picked and the generated ones written."""
        entry, listening = self.find(body.model)
        ckpt = self.composer.catalog.load(entry)
        if mode_name(ckpt.meta) != listening.mode:
            raise RequestError(422, f"model {entry.name!r}: its checkpoint is of mode {mode_name(ckpt.meta)!r}")
        held = self.held_out(entry, ckpt, listening.mode)
        half = body.trials // 2
        if len(held) < half:
            raise RequestError(422, f"trials: the held-out split of {entry.name!r} has {len(held)} pieces; "
                                    f"at most {2 * len(held)} trials with it (asked for {body.trials})")
        seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
        rng = random.Random(seed)
        origins = [HUMAN] * half + [MACHINE] * half
        rng.shuffle(origins)
        order = list(range(len(held)))
        rng.shuffle(order)
        real = []
        for i in order:  # the first of the shuffled held-out pieces that fill the excerpt
            if len(real) == half:
                break
            piece = listening.text_of(held[i])
            if listening.fits(piece):
                real.append((piece, {"held_out_index": i, "title": getattr(held[i], "title", "")}))
        if len(real) < half:
            raise RequestError(422, f"trials: only {len(real)} held-out pieces of {entry.name!r} play "
                                    f"{listening.excerpt:g} s or more; at most {2 * len(real)} trials with it "
                                    f"(asked for {body.trials})")
        wants = listening.wants(rng, held, half) if listening.wants else [{} for _ in range(half)]
        generation_seed = rng.randrange(2**31)
        generated = self._generate(entry, listening, wants, generation_seed)
        mode = get_mode(listening.mode)
        session_id = secrets.token_urlsafe(12)
        pieces = {HUMAN: iter(real), MACHINE: iter(generated)}
        trials = []
        for position, origin in enumerate(origins):
            piece, source = next(pieces[origin])
            trials.append({"id": secrets.token_urlsafe(12), "session": session_id, "position": position,
                           "origin": origin, "piece": piece, "source": json.dumps(source)})
        params = {"corpus": {"sources": ckpt.meta["corpus"]["sources"], "limit": ckpt.meta["corpus"].get("limit"),
                             "held_out": len(held)},
                  "sampling": {"temperature": mode.sampling.temperature, "top_p": mode.sampling.top_p,
                               "top_k": mode.sampling.top_k},
                  "generation_seed": generation_seed}
        self.store.add_session({"id": session_id, "model": entry.name, "mode": listening.mode, "seed": seed,
                                "trials": body.trials, "reveal": int(body.reveal), "excerpt": listening.excerpt,
                                "params": json.dumps(params), "created": time.time()}, trials)
        return self.session(session_id)

    def _generate(self, entry: ModelEntry, listening: Listening, wants: list[dict], seed: int) -> list[tuple[str, dict]]:
        """The generated pieces, one per want (the mode options it is written with), through `Composer.compose`:
        one request per set of options, in batches of the app's most pieces per request; a piece too short for
        the excerpt (or beyond the render limits) is passed over and another written (a few more requests at
        most)."""
        mode = get_mode(listening.mode)
        body_model = _generate_body(mode)
        most = self.composer.limits.max_tunes
        groups: dict[tuple, list[int]] = {}
        for i, want in enumerate(wants):
            groups.setdefault(tuple(sorted(want.items())), []).append(i)
        out: list[tuple[str, dict] | None] = [None] * len(wants)
        for g, (options, slots) in enumerate(groups.items()):
            found: list[tuple[str, dict]] = []
            for attempt in range(-(-len(slots) // most) + 2):
                need = len(slots) - len(found)
                if need <= 0:
                    break
                request_seed = (seed + 1000 * g + attempt) % (MAX_SEED + 1)
                body = body_model(model=entry.name, n=min(need, most), seed=request_seed, **dict(options))
                _, _, made = self.composer.compose(mode, body, listening.kind)
                for index, piece in enumerate(made):
                    kept = listening.text_of(piece)
                    if len(found) < len(slots) and listening.fits(kept):
                        found.append((kept, {"seed": request_seed, "index": index, **dict(options)}))
            if len(found) < len(slots):
                raise RequestError(422, f"model {entry.name!r}: of the pieces it wrote, only {len(found)} of the "
                                        f"{len(slots)} needed play {listening.excerpt:g} s or more; "
                                        "try another seed")
            for slot, piece in zip(slots, found):
                out[slot] = piece
        return out  # type: ignore[return-value]

    def _row(self, session_id: str) -> sqlite3.Row:
        row = self.store.session(session_id) if _ID.fullmatch(session_id) else None
        if row is None:
            raise RequestError(404, f"no listening session {session_id!r}")
        return row

    def session(self, session_id: str) -> dict:
        """A session as the listener may see it: each trial's origin only once answered (and the session reveals,
        or every trial is answered)."""
        row = self._row(session_id)
        trials = self.store.trials(session_id)
        done = all(t["answer"] is not None for t in trials)
        out = []
        for t in trials:
            trial = {"id": t["id"], "position": t["position"], "audio": f"/api/listen/trials/{t['id']}/audio",
                     "answered": t["answer"] is not None}
            if t["answer"] is not None:
                trial["answer"] = t["answer"]
                if row["reveal"] or done:
                    trial.update(correct=bool(t["correct"]), origin=t["origin"])
            out.append(trial)
        answered = [t for t in trials if t["answer"] is not None]
        return {"id": row["id"], "url": f"/api/listen/sessions/{row['id']}", "model": row["model"],
                "mode": row["mode"], "seed": row["seed"], "reveal": bool(row["reveal"]),
                "excerpt_seconds": row["excerpt"], "trials": out, "answered": len(answered), "done": done,
                "score": sum(bool(t["correct"]) for t in answered) if (row["reveal"] or done) else None}

    def _trial(self, trial_id: str) -> sqlite3.Row:
        row = self.store.trial(trial_id) if _ID.fullmatch(trial_id) else None
        if row is None:
            raise RequestError(404, f"no listening trial {trial_id!r}")
        return row

    def audio(self, trial_id: str) -> bytes:
        """The trial's excerpt as WAV: rendered by its mode's renderer, cut to the session's length."""
        row = self._trial(trial_id)
        key = (row["mode"], row["piece"], row["excerpt"])
        with self._audio_lock:
            data = self._audio.get(key)
            if data is not None:
                self._audio.move_to_end(key)
        if data is None:
            from ..render.limits import RenderLimitError

            try:
                with self.composer.audio_turn():
                    data = excerpt(_BY_MODE[row["mode"]].wav(row["piece"]), row["excerpt"])
            except RenderLimitError as exc:
                raise RequestError(exc.status, str(exc)) from None
            with self._audio_lock:
                self._audio[key] = data
                while len(self._audio) > 24:
                    self._audio.popitem(last=False)
        self.store.played(trial_id)
        return data

    def answer(self, trial_id: str, answer: str) -> dict:
        """Keep the listener's answer; tell whether it was right when the session reveals (or is over)."""
        row = self._trial(trial_id)
        correct = answer == row["origin"]
        try:
            self.store.answer(trial_id, answer, correct)
        except AlreadyAnswered:
            raise RequestError(409, f"trial {trial_id!r} is answered already; an answer is final") from None
        answered = self.store.answered(row["session"])
        done = answered == row["count"]
        shown = bool(row["reveal"]) or done
        return {"trial": trial_id, "answer": answer, "correct": correct if shown else None,
                "origin": row["origin"] if shown else None, "answered": answered, "trials": row["count"],
                "done": done, "session": f"/api/listen/sessions/{row['session']}"}

    def results(self) -> dict:
        """Per model: answers, the share right with its Wilson 95 % interval, and how often each half was
        judged human."""
        counts: dict[tuple[str, str], dict] = {}
        for r in self.store.tallies():
            c = counts.setdefault((r["model"], r["mode"]), {(o, a): 0 for o in (HUMAN, MACHINE) for a in (HUMAN, MACHINE)})
            c[(r["origin"], r["answer"])] += r["n"]
        sessions = self.store.sessions_by_model()
        models = []
        for (model, mode), c in counts.items():
            real_n = c[(HUMAN, HUMAN)] + c[(HUMAN, MACHINE)]
            gen_n = c[(MACHINE, HUMAN)] + c[(MACHINE, MACHINE)]
            n = real_n + gen_n
            right = c[(HUMAN, HUMAN)] + c[(MACHINE, MACHINE)]
            low, high = wilson(right, n)
            models.append({
                "model": model, "mode": mode, "sessions": sessions.get((model, mode), 0),
                "answered": n, "correct": right, "accuracy": right / n, "interval": [low, high],
                "real": {"answered": real_n, "judged_human": c[(HUMAN, HUMAN)],
                         "share": c[(HUMAN, HUMAN)] / real_n if real_n else None},
                "generated": {"answered": gen_n, "judged_human": c[(MACHINE, HUMAN)],
                              "share": c[(MACHINE, HUMAN)] / gen_n if gen_n else None},
            })
        return {"chance": 0.5, "confidence": 0.95, "models": models}

    def answers_csv(self) -> str:
        """Every answer as CSV, one row per answered trial."""
        out = io.StringIO()
        columns = ["session", "seed", "model", "mode", "reveal", "excerpt", "position", "trial", "origin", "answer",
                   "correct", "played", "answered", "source", "piece"]
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in self.store.answers():
            writer.writerow([row[c] for c in columns])
        return out.getvalue()


# -- the HTTP side ------------------------------------------------------------------------

def listen(request: Request) -> ListenTest:
    """The app's listening test (one per app)."""
    return request.app.state.listen


class Answer(str, Enum):
    """What the listener thinks made the piece."""

    human = HUMAN
    machine = MACHINE


class SessionIn(Body):
    """A new listening session."""

    model: Text = text(MODEL_NAME_CHARS, description="A model's name, as /api/listen/models lists it.")
    trials: int = Field(DEFAULT_TRIALS, strict=True, ge=MIN_TRIALS, le=MAX_TRIALS, multiple_of=2,
                        description=f"How many pieces, even ({MIN_TRIALS} to {MAX_TRIALS}): half real, half generated.")
    seed: Optional[int] = Field(None, strict=True, ge=0, le=MAX_SEED,
                                description="Same seed, model and trials: the same pieces in the same order; "
                                            "empty: the server draws one (and keeps it).")
    reveal: bool = Field(True, strict=True, description="Tell after each answer whether it was right.")


class AnswerIn(Body):
    """The listener's answer to one trial."""

    answer: Answer = Field(description="human or machine.")


@router.get("/listen", response_class=HTMLResponse, include_in_schema=False)
def listen_page(request: Request, t: ListenTest = Depends(listen)) -> HTMLResponse:
    """The listening test: choose a model, hear the pieces, answer; the results so far."""
    models = [{"name": e.name, "description": e.description, "mode": lst.mode} for e, lst in t.models()]
    return templates.TemplateResponse(request, "listen.html", {
        "models": models, "results": t.results(), "excerpts": {lst.mode: lst.excerpt for lst in LISTENINGS},
        "trials": {"min": MIN_TRIALS, "max": MAX_TRIALS, "default": DEFAULT_TRIALS}})


@router.get("/api/listen/models")
def list_models(t: ListenTest = Depends(listen)) -> dict:
    """The models a listening test can be run with (every mode's), each with its mode."""
    return {"models": [{"name": e.name, "mode": lst.mode, "description": e.description} for e, lst in t.models()]}


@router.post("/api/listen/sessions", status_code=201)
def start_session(body: SessionIn, t: ListenTest = Depends(listen)) -> dict:
    """A new session of `trials` pieces, half real (held out), half generated, in an order only the server knows:
    its id, seed and trials (each an opaque id and its audio's address)."""
    return t.start(body)


@router.get("/api/listen/sessions/{session_id}")
def get_session(session_id: str, t: ListenTest = Depends(listen)) -> dict:
    """A session: its trials, answered or not; a trial's origin only once it is answered."""
    return t.session(session_id)


@router.get("/api/listen/trials/{trial_id}/audio", response_class=Response,
            responses={200: {"content": {"audio/wav": {}}}})
def trial_audio(trial_id: str, t: ListenTest = Depends(listen)) -> Response:
    """The trial's piece as WAV, the same length as every other trial's: nothing in it says where it came from."""
    return Response(t.audio(trial_id), media_type="audio/wav", headers={"Cache-Control": "private, max-age=86400"})


@router.post("/api/listen/trials/{trial_id}/answer")
def answer_trial(trial_id: str, body: AnswerIn, t: ListenTest = Depends(listen)) -> dict:
    """The listener's answer, final (a second is a 409): whether it was right and the piece's origin, when the
    session reveals them (else once the session is over)."""
    return t.answer(trial_id, body.answer.value)


@router.get("/api/listen/results")
def results(t: ListenTest = Depends(listen)) -> dict:
    """Per model: answers, accuracy (the share right; 0.5 is chance: indistinguishable) with its Wilson 95 %
    interval, and how often real and generated pieces were judged human."""
    return t.results()


@router.get("/api/listen/answers.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def answers_csv(t: ListenTest = Depends(listen)) -> Response:
    """Every answer with its trial and session (origin, piece, times), as CSV."""
    return Response(t.answers_csv(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="listening-test.csv"'})
