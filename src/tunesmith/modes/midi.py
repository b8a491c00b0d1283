"""The MIDI mode: pieces from MIDI files, one event token per symbol, written back as MIDI.

Generation runs one `MidiWriter` per piece through the shared sampler. The
writer reads its own tokens with the grammar's `TextReader` and masks what
would break the piece: positions rise within a bar and stay inside it, each
pitch gets a duration, pitches at one position rise, a piece ends only on a
bar line once every note has ended, and with `--bars`/`--seconds` no note
lasts past the forced end.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..atomic import write_bytes_atomic, write_text_atomic
from ..errors import TunesmithError
from ..music.midi import (DEFAULT_QPM, MAX_DURATION, STEPS_PER_BEAT, GridNote, MidiPiece, TextReader, TokenError,
                          bar_steps, midi_bytes, normal_piece, piece_from_text, read_midi, split_token, text_problem)
from .base import CheckReport, Generated, GenerateRequest, Mode

MIDI_SUFFIXES = (".mid", ".midi")
MAX_BATCH = 64
TOKENS_PER_BAR = 200   # length cap per asked-for bar, far above a four-voice bar (~40 tokens)
RENDERS = ("midi", "wav", "pianoroll")
TRANSPOSE, DRUMS = "+transpose", "+drums"   # suffixes of a --corpus spec
SHIFTS = range(-5, 7)  # every key once: a fourth down to a tritone up


# -- corpora ------------------------------------------------------------------

def _corpora() -> dict[str, str]:
    from ..corpus.midi_bundled import MIDI_CORPORA

    return dict(MIDI_CORPORA)


def _count(name: str) -> tuple[int, int]:
    from ..corpus.midi_bundled import load_midi_bundled

    pieces = dedupe(list(load_midi_bundled(name)))  # as training sees them
    return len(pieces), sum(len(p.text) + 1 for p in pieces)


def midi_files(folder: Path) -> list[Path]:
    """MIDI files under a folder, recursively, in a stable order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES)


def load_source(spec: str) -> list[MidiPiece]:
    """Pieces of a bundled corpus, a MIDI file, or a folder of them (bad files are skipped with a warning).

    `SPEC+drums` keeps drum tracks (as `Drum_` notes). `SPEC+transpose` adds
    every piece in all 12 keys (-5..+6 semitones); the copies share their
    original's identity, so the held-out split keeps them together and no
    transposition of a held-out piece is trained on.
    """
    from ..corpus.midi_bundled import MIDI_CORPORA

    flags = set()
    while suffix := next((x for x in (TRANSPOSE, DRUMS) if spec.endswith(x) and len(spec) > len(x)), None):
        spec, flags = spec[: -len(suffix)], flags | {suffix}
    if flags and not Path(spec).exists() and Path(spec).name in MIDI_CORPORA:
        spec = Path(spec).name  # a run records "bach-chorales+transpose" as a path: it is the bundled one
    pieces = _plain_source(spec, DRUMS in flags)
    if TRANSPOSE in flags:
        if not all(isinstance(p, MidiPiece) for p in pieces):  # cached folk-midi texts: read their notes
            pieces = [piece_from_text(p.text, p.title) for p in pieces]
        copies = (p.transposed(k) if k else p for p in pieces for k in SHIFTS)
        pieces = [c for c in copies if c is not None]
    return pieces


def _plain_source(spec: str, drums: bool) -> list:
    from ..corpus.midi_bundled import MIDI_CORPORA, load_midi_bundled

    if spec in MIDI_CORPORA:
        return list(load_midi_bundled(spec))
    path = Path(spec)
    if not path.exists():
        raise TunesmithError(f"{path}: no such file or folder (bundled MIDI corpora: {', '.join(MIDI_CORPORA)})")
    if path.is_file():
        return [read_midi(path, drums=drums)]
    files = midi_files(path)
    if not files:
        raise TunesmithError(f"{path}: the folder has no .mid or .midi files")
    pieces, bad = [], []
    for file in files:
        try:
            pieces.append(read_midi(file, str(file.relative_to(path).with_suffix("")), drums))
        except TunesmithError as exc:
            bad.append(str(exc))
    if not pieces:
        raise TunesmithError(f"{path}: none of its {len(files)} MIDI files could be read; the first: {bad[0]}")
    if bad:
        print(f"warning: {path}: skipped {len(bad)} of {len(files)} MIDI files:", file=sys.stderr)
        for line in bad:
            print(f"  {line}", file=sys.stderr)
    return pieces


def dedupe(pieces: list[MidiPiece]) -> list[MidiPiece]:
    """Pieces whose notes, meter and tempo are all equal to an earlier one's are dropped."""
    seen: set[str] = set()
    out = []
    for p in pieces:
        if p.text not in seen:
            seen.add(p.text)
            out.append(p)
    return out


# -- generation ---------------------------------------------------------------

class Tables:
    """A codec's tokens sorted by kind, and a cache of masks per grammar state (shared by a batch)."""

    def __init__(self, codec):
        self.vocab = codec.vocab
        self.newline, self.bar = codec.index["\n"], codec.index.get("Bar")
        kinds: dict[str, list[tuple[int, object]]] = {}
        for i, token in enumerate(codec.vocab):
            if token != "\n":
                kind, value = split_token(token)
                kinds.setdefault(kind, []).append((i, value))
        missing = [k for k in ("Bar", "Tempo", "TS", "Pos", "Vel", "Pitch", "Dur") if k not in kinds]
        kinds.setdefault("Drum", [])  # a model that never saw drums
        if missing:
            raise TunesmithError(f"this MIDI model's vocabulary has no {', '.join(missing)} tokens")

        def table(kind, key=lambda v: v):
            ids = np.array([i for i, _ in kinds[kind]], dtype=int)
            return ids, np.array([key(v) for _, v in kinds[kind]], dtype=int)

        self.tempo = table("Tempo")
        self.ts = table("TS", lambda v: bar_steps(*v) or 0)
        self.pos = table("Pos")
        self.vel = table("Vel")
        self.pitch = table("Pitch")
        self.drum = table("Drum")
        self.dur = table("Dur")
        self.min_dur = int(self.dur[1].min())
        self.cache: dict[tuple, np.ndarray] = {}

    def notes(self, last_pitch: int, last_drum: int, held: frozenset[int]) -> list[np.ndarray]:
        """Pitch and drum ids that may come next at a position: rising, drums after pitches, none still sounding."""
        pitch_ids, pitches = self.pitch
        drum_ids, drums = self.drum
        out = [drum_ids[(drums > last_drum) & ~np.isin(-1 - drums, list(held))]]
        if last_drum < 0:
            out.append(pitch_ids[(pitches > last_pitch) & ~np.isin(pitches, list(held))])
        return out

    def allow(self, *groups) -> np.ndarray:
        """A mask allowing the given ids (arrays or single ids)."""
        mask = np.zeros(len(self.vocab), dtype=bool)
        for g in groups:
            mask[g] = True
        return mask

    def nearest_tempo(self, qpm: float) -> int:
        """Id of the model's tempo token nearest to `qpm`."""
        ids, values = self.tempo
        return int(ids[np.abs(values - qpm).argmin()])


@dataclass
class MidiWriter:
    """One MIDI piece being written: the sampler's writer (ids, done, push, mask)."""

    tables: Tables
    queue: deque                    # forced ids still to come (a primer)
    max_symbols: int
    bars: int | None = None         # the piece ends after this many bars
    seconds: float | None = None    # ... or after the bars that make up this many seconds
    tempo: float | None = None      # the tempo the user asked for
    free: bool = False
    ids: list[int] = field(default_factory=list)
    reader: TextReader = field(default_factory=TextReader)
    done: bool = False
    truncated: bool = False
    ends: dict[int, int] = field(default_factory=dict)  # pitch -> where its latest note ends
    _seen: int = 0                  # notes of the reader already in `ends`

    def _held(self) -> frozenset[int]:
        """Pitches still sounding at the current position: striking one again would cut it short in MIDI."""
        r = self.reader
        for n in r.notes[self._seen:]:
            self.ends[-1 - n.pitch if n.drum else n.pitch] = n.start + n.duration  # drums as -1-key
        self._seen = len(r.notes)
        now = r.bar_start + r.pos
        return frozenset(p for p, end in self.ends.items() if end > now and (p < 0 or p > r.last_pitch))

    @property
    def end_step(self) -> int | None:
        """Where the piece must end (the meter cannot change once an end is set)."""
        r = self.reader
        if self.bars is None or r.bar < 0:
            return None
        return r.bar_start + (self.bars - r.bar) * r.bar_len

    def push(self, sampled: int) -> int:
        """Take the sampled id (or the next primer id) and read it."""
        forced = bool(self.queue)
        sym = self.queue.popleft() if forced else sampled
        self.ids.append(sym)
        token = self.tables.vocab[sym]
        r = self.reader
        was_header = r.phase == "header_end"
        try:
            r.feed(token)
        except TokenError:
            if self.bars is not None and token == "\n" and r.phase == "line_start":
                self.done = True  # the forced end, even if a primer's note still sounds (it is cut)
            elif not (self.free or forced):
                raise  # the mask allowed it: a bug
            if self.free and token == "\n" and len(self.ids) > 1 and self.ids[-2] == self.tables.newline:
                self.done = True  # a blank line ends the piece even when the music does not add up
        if was_header and r.phase == "line_start" and self.seconds is not None and self.bars is None:
            qpm = self.tempo or r.qpm or DEFAULT_QPM
            steps = self.seconds * qpm / 60 * STEPS_PER_BEAT
            self.bars = max(1, math.ceil(steps / bar_steps(*r.meters[0][1:]) - 1e-9))
        if r.phase == "end":
            self.done = True
        elif len(self.ids) >= self.max_symbols:
            self.done = self.truncated = True
        return sym

    def mask(self) -> np.ndarray | None:
        """The ids that keep the piece well formed from here (None: any, or a forced id comes next)."""
        if self.queue or self.free:
            return None
        t, r = self.tables, self.reader
        end = self.end_step
        phase = r.phase
        if phase == "tempo":
            key = ("tempo", None if self.tempo is None else t.nearest_tempo(self.tempo))
        elif phase == "line_start":
            must_end = self.bars is not None and r.bar + 1 >= self.bars
            can_end = self.bars is None and r.notes and r.max_end <= r.now
            key = ("line_start", must_end, bool(can_end))
        elif phase in ("bar", "bar_ts", "dur"):
            limit = r.bar_len if end is None else min(r.bar_len, end - r.bar_start - t.min_dur + 1)
            last_bar = end is not None and r.bar_start + r.bar_len >= end
            ts = phase == "bar" and r.bar > 0 and self.bars is None
            held = self._held() if phase == "dur" else frozenset()
            key = (phase, r.pos, limit, r.last_pitch if phase == "dur" else -1, ts, last_bar and not r.notes, held,
                   r.last_drum if phase == "dur" else -1)
        elif phase == "pos":
            key = ("pos", r.velocity is not None, self._held())
        elif phase == "vel":
            key = ("vel", r.last_pitch, self._held(), r.last_drum)
        elif phase == "pitch":
            key = ("pitch", MAX_DURATION if end is None else end - r.bar_start - r.pos)
        else:
            key = (phase,)
        mask = t.cache.get(key)
        if mask is None:
            mask = t.cache[key] = self._mask(key)
        return mask

    def _mask(self, key: tuple) -> np.ndarray:
        t = self.tables
        phase = key[0]
        if phase == "tempo":
            return t.allow(t.tempo[0] if key[1] is None else key[1])
        if phase == "ts":
            return t.allow(t.ts[0][t.ts[1] > 0])
        if phase == "header_end":
            return t.allow(t.newline)
        if phase == "line_start":
            _, must_end, can_end = key
            return t.allow(t.newline) if must_end else t.allow(t.bar, *([t.newline] if can_end else []))
        if phase in ("bar", "bar_ts", "dur"):
            _, pos, limit, last_pitch, ts, need_note, held, last_drum = key
            ids, values = t.pos
            groups = [ids[(values > pos) & (values < limit)]]
            if not need_note or phase == "dur":
                groups.append(t.newline)
            if ts:
                groups.append(t.ts[0][t.ts[1] > 0])
            if phase == "dur":
                notes = t.notes(last_pitch, last_drum, held)
                groups += notes
                if sum(map(len, notes)):
                    groups.append(t.vel[0])
            return t.allow(*groups)
        if phase == "pos":
            return t.allow(t.vel[0], *(t.notes(-1, -1, key[2]) if key[1] else []))
        if phase == "vel":
            return t.allow(*t.notes(key[1], key[3], key[2]))
        if phase == "pitch":
            return t.allow(t.dur[0][t.dur[1] <= key[1]])
        return t.allow(t.newline)

    def piece(self, title: str) -> MidiPiece:
        """The piece written, in normal form; notes are cut at a forced end."""
        r = self.reader
        notes, end = r.notes, self.end_step
        if end is not None:
            notes = [GridNote(n.start, n.pitch, min(n.duration, end - n.start), n.velocity, n.drum)
                     for n in notes if n.start < end]
        return normal_piece(notes, r.meters or [(0, 4, 4)], r.qpm or DEFAULT_QPM, title)


def _nearest(values: np.ndarray, value: int) -> int:
    return int(values[np.abs(values - value).argmin()])


def fit_to_vocabulary(piece: MidiPiece, tables: Tables) -> MidiPiece:
    """The piece with its tempo, velocities, onsets and lengths moved to the nearest the model knows.

    A user's opening rarely has exactly the chorales' tempo or velocity;
    pitches and meters are left alone (an unknown one is still an error).
    """
    starts = piece.bar_starts
    notes = []
    for n in piece.notes:
        bar = bisect_right(starts, n.start) - 1
        places = tables.pos[1][tables.pos[1] < starts[bar + 1] - starts[bar]]
        onset = starts[bar] + (_nearest(places, n.start - starts[bar]) if len(places) else n.start - starts[bar])
        notes.append(GridNote(onset, n.pitch, _nearest(tables.dur[1], n.duration),
                              _nearest(tables.vel[1], n.velocity), n.drum))
    return normal_piece(notes, piece.meters, _nearest(tables.tempo[1], piece.qpm), piece.title)


def _primer_ids(codec, req: GenerateRequest) -> tuple[list[int], int, int | None]:
    """Ids of the opening to force (its last bar left open to go on), how many bars it has, and its tempo."""
    if req.primer_file is not None and req.primer is not None:
        raise TunesmithError("--primer and --primer-file both give an opening; choose one")
    if req.primer_file is not None:
        piece, where = read_midi(req.primer_file), str(req.primer_file)
    elif req.primer is not None:
        piece, where = piece_from_text(req.primer.rstrip("\n") + "\n", where="--primer"), "--primer"
    else:
        return [], 0, None
    if not piece.notes:
        raise TunesmithError(f"{where}: the opening has no notes")
    fitted = fit_to_vocabulary(piece, Tables(codec))
    ids = codec.encode(fitted.text, where)
    return ids[:-1], len(fitted.bar_starts) - 1, piece.qpm


def generate_pieces(ckpt, req: GenerateRequest) -> list[MidiPiece]:
    """`req.n` new pieces from a MIDI checkpoint (see MidiWriter for the constraints)."""
    if req.n < 1:
        raise TunesmithError(f"-n must be at least 1 (got {req.n})")
    if req.bars is not None and req.seconds is not None:
        raise TunesmithError("--bars and --seconds both set the length; choose one")
    if req.bars is not None and req.bars < 1:
        raise TunesmithError(f"--bars must be at least 1 (got {req.bars})")
    if req.seconds is not None and not 0 < req.seconds <= 3600:
        raise TunesmithError(f"--seconds must be above 0 and at most 3600 (got {req.seconds:g})")
    if req.tempo is not None and not 20 <= req.tempo <= 400:
        raise TunesmithError(f"--tempo must be between 20 and 400 beats per minute (got {req.tempo:g})")
    req.sampling.check()
    primer, primer_bars, primer_qpm = _primer_ids(ckpt.codec, req)
    if req.bars is not None and primer_bars >= req.bars:
        raise TunesmithError(f"--bars {req.bars}: the opening already has {primer_bars} bars; --bars counts the "
                             f"whole piece, opening included")
    from ..generate import sample_streams

    tables = Tables(ckpt.codec)
    cap = req.max_length
    if req.bars is not None or req.seconds is not None:
        longest = req.bars or math.ceil(req.seconds * 400 / 60 / 4) + 1  # bars of 4/4 at a fast 400 bpm
        cap = max(cap, len(primer) + TOKENS_PER_BAR * longest)
    pieces = []
    for start in range(0, req.n, MAX_BATCH):
        count = min(MAX_BATCH, req.n - start)
        writers = [MidiWriter(tables, deque(primer), cap, req.bars, req.seconds, req.tempo, req.free)
                   for _ in range(count)]
        sample_streams(ckpt, writers, req.sampling, req.seed + start)
        pieces += [w.piece(f"tunesmith {start + i + 1}") for i, w in enumerate(writers)]
    if primer_qpm is not None and req.tempo is None:  # the opening's own tempo, not the model's nearest
        pieces = [replace(p, qpm=primer_qpm) for p in pieces]
    return pieces


def _outputs(output: Path, n: int) -> list[Path]:
    if n == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i}{output.suffix}") for i in range(1, n + 1)]


def _generate(ckpt, req: GenerateRequest) -> Generated:
    for option, value in (("--tala", req.tala), ("--cycles", req.cycles), ("--meter", req.style.meter),
                          ("--key", req.style.key), ("--rhythm", req.style.rhythm), ("--length", req.style.length)):
        if value is not None:
            raise TunesmithError(f"{option} is for other modes; this model writes MIDI (mode midi)")
    unknown = [k for k in req.render if k not in RENDERS]
    if unknown:
        raise TunesmithError(f"--render {','.join(unknown)}: a MIDI model renders {', '.join(RENDERS)}")
    if req.output is not None and req.output.suffix.lower() not in MIDI_SUFFIXES + (".txt",):
        raise TunesmithError(f"-o {req.output}: name a .mid file (or .txt for the token text)")
    if req.render and (req.output is None or req.output.suffix.lower() == ".txt"):
        raise TunesmithError("--render writes files beside the MIDI file: name it with -o, e.g. -o out/new.mid")
    pieces = generate_pieces(ckpt, req)
    text = "\n".join(p.text for p in pieces)
    if req.output is None:
        return Generated(stdout=text, pieces=[p.text for p in pieces])
    if req.output.suffix.lower() == ".txt":
        write_text_atomic(req.output, text)
        return Generated(message=f"wrote {len(pieces)} pieces to {req.output}", pieces=[p.text for p in pieces])
    written = []
    for piece, path in zip(pieces, _outputs(req.output, len(pieces))):
        data = midi_bytes(piece, qpm=req.tempo)
        write_bytes_atomic(path, data)
        written.append(path)
        if "wav" in req.render:
            from ..render.audio import midi_to_wav

            write_bytes_atomic(path.with_suffix(".wav"), midi_to_wav(data))
        if "pianoroll" in req.render:
            from ..render.pianoroll import pianoroll_png

            write_bytes_atomic(path.with_suffix(".png"), pianoroll_png(piece, title=path.stem))
    extra = sum(k in req.render for k in ("wav", "pianoroll")) * len(written)
    where = written[0] if len(written) == 1 else f"{written[0]} .. {written[-1].name}"
    message = f"wrote {len(written)} MIDI files ({where})" + (f" and {extra} rendered files beside them" if extra else "")
    return Generated(message=message, pieces=[p.text for p in pieces])


# -- checking -----------------------------------------------------------------

def _check_file(path: Path) -> CheckReport:
    """A MIDI file: can it be read (else exit 2). A token text: every piece against the grammar, with line:col."""
    path = Path(path)
    try:
        head = path.open("rb").read(4)
    except OSError as exc:
        raise TunesmithError(f"{path}: cannot read ({exc.strerror})") from None
    if head == b"MThd" or path.suffix.lower() in MIDI_SUFFIXES:
        piece = read_midi(path)
        return CheckReport(str(path), [{"number": 1, "title": piece.title, "line": 1, "problems": []}])
    from ..corpus.files import read_text

    blocks: list[tuple[int, list[str]]] = []  # (first line number, lines) of each piece
    for number, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            blocks.append((number + 1, []))
        elif blocks:
            blocks[-1][1].append(line)
        else:
            blocks.append((number, [line]))
    pieces = []
    for first, lines in (b for b in blocks if b[1]):
        _, problem = text_problem("\n".join(lines) + "\n")
        problems = [] if problem is None else [{"line": first + problem[0] - 1, "col": problem[1],
                                                 "message": problem[2]}]
        pieces.append({"number": len(pieces) + 1, "title": f"at line {first}", "line": first, "problems": problems})
    return CheckReport(str(path), pieces)


MODE = Mode(
    name="midi",
    description="MIDI files: notes with their timing, rests, chords and velocity",
    codecs=("midi-events",),
    unit="event",
    default_model="midi",
    corpora=_corpora,
    load_source=load_source,
    dedupe=dedupe,
    generate=_generate,
    check_file=_check_file,
    count_corpus=_count,
)
