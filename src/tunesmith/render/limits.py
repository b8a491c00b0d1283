"""How much one render may ask for, and the checks made before anything large is allocated.

A tune can ask for any length (`C` and a dozen nines is 10^12 whole notes;
`L:1/1` at `Q:1/4=2` makes every note two minutes), a MIDI file can claim
any duration, a tabla composition any tempo, and a tune's text any size.
Audio costs memory by the second (44,100 samples a second), MIDI and the
piano roll time by the note, verovio time by the character. So every
renderer first measures what it is asked for, in exact arithmetic, and
refuses with a `RenderLimitError` naming the limit, the value and how to
change it, before it allocates or writes anything.

The defaults are far above any real folk tune (the longest of the 4,399 in
the bundled corpus has 2,050 characters and plays in about two minutes)
and keep one render's memory to a few hundred MB. Each can be changed with
an environment variable (read at every render, so it also works for
`generate --render` and the web server), and `tunesmith render --max-seconds`
sets the first. See docs/robustness.md.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Mapping

from ..errors import TunesmithError
from ..music.events import NoteEvent

# The environment variable of each limit; the name is what a refusal tells the user to change.
ENV = {
    "max_seconds": "TUNESMITH_MAX_SECONDS",
    "max_note_seconds": "TUNESMITH_MAX_NOTE_SECONDS",
    "max_events": "TUNESMITH_MAX_EVENTS",
    "max_voice_seconds": "TUNESMITH_MAX_VOICE_SECONDS",
    "max_chars": "TUNESMITH_MAX_RENDER_CHARS",
    "max_svg_chars": "TUNESMITH_MAX_SVG_CHARS",
    "max_midi_bytes": "TUNESMITH_MAX_MIDI_BYTES",
    "max_grid_digits": "TUNESMITH_MAX_GRID_DIGITS",
}


@dataclass(frozen=True)
class RenderLimits:
    """What one piece may ask of a renderer (MIDI, WAV, SVG, piano roll, tabla audio).

    max_seconds: how long a piece may play, in seconds (20 minutes; audio is 44,100 samples a second).
    max_note_seconds: the longest one note or rest may be, in seconds.
    max_events: notes in a piece (melody and accompaniment; tabla strokes; MIDI notes).
    max_voice_seconds: seconds a WAV's notes sound added up (a chord of four notes for 10 s is 40 s): the
        synthesiser's time grows with them, not with the length of the piece (21-note chords of 80 different
        lengths, 20 minutes, took 4.5 minutes). A melody and four-note chords through 20 minutes is 6,000.
    max_chars: characters of one tune's ABC text, checked before it is read.
    max_svg_chars: characters of a tune engraved as sheet music (verovio takes ~0.6 ms a character).
    max_midi_bytes: bytes of a MIDI file played as audio, checked before it is parsed.
    max_grid_digits: digits of the finest division of a whole note a tune's lengths, tuplets, units and
        meters can need, checked before it is read: exact time sums cost by the size of their denominators,
        so a few thousand notes of different odd lengths (`c/999983 c/999979 ...`) took minutes. Real tunes
        need under 10 digits.
    """

    max_seconds: float = 1200.0
    max_note_seconds: float = 120.0
    max_events: int = 50_000
    max_voice_seconds: float = 7200.0
    max_chars: int = 100_000
    max_svg_chars: int = 20_000
    max_midi_bytes: int = 1 << 20
    max_grid_digits: int = 100

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise TunesmithError(f"{self.where(f.name)}: {value!r} is not a positive number (a render limit)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "RenderLimits":
        """The defaults, changed by the TUNESMITH_MAX_* variables set in `environ` (default: os.environ),
        then by `overrides`.

        An override of None is ignored (an option the user did not give).
        """
        environ = os.environ if environ is None else environ
        given: dict[str, float | int] = {}
        for f in fields(cls):
            text = environ.get(ENV[f.name], "").strip()
            if text:
                given[f.name] = _number(ENV[f.name], text, integer=f.type == "int")
        given.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**given)

    def where(self, name: str) -> str:
        """How the user changes limit `name`, for messages: the variable (and the option where there is one)."""
        option = " or --max-seconds" if name == "max_seconds" else ""
        return f"{ENV[name]}{option}"


def _number(variable: str, text: str, integer: bool) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise TunesmithError(f"{variable}={text!r}: not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise TunesmithError(f"{variable}={text!r}: a render limit is a positive number")
    return int(value) if integer else value


def current(limits: RenderLimits | None) -> RenderLimits:
    """`limits`, or the defaults as the environment sets them when None."""
    return limits if limits is not None else RenderLimits.from_env()


class RenderLimitError(TunesmithError):
    """A piece asks for more than a render limit allows: too long, too many notes, too large.

    `limit` is the RenderLimits field that refused it (None for a batch refused for several tunes).
    The web answers 413.
    """

    status = 413

    def __init__(self, message: str, limit: str | None = None):
        super().__init__(message)
        self.limit = limit


def seconds_text(seconds: Fraction | float) -> str:
    """A duration for a message, at any size: 1200 -> "1200 s", 2.5e11 s, 7.3 h; never an OverflowError."""
    try:
        value = float(seconds)
    except OverflowError:  # a Fraction past 1.8e308: say how many digits
        whole = int(seconds)
        return f"about 10^{len(str(whole)) - 1} s"
    if value >= 1e7:
        return f"{value:.2g} s"
    if value >= 7200:
        return f"{value:.0f} s ({value / 3600:.1f} h)"
    return f"{value:.4g} s"


def check_chars(text: str, limits: RenderLimits, what: str = "the tune") -> None:
    """Refuse a text longer than `max_chars`, before it is read."""
    if len(text) > limits.max_chars:
        raise RenderLimitError(f"{what} has {len(text)} characters; a render takes at most {limits.max_chars} "
                               f"({limits.where('max_chars')})", "max_chars")


def check_svg_chars(text: str, limits: RenderLimits, what: str = "the tune") -> None:
    """Refuse a tune longer than `max_svg_chars` before it is sent to verovio (its time grows with the text)."""
    if len(text) > limits.max_svg_chars:
        raise RenderLimitError(f"{what} has {len(text)} characters; sheet music is engraved for at most "
                               f"{limits.max_svg_chars} ({limits.where('max_svg_chars')})", "max_svg_chars")


def check_grid(grid: int, limits: RenderLimits, what: str = "the tune") -> None:
    """Refuse a tune whose times need a finer grid than 10^max_grid_digits parts of a whole note."""
    if grid >= 10 ** limits.max_grid_digits:
        raise RenderLimitError(f"{what} divides a whole note into more than 10^{limits.max_grid_digits} parts "
                               "(note lengths, tuplets and units of many different denominators), more finely than "
                               f"a render takes ({limits.where('max_grid_digits')})", "max_grid_digits")


def check_midi_bytes(size: int, limits: RenderLimits, what: str = "the MIDI file") -> None:
    """Refuse a MIDI file larger than `max_midi_bytes`, before it is parsed."""
    if size > limits.max_midi_bytes:
        raise RenderLimitError(f"{what} has {size} bytes; audio is made of at most {limits.max_midi_bytes} "
                               f"({limits.where('max_midi_bytes')})", "max_midi_bytes")


def check_events(count: int, limits: RenderLimits, what: str = "the tune", unit: str = "notes") -> None:
    """Refuse a piece of more than `max_events` notes (or strokes)."""
    if count > limits.max_events:
        raise RenderLimitError(f"{what} has {count} {unit}; a render takes at most {limits.max_events} "
                               f"({limits.where('max_events')})", "max_events")


def check_seconds(seconds: Fraction | float, limits: RenderLimits, what: str = "the tune") -> None:
    """Refuse a piece that plays longer than `max_seconds` (compared exactly: a Fraction may be any size)."""
    if seconds > Fraction(limits.max_seconds):
        raise RenderLimitError(f"{what} lasts {seconds_text(seconds)}; a render may last at most "
                               f"{seconds_text(limits.max_seconds)} ({limits.where('max_seconds')})", "max_seconds")


def check_voices(seconds: float, limits: RenderLimits, what: str = "the tune") -> None:
    """Refuse a WAV whose notes sound for more than `max_voice_seconds` added up."""
    if seconds > limits.max_voice_seconds:
        raise RenderLimitError(f"{what}'s notes sound for {seconds_text(seconds)} added up (a chord counts each of its "
                               f"notes); audio is made of at most {seconds_text(limits.max_voice_seconds)} of notes "
                               f"({limits.where('max_voice_seconds')})", "max_voice_seconds")


def check_note(seconds: Fraction | float, at: Fraction | float, limits: RenderLimits, kind: str = "a note") -> None:
    """Refuse one note or rest (`kind`) longer than `max_note_seconds`; `at` is where it starts, in seconds."""
    if seconds > Fraction(limits.max_note_seconds):
        raise RenderLimitError(f"{kind} at {seconds_text(at)} lasts {seconds_text(seconds)}; one note or rest may "
                               f"last at most {seconds_text(limits.max_note_seconds)} "
                               f"({limits.where('max_note_seconds')})", "max_note_seconds")


def check_note_events(melody: list[NoteEvent], accompaniment: list[NoteEvent], end: Fraction, whole: Fraction,
                      limits: RenderLimits, what: str = "the tune") -> None:
    """Refuse timed notes (a melody and its accompaniment, ending at `end` or their last note, a whole note
    lasting `whole` seconds) that are too many, too long in all, or hold one note or rest too long.

    Exact fractions throughout: a written length may be 10^12 whole notes, which no float sum would keep.
    One pass over the notes, each end computed once (a Fraction sum costs microseconds; a tune may have
    50,000 notes).
    """
    check_events(len(melody) + len(accompaniment), limits, what)
    zero = Fraction(0)
    reach = zero                           # where every melody note so far has ended
    longest, longest_at = zero, zero       # the longest note
    rest, rest_at = zero, zero             # the melody's longest silence
    for e in sorted(melody, key=lambda e: e.start):  # in playing order already: a linear sort
        if e.start - reach > rest:
            rest, rest_at = e.start - reach, reach
        if e.duration > longest:
            longest, longest_at = e.duration, e.start
        stop = e.start + e.duration
        if stop > reach:
            reach = stop
    last = max(reach, end)
    for e in accompaniment:
        if e.duration > longest:
            longest, longest_at = e.duration, e.start
        last = max(last, e.start + e.duration)
    check_seconds(last * whole, limits, what)
    check_note(longest * whole, longest_at * whole, limits)
    if last - reach > rest:
        rest, rest_at = last - reach, reach
    check_note(rest * whole, rest_at * whole, limits, "a rest")
