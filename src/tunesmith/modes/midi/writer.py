"""The MIDI mode's writer: masks that keep every bar, note and ending well formed, and end it as music ends.

The writer reads its own tokens with the grammar's `TextReader` and masks
what would break the piece: positions rise within a bar and stay inside it,
each pitch gets a duration, pitches at one position rise, a piece ends only
on a bar line once every note has ended, and with `--bars`/`--seconds` no
note lasts past the forced end.

A piece also ends as a chorale does, on a cadence: its last bar closes with
a chord let go together, sounding at least a beat, that with the silence
after it fills at least a half note before the bar line
(`fidelity.closes`), the tonic in the bass. In that bar no onset may come
after the last place where such a chord fits; there every note sounds to
the end over the tonic, and notes struck before it end by then or sound to
the end with it. Without --bars the model may end the piece after such a
bar from MIN_BARS, the first from SETTLE_BARS ends it, and from LONGEST_BARS
on every bar is asked to close. Silence inside a piece comes only as a
breath after a held chord: otherwise the next onset comes before the sound
stops and a bar does not end early.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import replace

import numpy as np

from ...errors import TunesmithError
from ...generate import QueuedWriter, write_batched
from ...music.midi import (DEFAULT_QPM, MAX_DURATION, STEPS_PER_BEAT, GridNote, MidiPiece, TextReader, TokenError,
                           bar_steps, normal_piece, piece_from_text, read_midi)
from ..base import GenerateRequest
from .fidelity import closes, hold_steps, tonic
from .tables import Tables

TOKENS_PER_BAR = 200   # length cap per asked-for bar, far above a four-voice bar (~40 tokens)
# Where a piece without --bars may end: Bach's chorales run 10 to 31 bars (the held-out ones; median 16),
# and a model left alone sometimes stops after 2 bars or runs to the length cap.
MIN_BARS = 8        # the model may end at a cadence from here
SETTLE_BARS = 12    # ... and the first cadence from here ends it
LONGEST_BARS = 16   # from here every bar is asked to close with a cadence

class MidiWriter(QueuedWriter):
    """One MIDI piece being written: the sampler's writer (ids, done, push, mask)."""

    def __init__(self, tables: Tables, queue: deque, max_symbols: int, bars: int | None = None,
                 seconds: float | None = None, tempo: float | None = None, free: bool = False):
        super().__init__(max_symbols, queue)   # forced ids: a primer
        self.tables = tables
        self.bars = bars                # the piece ends after this many bars
        self.seconds = seconds          # ... or after the bars that make up this many seconds
        self.tempo = tempo              # the tempo the user asked for
        self.free = free
        self.reader = TextReader()
        self.latest: dict[int, GridNote] = {}  # pitch (drums as -1-key) -> its latest note
        self._seen = 0                  # notes of the reader already in `latest`
        self._tonic: tuple[int, int | None] = (-1, None)  # (bar, the tonic of the notes up to it)

    def _update(self) -> None:
        for n in self.reader.notes[self._seen:]:
            self.latest[-1 - n.pitch if n.drum else n.pitch] = n
        self._seen = len(self.reader.notes)

    def _held(self) -> frozenset[int]:
        """Pitches still sounding at the current position: striking one again would cut it short in MIDI."""
        r = self.reader
        self._update()
        now = r.bar_start + r.pos
        return frozenset(p for p, n in self.latest.items()
                         if n.start + n.duration > now and (p < 0 or p > r.last_pitch))

    def tonic(self) -> int | None:
        """The tonic's pitch class of the notes so far, fixed once per bar (the key a cadence lands on)."""
        r = self.reader
        if self._tonic[0] != r.bar:
            self._tonic = (r.bar, tonic(r.notes))
        return self._tonic[1]

    def cadence(self, bar_end: int) -> bool:
        """Does the latest onset close the piece: a closing chord (`fidelity.closes`) with the tonic in the bass?"""
        r = self.reader
        if not r.notes or r.notes[-1].start < r.bar_start:
            return False
        onset = r.notes[-1].start
        if not self._breath(bar_end):
            return False
        pitched = [n.pitch for n in self.latest.values() if n.start <= onset < n.start + n.duration and not n.drum]
        key = self.tonic()
        return bool(pitched) and (key is None or min(pitched) % 12 == key)

    @property
    def end_step(self) -> int | None:
        """Where the piece must end (the meter cannot change once an end is set)."""
        r = self.reader
        if self.bars is None or r.bar < 0:
            return None
        return r.bar_start + (self.bars - r.bar) * r.bar_len

    def closing(self) -> tuple[int, int] | None:
        """(end step, latest closing position) when the current bar must close the piece; else None."""
        r = self.reader
        if r.bar < 0 or r.phase in ("line_start", "end"):
            return None
        bar_end = r.bar_start + r.bar_len
        if self.bars is not None:
            if self.end_step != bar_end:
                return None
        elif r.bar + 1 < LONGEST_BARS:
            return None
        last = self.tables.last_close(r.bar_len)
        return None if last is None else (bar_end, last)

    def _breath(self, bar_end: int, hold: bool = False) -> bool:
        """Does the latest onset's chord close a phrase (`fidelity.closes`)? `hold`: and sound a half note
        itself (silence inside a piece follows only such a held chord, as a breath; the last chord may be a
        quarter let go before the bar line, as after a pickup)."""
        r = self.reader
        if not r.notes:
            return False
        onset = r.notes[-1].start
        self._update()
        sounding = [n for n in self.latest.values() if n.start <= onset < n.start + n.duration]
        if hold and any(n.start + n.duration - onset < hold_steps(r.bar_len) for n in sounding):
            return False
        return closes(onset, sounding, bar_end, r.bar_len)

    def _bass(self) -> int | None:
        """The pitch class the next note must have: the tonic, as the bass of the chord at the last place a
        closing chord fits (that chord is forced to sound to the end: it is the cadence); else None."""
        r = self.reader
        closing = self.closing()
        if closing is None or r.pos != closing[1] or r.last_pitch >= 0 or r.last_drum >= 0:
            return None
        return self.tonic()

    def take(self, sym: int, forced: bool) -> None:
        """Read the id (the sampled one or the next primer id) with the grammar's reader."""
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
            if self.bars is not None:
                must_end, can_end = r.bar + 1 >= self.bars, False
            else:  # the model ends it after a bar that closes with a cadence, and must once it is long
                can_end = (r.bar + 1 >= MIN_BARS and bool(r.notes) and r.max_end <= r.now
                           and self.cadence(r.now))
                must_end = can_end and r.bar + 1 >= SETTLE_BARS
            key = ("line_start", must_end, bool(can_end))
        elif phase in ("bar", "bar_ts", "dur"):
            limit = r.bar_len if end is None else min(r.bar_len, end - r.bar_start - t.min_dur + 1)
            closing = self.closing()
            bar_end = r.bar_start + r.bar_len
            # Silence only as a breath after a phrase's closing chord: while another onset can come before
            # the sound stops, the next onset comes by then and the bar does not end early.
            reach = r.max_end - r.bar_start
            quiet = bool(r.notes) and r.max_end < bar_end and bool(((t.pos[1] > r.pos) & (t.pos[1] <= reach)).any())
            if quiet and self._breath(bar_end, hold=True):
                quiet = False
            if quiet:
                limit = min(limit, reach + 1)
            if closing is None:
                newline = not quiet and (
                    phase == "dur" or not (end is not None and r.bar_start + r.bar_len >= end and not r.notes))
            else:  # no onset after the last place a closing chord fits; the bar ends once one sounds
                last = closing[1]
                limit = min(limit, last + 1)
                # (at the last place, the chord is forced to sound to the end over the tonic: it may end the bar
                # as it is; past it, only after a primer, the bar may end as it can)
                newline = (phase == "dur" and (r.pos >= last or self.cadence(bar_end))) or (r.pos > last and bool(r.notes))
            ts = phase == "bar" and r.bar > 0 and self.bars is None
            held = self._held() if phase == "dur" else frozenset()
            key = (phase, r.pos, limit, r.last_pitch if phase == "dur" else -1, ts, newline, held,
                   r.last_drum if phase == "dur" else -1)
        elif phase == "pos":
            key = ("pos", r.velocity is not None, self._held(), self._bass())
        elif phase == "vel":
            key = ("vel", r.last_pitch, self._held(), r.last_drum, self._bass())
        elif phase == "pitch":
            closing = self.closing()
            if closing is not None:
                bar_end, last = closing
                # A note of this bar ends by the last place a closing chord fits, or sounds to the end with
                # that chord; from there on every note sounds to the end.
                longest = bar_end - r.bar_start - r.pos
                key = ("pitch", longest, max(last - r.pos, 0))
            else:
                key = ("pitch", MAX_DURATION if end is None else end - r.bar_start - r.pos, None)
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
            _, pos, limit, last_pitch, ts, newline, held, last_drum = key
            ids, values = t.pos
            groups = [ids[(values > pos) & (values < limit)]]
            if newline:
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
            return t.allow(t.vel[0], *(t.notes(-1, -1, key[2], key[3]) if key[1] else []))
        if phase == "vel":
            return t.allow(*t.notes(key[1], key[3], key[2], key[4]))
        if phase == "pitch":
            _, longest, short = key
            values = t.dur[1]
            allowed = values <= longest if short is None else (values <= short) | (values == longest)
            return t.allow(t.dur[0][allowed])
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


def _primer_ids(codec, primer: str | None, primer_file) -> tuple[list[int], int, int | None]:
    """Ids of the opening to force (its last bar left open to go on), how many bars it has, and its tempo."""
    if primer_file is not None and primer is not None:
        raise TunesmithError("--primer and --primer-file both give an opening; choose one")
    if primer_file is not None:
        piece, where = read_midi(primer_file), str(primer_file)
    elif primer is not None:
        piece, where = piece_from_text(primer.rstrip("\n") + "\n", where="--primer"), "--primer"
    else:
        return [], 0, None
    if not piece.notes:
        raise TunesmithError(f"{where}: the opening has no notes")
    fitted = fit_to_vocabulary(piece, Tables(codec))
    ids = codec.encode(fitted.text, where)
    return ids[:-1], len(fitted.bar_starts) - 1, piece.qpm


def generate_pieces(ckpt, req: GenerateRequest) -> list[MidiPiece]:
    """`req.n` new pieces from a MIDI checkpoint (see MidiWriter for the constraints)."""
    from . import MODE

    opt = MODE.options_of(req)
    if req.n < 1:
        raise TunesmithError(f"-n must be at least 1 (got {req.n})")
    if opt.bars is not None and opt.seconds is not None:
        raise TunesmithError("--bars and --seconds both set the length; choose one")
    if opt.bars is not None and opt.bars < 1:
        raise TunesmithError(f"--bars must be at least 1 (got {opt.bars})")
    if opt.seconds is not None and not 0 < opt.seconds <= 3600:
        raise TunesmithError(f"--seconds must be above 0 and at most 3600 (got {opt.seconds:g})")
    if opt.tempo is not None and not 20 <= opt.tempo <= 400:
        raise TunesmithError(f"--tempo must be between 20 and 400 beats per minute (got {opt.tempo:g})")
    req.sampling.check()
    primer, primer_bars, primer_qpm = _primer_ids(ckpt.codec, req.primer, opt.primer_file)
    if opt.bars is not None and primer_bars >= opt.bars:
        raise TunesmithError(f"--bars {opt.bars}: the opening already has {primer_bars} bars; --bars counts the "
                             f"whole piece, opening included")
    tables = Tables(ckpt.codec)
    cap = MODE.max_length_of(req)
    if opt.bars is not None or opt.seconds is not None:
        longest = opt.bars or math.ceil(opt.seconds * 400 / 60 / 4) + 1  # bars of 4/4 at a fast 400 bpm
        cap = max(cap, len(primer) + TOKENS_PER_BAR * longest)
    writers = write_batched(
        ckpt, req.n, lambda: MidiWriter(tables, deque(primer), cap, opt.bars, opt.seconds, opt.tempo, req.free),
        req.sampling, req.seed)
    pieces = [w.piece(f"tunesmith {i}") for i, w in enumerate(writers, 1)]
    if primer_qpm is not None and opt.tempo is None:  # the opening's own tempo, not the model's nearest
        pieces = [replace(p, qpm=primer_qpm) for p in pieces]
    return pieces
