"""What the web app's practice player plays: a tune's notes as played, its bars, beats and accompaniment.

The player (web/static/player.js) synthesises the sound in the browser, so
that tempo, loops, the count-in, the metronome and the chords change with no
request; what needs the tune's notation is worked out here, once per key:

- **Notes**: the events the MIDI and WAV files play (`to_events.tune_parts`,
  repeats expanded, light accents on the strong beats as `render.midi.accent`
  gives them), each with the bar it is written in (numbered as `tunesmith
  check` numbers them: `bar_spans.tune_bars`) and the id of the note drawn
  for it in the score (`notemap.note_map`), which the cursor lights.
- **Bars as played**: each stretch between two bar lines with its time and
  written number; a loop of bars 3-4 plays from the first time bar 3 starts
  to the end of the bar 4 that follows it.
- **Beats**: the metronome's clicks, the first of each bar strong; compound
  meters (6/8, 9/8, 12/8) click dotted quarters, 2/2 and C| halves.
- **Accompaniment**: the tune's chord symbols, or when it has none the ones
  `harmonise` writes for it, played in a pattern for its rhythm: oom-pah
  (bass, chord, alternating bass, chord: four to the bar) for reels,
  hornpipes, polkas and other duple meters; boom-chick-chick on every dotted
  quarter for jigs, slip jigs and slides; oom-pah-pah for waltzes and other
  triple meters; held chords where the meter has no usual pattern (5/4, free).

Times are in whole notes from the start of the music, as in `NoteEvent`; the
player turns them into seconds at the tune's tempo (`render.tempo`) times the
player's tempo factor.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction

from ..errors import TunesmithError
from ..music.events import NoteEvent
from ..music.abc.bar_spans import tune_bars
from ..music.abc.harmonise import NotHarmonisable, has_chord_symbols, harmonise
from ..music.abc.to_events import TuneParts, tune_parts
from ..music.abc.tunes import normalize_rhythm, rhythm_from_title
from ..music.chords import BASS_LOW
from .midi import accent, meter_parts
from .notemap import note_map
from .tempo import default_qpm

MAX_BEATS = 16       # a meter of more beats to the bar (M:33/4) gets no metronome and no count-in
MAX_CLICKS = 50_000  # nor does a tune that would need more clicks than the render limits allow notes
BASS_VELOCITY = 70   # the accompaniment under the melody (melody notes are 80 and more)
CHORD_VELOCITY = 52


@dataclass(frozen=True)
class PlayedBar:
    """One bar as it is played: its written number (None: not a bar `tunesmith check` counts) and its time."""

    number: int | None
    start: Fraction
    end: Fraction


@dataclass(frozen=True)
class Hit:
    """One stroke of an accompaniment pattern: where in the bar, which part plays, how long it lasts."""

    at: Fraction
    part: str        # "bass" or "chord"
    length: Fraction


@dataclass(frozen=True)
class Pattern:
    """How the chords are played in one bar of a meter; `hits` empty: each chord held as written."""

    name: str
    hits: tuple[Hit, ...]


def beats_of(meter: str | None) -> tuple[Fraction, int] | None:
    """(beat, beats in a bar) the metronome counts: 6/8 -> (3/8, 2), C| -> (1/2, 2), 3/4 -> (1/4, 3); None for a
    free meter, or one of more than MAX_BEATS beats."""
    parts = meter_parts(meter)
    if parts is None:
        return None
    num, den = parts
    if num % 3 == 0 and num > 3 and den >= 8:  # compound: dotted beats
        num, beat = num // 3, Fraction(3, den)
    else:
        beat = Fraction(1, den)
    return (beat, num) if num <= MAX_BEATS else None


def pattern_for(meter: str | None) -> Pattern:
    """The accompaniment pattern a meter's dances are played with (see the module's doc)."""
    parts = meter_parts(meter)
    if parts is None:
        return Pattern("held", ())
    num, den = parts
    if num in (6, 9, 12) and den >= 8:  # jigs (6/8), slip jigs (9/8), slides (12/8)
        step = Fraction(1, den)
        hits = [Hit(k * step, "bass" if k % 3 == 0 else "chord", step) for k in range(num)]
        return Pattern("boom-chick-chick", tuple(hits))
    if num == 3:  # waltzes, mazurkas (3/4), 3/2 hornpipes, 3/8
        step = Fraction(1, den)
        return Pattern("oom-pah-pah", tuple(Hit(k * step, "bass" if k == 0 else "chord", step) for k in range(3)))
    if num in (2, 4):  # reels and hornpipes (4/4, C, C|, 2/2), polkas and marches (2/4): four strokes a bar
        step = Fraction(num, den) / 4
        return Pattern("oom-pah", tuple(Hit(k * step, "bass" if k % 2 == 0 else "chord", step) for k in range(4)))
    return Pattern("held", ())


def rhythm_of(abc: str) -> str | None:
    """The rhythm a tune names (R:, else the end of its title), normalised: "reel", "jig", "slip jig"..."""
    fields: dict[str, str] = {}
    for line in abc.splitlines():
        if len(line) > 1 and line[1] == ":" and line[0].isalpha():
            fields.setdefault(line[0], line[2:].strip())
            if line[0] == "K":
                break
    return normalize_rhythm(fields.get("R", "")) or rhythm_from_title(fields.get("T", ""))


def written_bar_starts(text: str) -> list[int]:
    """Where each written bar's music starts in the text (bar n at index n - 1); none for a tune whose bars
    `tunesmith check` does not count (several voices)."""
    try:
        return [bar.start for bar in tune_bars(text).bars]
    except TunesmithError:
        return []


def played_bars(text: str, parts: TuneParts) -> list[PlayedBar]:
    """The bars in the order they are played, each with its written number (see PlayedBar).

    A bar is known by the first note played in it (a repeat jumps back to music with no bar line before
    it); a bar of rests only, by the bar line before it.
    """
    starts = written_bar_starts(text)
    onsets = [e.start for e in parts.melody]
    out: list[PlayedBar] = []
    begin, after = Fraction(0), -1   # the stretch since the last bar line, and that line's offset
    for time, offset in [*parts.bar_lines, (parts.end, None)]:
        if time > begin:
            first = bisect.bisect_left(onsets, begin)
            if first < len(onsets) and onsets[first] < time:
                number = bisect.bisect_right(starts, parts.sources[first])
            else:
                number = bisect.bisect_right(starts, after) + 1  # the first bar whose music starts after the line
            out.append(PlayedBar(number if 0 < number <= len(starts) else None, begin, time))
            begin = time
        if offset is not None:
            after = offset
    return out


def downbeats(bars: list[PlayedBar], bar_length: Fraction) -> list[Fraction]:
    """Where each played bar's first beat falls, so that the beats run on through short bars: a short first
    bar (a pickup) is the end of a bar, a whole bar before its end; a bar after a short one (the pickup
    played again after a repeat's last short bar) goes on with that bar's beats; any other starts afresh."""
    out: list[Fraction] = []
    for i, bar in enumerate(bars):
        if i == 0:
            out.append(bar.end - bar_length if bar.end - bar.start < bar_length else bar.start)
        elif out[-1] + bar_length > bar.start:
            out.append(out[-1])
        else:
            out.append(bar.start)
    return out


def clicks(bars: list[PlayedBar], meter: str | None) -> list[tuple[Fraction, bool]]:
    """The metronome: (time, strong) on every beat of every played bar, strong on the first of each bar;
    none for a meter `beats_of` does not count, or past MAX_CLICKS (a tune of absurd lengths)."""
    counted, length = beats_of(meter), _bar_length(meter)
    if counted is None or length is None or not bars or (bars[-1].end - bars[0].start) / counted[0] > MAX_CLICKS:
        return []
    beat, _ = counted
    out = []
    for bar, first in zip(bars, downbeats(bars, length)):
        k = max(0, -((first - bar.start) // beat))  # the first beat inside the bar (a pickup's are late ones)
        while first + k * beat < bar.end:
            out.append((first + k * beat, k == 0))
            k += 1
    return out


def _bar_length(meter: str | None) -> Fraction | None:
    parts = meter_parts(meter)
    return Fraction(*parts) if parts else None


def chord_spans(accompaniment: list[NoteEvent]) -> list[tuple[Fraction, Fraction, list[int]]]:
    """(start, end, pitches: bass first) of each chord the accompaniment holds, in time order."""
    by_start: dict[tuple[Fraction, Fraction], list[int]] = {}
    for e in accompaniment:
        by_start.setdefault((e.start, e.start + e.duration), []).append(e.pitch)
    return [(start, end, pitches) for (start, end), pitches in sorted(by_start.items())]


def _fifth_below(pitches: list[int]) -> int:
    """The alternating bass note: the chord's fifth above its bass, in the bass register, when the chord has it."""
    bass = pitches[0]
    fifth = (bass + 7) % 12
    if any(p % 12 == fifth for p in pitches[1:]):
        return BASS_LOW + (fifth - BASS_LOW) % 12
    return bass


def accompany(spans: list[tuple[Fraction, Fraction, list[int]]], pattern: Pattern, bars: list[PlayedBar],
              meter: str | None) -> list[tuple[str, NoteEvent]]:
    """The chords played in `pattern` on the played bars, each note with its part ("bass" or "chord"): each
    stroke takes the chord sounding when it falls (none: silent), cut short where that chord ends; a bass
    stroke plays the chord's bass, and the next one, on the same chord, its fifth (oom-pah's alternating
    bass). A held pattern plays the chords as they are held."""
    length = _bar_length(meter)
    if not pattern.hits or length is None:
        return [("chord", NoteEvent(start, end - start, p, CHORD_VELOCITY)) if i else
                ("bass", NoteEvent(start, end - start, p, BASS_VELOCITY))
                for start, end, pitches in spans for i, p in enumerate(pitches)]
    starts = [s[0] for s in spans]
    out: list[tuple[str, NoteEvent]] = []
    for bar, first in zip(bars, downbeats(bars, length)):
        previous = None  # the chord of the bar's last bass stroke: the same chord again alternates to its fifth
        for hit in pattern.hits:
            at = first + hit.at
            if not bar.start <= at < bar.end:
                continue
            i = bisect.bisect_right(starts, at) - 1
            if i < 0 or at >= spans[i][1]:
                continue
            _, end, pitches = spans[i]
            duration = min(hit.length, end - at)
            if hit.part == "bass":
                pitch = _fifth_below(pitches) if previous == i else pitches[0]
                previous = None if previous == i else i
                out.append(("bass", NoteEvent(at, duration, pitch, BASS_VELOCITY)))
            else:
                out.extend(("chord", NoteEvent(at, duration, p, CHORD_VELOCITY)) for p in pitches[1:])
    return out


def chords_for(text: str, parts: TuneParts) -> tuple[list[NoteEvent], str]:
    """The tune's chords as held notes, and where they came from: "symbols", "harmonised", or why there are none."""
    if has_chord_symbols(text):
        return parts.accompaniment, "symbols"
    try:
        return tune_parts(harmonise(text)).accompaniment, "harmonised"
    except NotHarmonisable as exc:
        return [], f"none: {exc}"


def _number(value: Fraction) -> float | int:
    return int(value) if value.denominator == 1 else float(value)


def practice_plan(text: str, svg: str | None, parts: TuneParts) -> dict:
    """Everything the player needs, as JSON (times in whole notes): see the module's doc.

    `parts` is `tune_parts(text)` (read and checked against the render limits by the caller), `svg` the
    engraving of `text` whose note ids the cursor lights (None: a tune that did not engrave, no cursor).
    """
    meter = parts.meter
    links = {link.note.start: link.id for link in note_map(text, svg)} if svg else {}
    bars = played_bars(text, parts)
    numbers = written_bar_starts(text)
    melody = accent(parts.melody, meter, parts.pickup)
    notes = []
    for event, source in zip(melody, parts.sources):
        written = bisect.bisect_right(numbers, source)
        notes.append({"start": _number(event.start), "duration": _number(event.duration), "pitch": event.pitch,
                      "velocity": event.velocity, "bar": written or None, "id": links.get(source)})
    held, chords_from = chords_for(text, parts)
    pattern = pattern_for(meter)
    rhythm = rhythm_of(text)
    counted = beats_of(meter)
    length = _bar_length(meter)
    return {
        "qpm": default_qpm(text), "meter": meter, "rhythm": rhythm,
        "bar": _number(length) if length else None,
        "beat": _number(counted[0]) if counted else None, "beats": counted[1] if counted else None,
        "pickup": _number(parts.pickup), "end": _number(parts.end),
        "notes": notes,
        "bars": [{"number": b.number, "start": _number(b.start), "end": _number(b.end)} for b in bars],
        "clicks": [{"time": _number(t), "strong": strong} for t, strong in clicks(bars, meter)],
        "chords_from": chords_from, "pattern": pattern.name,
        "chords": [{"start": _number(e.start), "duration": _number(e.duration), "pitch": e.pitch,
                    "velocity": e.velocity, "part": part}
                   for part, e in accompany(chord_spans(held), pattern, bars, meter)],
    }
