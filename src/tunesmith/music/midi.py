"""MIDI files <-> MIDI pieces: notes on a grid of 12 steps per beat, and their token text.

A piece's text is what the model learns, one bar per line (REMI-like):

    Tempo_80 TS_4/4
    Bar Pos_36 Vel_80 Pitch_53 Dur_12 Pitch_65 Dur_12
    Bar Pos_0 Pitch_50 Dur_24 Pitch_62 Dur_12 Pos_12 Pitch_64 Dur_12
    Bar TS_3/4 Pos_0 ...

The first line holds the tempo (quarter notes per minute) and the meter.
Each bar line starts with `Bar` (so an empty bar is not a blank line, which
ends a piece), may change the meter, then lists onsets: `Pos_k` (steps
from the bar line, strictly increasing), then per note, pitches rising,
`Pitch_n Dur_k` (k steps long, may reach past the bar line), then drum
notes the same way as `Drum_n Dur_k` (kept only when asked). `Vel_v` sets
the velocity of the notes after it until the next `Vel_`. The bars cover
every note to its end, so no note hangs past the end of a piece.

Reading keeps every track and channel except drums, merged into one part;
times are rounded to the grid, velocities and tempo to buckets, notes of
one pitch that overlap are cut where the next one starts (a MIDI file
cannot tell them apart), and whole empty bars before the first note are
dropped. That normal form round-trips exactly: text -> MIDI -> text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path

from ..errors import TunesmithError
from .events import NoteEvent

STEPS_PER_BEAT = 12            # a quarter note: fine enough for eighth and sixteenth triplets
STEPS_PER_WHOLE = 4 * STEPS_PER_BEAT
TICKS_PER_STEP = 40            # written files have 480 ticks per quarter note
MAX_DURATION = 8 * STEPS_PER_WHOLE   # longer notes are cut to 8 whole notes
MAX_BAR = 4 * STEPS_PER_WHOLE
MAX_BARS = 2000                # a piece longer than this is not music the model can learn from
MAX_FILE_BYTES = 16 * 2**20    # far above any real piece; refuses e.g. a 50 MB file before parsing it
VELOCITIES = tuple(range(8, 121, 8)) + (127,)
DEFAULT_QPM = 120
TEMPO_STEP, MIN_QPM, MAX_QPM = 4, 20, 320
_TOKEN = re.compile(r"(Tempo|TS|Pos|Vel|Pitch|Drum|Dur)_(\d+(?:/\d+)?)$|Bar$")


@dataclass(frozen=True)
class GridNote:
    """A note on the grid: start and duration in steps from the start of the piece; `drum`: a drum key."""

    start: int
    pitch: int
    duration: int
    velocity: int
    drum: bool = False

    def order(self) -> tuple[int, bool, int]:
        """Where the note stands in a piece: by onset, pitched notes before drums, rising."""
        return self.start, self.drum, self.pitch


def bar_steps(numerator: int, denominator: int) -> int | None:
    """Steps in a bar of numerator/denominator; None when it is not a whole number of steps or too long."""
    if denominator <= 0 or numerator <= 0:
        return None
    steps = Fraction(numerator * STEPS_PER_WHOLE, denominator)
    return int(steps) if steps.denominator == 1 and steps <= MAX_BAR else None


_VELOCITY_BUCKET = [min(VELOCITIES, key=lambda v: (abs(v - velocity), -v)) for velocity in range(128)]


def quantize_velocity(velocity: int) -> int:
    """The velocity bucket nearest to `velocity` (ties go up)."""
    return _VELOCITY_BUCKET[min(max(velocity, 0), 127)]


def quantize_tempo(qpm: float) -> int:
    """A tempo rounded to the tempo grid (multiples of 4 between 20 and 320)."""
    return int(min(MAX_QPM, max(MIN_QPM, TEMPO_STEP * round(qpm / TEMPO_STEP))))


def split_token(token: str) -> tuple[str, int | tuple[int, int] | None]:
    """(kind, value) of one token: ("Pitch", 60), ("TS", (3, 4)), ("Bar", None); ValueError when unknown."""
    match = _TOKEN.match(token)
    if not match:
        raise ValueError(f"unknown token {token!r}")
    if match.group(1) is None:
        return "Bar", None
    kind, value = match.group(1), match.group(2)
    if kind == "TS":
        if "/" not in value:
            raise ValueError(f"bad time signature {token!r} (write TS_3/4)")
        num, den = value.split("/")
        return kind, (int(num), int(den))
    if "/" in value:
        raise ValueError(f"unknown token {token!r}")
    return kind, int(value)


class TokenError(ValueError):
    """A token that breaks the grammar of the text notation, at its place in the text."""


class TextReader:
    """Reads a piece's tokens one by one and keeps the state the grammar needs.

    The same reader checks a text and tells the sampler what may come next
    (`phase`, `pos`, `last_pitch`, `bar_len`, ...), so the two never disagree.
    """

    def __init__(self):
        self.phase = "tempo"   # tempo, ts, header_end, line_start, bar, bar_ts, pos, vel, pitch, dur, end
        self.qpm: int | None = None
        self.meters: list[tuple[int, int, int]] = []  # (bar, numerator, denominator)
        self.bar = -1            # bars begun
        self.bar_start = 0       # step where the current bar starts
        self.bar_len = 0
        self.pos = -1            # the current onset in the bar, -1 before the first
        self.last_pitch = -1     # the highest pitch so far at this onset
        self.last_drum = -1      # ... and drum key (drums come after the pitched notes)
        self.velocity: int | None = None
        self.pitch: int | None = None  # a pitch waiting for its duration
        self.drum = False              # ... which is a drum key
        self.notes: list[GridNote] = []
        self.max_end = 0         # where the longest-sounding note ends

    @property
    def now(self) -> int:
        """Where the bars read so far end."""
        return self.bar_start + self.bar_len if self.bar >= 0 else 0

    def feed(self, token: str) -> None:
        """Take the next token ("\\n" for a line break); TokenError when it cannot come here."""
        phase = self.phase
        if token == "\n":
            if phase == "header_end":
                self.phase = "line_start"
            elif phase in ("bar", "bar_ts", "dur"):
                self.phase = "line_start"
            elif phase == "line_start":
                if self.bar < 0:
                    raise TokenError("a piece needs at least one bar")
                if self.max_end > self.now:
                    raise TokenError(f"a note lasts {self.max_end - self.now} steps past the end of the piece")
                self.phase = "end"
            else:
                raise TokenError(f"a line cannot end here (expected {self._expected()})")
            return
        try:
            kind, value = split_token(token)
        except ValueError as exc:
            raise TokenError(str(exc)) from None
        if phase == "tempo" and kind == "Tempo":
            self.qpm, self.phase = value, "ts"
        elif phase == "ts" and kind == "TS":
            self._meter(value, 0)
            self.phase = "header_end"
        elif phase == "line_start" and kind == "Bar":
            self.bar_start, self.bar = self.now, self.bar + 1
            self.bar_len = bar_steps(*self.meters[-1][1:])
            self.pos, self.phase = -1, "bar"
        elif phase == "bar" and kind == "TS" and self.bar > 0:
            self._meter(value, self.bar)
            self.bar_len = bar_steps(*value)
            self.phase = "bar_ts"
        elif phase in ("bar", "bar_ts", "dur") and kind == "Pos":
            if not self.pos < value < self.bar_len:
                raise TokenError(f"{token}: a position must be after {max(self.pos, 0) if self.pos >= 0 else -1} "
                                 f"and before the bar's end ({self.bar_len})"
                                 if self.pos >= 0 else f"{token}: past the bar's end ({self.bar_len} steps)")
            self.pos, self.last_pitch, self.last_drum, self.phase = value, -1, -1, "pos"
        elif phase in ("pos", "dur") and kind == "Vel":
            if not 1 <= value <= 127:
                raise TokenError(f"{token}: a velocity is 1..127")
            self.velocity, self.phase = value, "vel"
        elif phase in ("pos", "vel", "dur") and kind in ("Pitch", "Drum"):
            if self.velocity is None:
                raise TokenError(f"{token}: the first note needs a Vel_ before it")
            if kind == "Pitch" and self.last_drum >= 0:
                raise TokenError(f"{token}: at one position pitched notes come before drums")
            last = self.last_pitch if kind == "Pitch" else self.last_drum
            if not last < value <= 127:
                raise TokenError(f"{token}: {kind.lower()}s at one position rise, each once (after {last}), up to 127")
            if kind == "Pitch":
                self.last_pitch = value
            else:
                self.last_drum = value
            self.pitch, self.drum, self.phase = value, kind == "Drum", "pitch"
        elif phase == "pitch" and kind == "Dur":
            if not 1 <= value <= MAX_DURATION:
                raise TokenError(f"{token}: a duration is 1..{MAX_DURATION} steps")
            start = self.bar_start + self.pos
            self.notes.append(GridNote(start, self.pitch, value, self.velocity, self.drum))
            self.max_end = max(self.max_end, start + value)
            self.phase = "dur"
        else:
            raise TokenError(f"{token} cannot come here (expected {self._expected()})")

    def _meter(self, value: tuple[int, int], bar: int) -> None:
        if bar_steps(*value) is None:
            raise TokenError(f"TS_{value[0]}/{value[1]}: a bar must be a whole number of 1/48 notes, "
                             f"at most {MAX_BAR // STEPS_PER_WHOLE} whole notes")
        self.meters.append((bar, *value))

    def _expected(self) -> str:
        return {"tempo": "Tempo_", "ts": "TS_", "header_end": "a line break", "line_start": "Bar or a blank line",
                "bar": "TS_, Pos_ or a line break", "bar_ts": "Pos_ or a line break", "pos": "Vel_ or Pitch_",
                "vel": "Pitch_", "pitch": "Dur_", "dur": "Pos_, Vel_, Pitch_ or a line break",
                "end": "nothing after the blank line"}[self.phase]


def text_tokens(text: str) -> list[tuple[str, int, int]]:
    """(token, line, column) of every token and line break of a text, 1-based."""
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        for match in re.finditer(r"\S+", line):
            out.append((match.group(), number, match.start() + 1))
        out.append(("\n", number, len(line) + 1))
    out.pop()  # the split's last piece is what follows the final newline
    return out


def text_problem(text: str) -> tuple[TextReader, tuple[int, int, str] | None]:
    """The reader after a piece's text, and its first problem as (line, column, message), or None."""
    reader = TextReader()
    for token, line, col in text_tokens(text):
        try:
            reader.feed(token)
        except TokenError as exc:
            return reader, (line, col, str(exc))
        if reader.phase == "end":
            break
    if reader.phase not in ("line_start", "end") or reader.bar < 0:
        return reader, (text.count("\n") + 1, 1, f"the piece stops in the middle (expected {reader._expected()})")
    if reader.max_end > reader.now:
        return reader, (text.count("\n") + 1, 1, "a note lasts past the end of the last bar")
    return reader, None


def read_text(text: str, where: str = "text") -> TextReader:
    """The reader after a whole piece's text; TunesmithError naming `where`, line and column on a fault."""
    reader, problem = text_problem(text)
    if problem is not None:
        line, col, message = problem
        raise TunesmithError(f"{where}:{line}:{col}: {message}")
    return reader


@dataclass(frozen=True)
class MidiPiece:
    """A piece in normal form: its notes, meters (bar, num, den) and tempo; `text` is what the model learns."""

    notes: tuple[GridNote, ...]
    meters: tuple[tuple[int, int, int], ...]
    qpm: int
    title: str = ""
    origin: str = ""   # a transposed copy: the original's text, so that copies stay on one side of the split

    @cached_property
    def bar_starts(self) -> list[int]:
        """Start step of every bar, and one more: where the piece ends (every note has ended by then)."""
        last = max((n.start + n.duration for n in self.notes), default=1)
        starts, meter, at, length = [], 0, 0, 0
        while at < last or not starts:
            if meter < len(self.meters) and self.meters[meter][0] == len(starts):
                length = bar_steps(*self.meters[meter][1:])
                meter += 1
            starts.append(at)
            at += length
        return starts + [at]

    @cached_property
    def text(self) -> str:
        """The piece in the token notation (see the module docstring), ending with a newline."""
        num, den = self.meters[0][1:]
        lines = [f"Tempo_{self.qpm} TS_{num}/{den}"]
        changes = {bar: f"TS_{n}/{d}" for bar, n, d in self.meters[1:]}
        starts = self.bar_starts
        velocity, i, notes = None, 0, self.notes
        for bar in range(len(starts) - 1):
            line, pos = ["Bar"], -1
            if bar in changes:
                line.append(changes[bar])
            while i < len(notes) and notes[i].start < starts[bar + 1]:
                note = notes[i]
                if note.start - starts[bar] != pos:
                    pos = note.start - starts[bar]
                    line.append(f"Pos_{pos}")
                if note.velocity != velocity:
                    velocity = note.velocity
                    line.append(f"Vel_{velocity}")
                line += [f"{'Drum' if note.drum else 'Pitch'}_{note.pitch}", f"Dur_{note.duration}"]
                i += 1
            lines.append(" ".join(line))
        return "\n".join(lines) + "\n"

    @property
    def text_without_number(self) -> str:
        """A MIDI piece has no number: its text (a transposed copy: its original's) is its identity."""
        return self.origin or self.text

    def transposed(self, semitones: int) -> "MidiPiece | None":
        """The piece `semitones` higher (lower when negative; drums stay), or None when a note would leave 0..127."""
        pitches = [n.pitch + (0 if n.drum else semitones) for n in self.notes]
        if not pitches or min(pitches) < 0 or max(pitches) > 127:
            return None
        notes = tuple(GridNote(n.start, p, n.duration, n.velocity, n.drum) for n, p in zip(self.notes, pitches))
        return MidiPiece(notes, self.meters, self.qpm, self.title, self.origin or self.text)

    @property
    def end(self) -> int:
        """Where the piece ends, in steps (the end of its last bar)."""
        return self.bar_starts[-1]

    def events(self) -> list[NoteEvent]:
        """The notes as timed note events (whole notes), for the renderers."""
        return [NoteEvent(Fraction(n.start, STEPS_PER_WHOLE), Fraction(n.duration, STEPS_PER_WHOLE), n.pitch, n.velocity)
                for n in self.notes]


def normal_piece(notes: list[GridNote], meters: list[tuple[int, int, int]], qpm: float, title: str = "") -> MidiPiece:
    """The normal form of some notes: sorted, one note per pitch at a time, capped, leading empty bars dropped."""
    meters = list(meters) or [(0, 4, 4)]
    best: dict[tuple[int, int], GridNote] = {}
    for n in notes:
        n = GridNote(n.start, n.pitch, min(max(n.duration, 1), MAX_DURATION), quantize_velocity(n.velocity), n.drum)
        key = n.order()
        if key not in best or (n.duration, n.velocity) > (best[key].duration, best[key].velocity):
            best[key] = n
    ordered = sorted(best.values(), key=GridNote.order)
    # Notes of one pitch overlapping: the earlier stops where the later starts.
    following: dict[tuple[bool, int], int] = {}
    cut = []
    for n in reversed(ordered):
        nxt = following.get((n.drum, n.pitch))
        if nxt is not None and n.start + n.duration > nxt:
            n = GridNote(n.start, n.pitch, nxt - n.start, n.velocity, n.drum)
        following[(n.drum, n.pitch)] = n.start
        cut.append(n)
    cut.reverse()
    piece = MidiPiece(tuple(cut), tuple(meters), quantize_tempo(qpm), title)
    if cut:
        # Whole empty bars before the first note say nothing; drop them, keeping the meter they had.
        starts = piece.bar_starts
        skip = sum(1 for s in starts[1:] if s <= cut[0].start)
        if skip:
            shift = starts[skip]
            current = [m for m in meters if m[0] <= skip][-1]
            kept = [(0, *current[1:])] + [(b - skip, n, d) for b, n, d in meters if b > skip]
            moved = tuple(GridNote(n.start - shift, n.pitch, n.duration, n.velocity, n.drum) for n in cut)
            piece = MidiPiece(moved, tuple(kept), piece.qpm, title)
    if len(piece.bar_starts) - 1 > MAX_BARS:
        raise TunesmithError(f"{title or 'piece'}: {len(piece.bar_starts) - 1} bars; at most {MAX_BARS} are read")
    return piece


def piece_from_text(text: str, title: str = "", where: str = "text") -> MidiPiece:
    """The piece a token text describes; TunesmithError with line and column when it breaks the grammar."""
    reader = read_text(text, where)
    return MidiPiece(tuple(sorted(reader.notes, key=GridNote.order)), tuple(reader.meters), reader.qpm, title)


# -- MIDI files ---------------------------------------------------------------

def snap_meters(signatures: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """(step, num, den) time signatures -> (bar, num, den), each moved to the nearest bar line."""
    meters: list[tuple[int, int, int]] = []
    origin_bar, origin_step, length = 0, 0, bar_steps(4, 4)
    for step, num, den in sorted(signatures):
        steps = bar_steps(num, den)
        if steps is None:
            continue  # e.g. 7/32: not on the grid; the meter before it goes on
        bar = origin_bar + round((step - origin_step) / length)
        if meters and meters[-1][0] == bar:
            meters.pop()
        if not meters or meters[-1][1:] != (num, den):
            meters.append((bar, num, den))
        origin_bar, origin_step, length = bar, origin_step + (bar - origin_bar) * length, steps
    if not meters or meters[0][0] != 0:
        meters.insert(0, (0, 4, 4))
    return meters


def piece_from_midi(data: bytes, name: str, title: str = "", drums: bool = False) -> MidiPiece:
    """Read a Standard MIDI File's bytes (drum tracks only with `drums`); TunesmithError naming `name` when unusable."""
    from symusic import Score

    if not data:
        raise TunesmithError(f"{name}: the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise TunesmithError(f"{name}: {len(data) / 2**20:.1f} MB is too large for a MIDI piece "
                             f"(the limit is {MAX_FILE_BYTES // 2**20} MB)")
    if data[:4] != b"MThd":
        raise TunesmithError(f"{name}: not a MIDI file (a Standard MIDI File starts with 'MThd')")
    try:
        score = Score.from_midi(data)
    except Exception as exc:  # symusic raises RuntimeError/ValueError for every kind of damage
        raise TunesmithError(f"{name}: corrupt MIDI file ({exc})") from None
    tpq = score.ticks_per_quarter
    if tpq <= 0:
        raise TunesmithError(f"{name}: corrupt MIDI file (ticks per quarter note is {tpq})")
    notes: list[GridNote] = []
    left_out = 0
    for track in score.tracks:
        if track.is_drum and not drums:
            left_out += track.note_num()
            continue
        arrays = track.notes.numpy()
        starts = [round(t * STEPS_PER_BEAT / tpq) for t in arrays["time"].tolist()]
        ends = [round((t + d) * STEPS_PER_BEAT / tpq)
                for t, d in zip(arrays["time"].tolist(), arrays["duration"].tolist())]
        for s, e, p, v in zip(starts, ends, arrays["pitch"].tolist(), arrays["velocity"].tolist()):
            if v > 0 and 0 <= p <= 127:
                notes.append(GridNote(s, p, e - s, v, track.is_drum))
    if not notes:
        raise TunesmithError(f"{name}: only drum notes, which the MIDI mode leaves out unless asked "
                             f"(--corpus FOLDER+drums)" if left_out else f"{name}: the MIDI file has no notes")
    signatures = [(round(ts.time * STEPS_PER_BEAT / tpq), ts.numerator, ts.denominator)
                  for ts in score.time_signatures]
    qpm = score.tempos[0].qpm if len(score.tempos) else DEFAULT_QPM  # later tempo changes are not kept
    return normal_piece(notes, snap_meters(signatures), qpm, title)


def read_midi(path: Path, title: str | None = None, drums: bool = False) -> MidiPiece:
    """A MIDI file as a piece (titled by its file name); TunesmithError naming the file when unusable."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:  # refuse before reading 50 MB into memory
            raise TunesmithError(f"{path}: {size / 2**20:.1f} MB is too large for a MIDI piece "
                                 f"(the limit is {MAX_FILE_BYTES // 2**20} MB)")
        data = path.read_bytes()
    except OSError as exc:
        raise TunesmithError(f"{path}: cannot read ({exc.strerror})") from None
    return piece_from_midi(data, str(path), path.stem if title is None else title, drums)


def midi_bytes(piece: MidiPiece, qpm: float | None = None, program: int = 0) -> bytes:
    """A type-1 Standard MIDI File of the piece: one piano track (or `program`), drums on a track of their own."""
    from symusic import Note, Score, Tempo, TimeSignature, Track

    score = Score(STEPS_PER_BEAT * TICKS_PER_STEP)
    score.tempos.append(Tempo(0, qpm=float(qpm or piece.qpm)))
    starts = piece.bar_starts
    for bar, num, den in piece.meters:
        score.time_signatures.append(TimeSignature(starts[bar] * TICKS_PER_STEP, num, den))
    tracks = {False: Track("tunesmith", program, False), True: Track("drums", 0, True)}
    for n in piece.notes:
        tracks[n.drum].notes.append(Note(n.start * TICKS_PER_STEP, n.duration * TICKS_PER_STEP, n.pitch, n.velocity))
    for track in tracks.values():
        if len(track.notes):
            score.tracks.append(track)
    return score.dumps_midi()
