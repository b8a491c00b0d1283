"""How close a set of MIDI pieces comes to real ones: rhythm, rests, phrase endings, voices, cadences, length.

Each measure is taken per piece, then summarised over a set; histograms are
compared with the overlapped area (histogram intersection, 1 = identical).
What Bach's chorales do (the bundled corpus): five or six note lengths in
16 bars (mostly quarters and eighths, with halves, dotted quarters,
sixteenths and a few longer notes), rests in a few pieces, a held chord
closing a phrase every two to four bars, a soprano between about C4 and G5
over a bass between about E2 and D4, and a last chord let go together (held,
or a quarter then silence), most often with the tonic in the bass.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

from ...insight.metrics import distribution, overlap
from ...music.midi import STEPS_PER_BEAT, GridNote, MidiPiece

WINDOW_BARS = 16      # distinct note lengths are counted in the first 16 bars, as the issue compares them
HOLD_STEPS = 2 * STEPS_PER_BEAT   # a phrase ending holds its chord at least a half note (a chorale's fermata)
GAP_BINS = 8          # bars between phrase endings: 1..7, and 8 or more

# Krumhansl and Kessler's key profiles (major, minor), for the tonic a piece is in.
_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)


def hold_steps(bar_len: int) -> int:
    """How long a chord must sound to close a phrase: a half note, or the whole of a shorter bar."""
    return min(HOLD_STEPS, bar_len)


def closes(onset: int, sounding: list[GridNote], bar_end: int, bar_len: int) -> bool:
    """Does the chord at `onset` close a phrase or the piece, as the chorales end?

    Every note sounding there is let go at once, having sounded at least a beat,
    and the chord with the breath after it fills at least a half note
    (`hold_steps`) before the bar line: a held chord, or a fermata'd quarter
    then silence (the chorales' last bar after a pickup).
    """
    if not sounding:
        return False
    ends = {n.start + n.duration for n in sounding}
    if len(ends) != 1:
        return False
    end = ends.pop()
    return end - onset >= STEPS_PER_BEAT and end <= bar_end and bar_end - onset >= hold_steps(bar_len)


def _correlation(xs: list[float], ys: tuple[float, ...]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    den = (sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys)) ** 0.5
    return num / den if den else 0.0


def tonic(notes: list[GridNote]) -> int | None:
    """The tonic's pitch class of the key the notes are in (Krumhansl-Schmuckler, weighted by length)."""
    weights = [0.0] * 12
    for n in notes:
        if not n.drum:
            weights[n.pitch % 12] += n.duration
    if not any(weights):
        return None
    best = max((_correlation(weights[k:] + weights[:k], profile), k)
                for k in range(12) for profile in (_MAJOR, _MINOR))
    return best[1]


def onset_groups(notes: list[GridNote]) -> list[tuple[int, list[GridNote], list[GridNote]]]:
    """At each onset: (step, the notes starting there, every note sounding there), in time order."""
    starting: dict[int, list[GridNote]] = {}
    for n in notes:
        if not n.drum:
            starting.setdefault(n.start, []).append(n)
    out, active = [], []
    for step in sorted(starting):
        active = [n for n in active if n.start + n.duration > step] + starting[step]
        out.append((step, starting[step], active))
    return out


def is_hold(step: int, sounding: list[GridNote], bar_len: int) -> bool:
    """Does the chord at this onset close a phrase: its top and bottom notes start here and are held."""
    top, bottom = max(sounding, key=lambda n: n.pitch), min(sounding, key=lambda n: n.pitch)
    need = hold_steps(bar_len)
    return all(n.start == step and n.duration >= need for n in (top, bottom))


@dataclass
class PieceShape:
    """What one piece is made of, as the fidelity figures count it."""

    bars: int = 0
    lengths: list[int] = field(default_factory=list)     # every note's length (steps)
    distinct_lengths: int = 0                            # distinct note lengths in the first WINDOW_BARS bars
    rests: list[int] = field(default_factory=list)       # lengths of the silences after the first note
    hold_bars: list[int] = field(default_factory=list)   # bars where a phrase-closing held chord starts
    top: list[int] = field(default_factory=list)         # the highest sounding pitch at each onset
    bottom: list[int] = field(default_factory=list)      # the lowest
    final_held: bool = False                             # the last onset is a closing chord (`closes`)
    ends_on_tonic: bool = False                          # the last onset's bass is the key's tonic

    @property
    def gaps(self) -> list[int]:
        """Bars between one phrase ending and the next, GAP_BINS and more sharing a bin."""
        return [min(b - a, GAP_BINS) for a, b in zip(self.hold_bars, self.hold_bars[1:]) if b > a]


def shape(piece: MidiPiece) -> PieceShape:
    """Measure one piece (its pitched notes)."""
    notes = sorted((n for n in piece.notes if not n.drum), key=GridNote.order)
    starts = piece.bar_starts
    result = PieceShape(bars=len(starts) - 1, lengths=[n.duration for n in notes])
    window_end = starts[min(WINDOW_BARS, len(starts) - 1)]
    result.distinct_lengths = len({n.duration for n in notes if n.start < window_end})
    groups = onset_groups(notes)
    reach = None  # where the sound so far stops
    for step, _, sounding in groups:
        if reach is not None and step > reach:
            result.rests.append(step - reach)
        reach = max(reach or 0, max(n.start + n.duration for n in sounding))
        bar = bisect_right(starts, step) - 1
        result.top.append(max(n.pitch for n in sounding))
        result.bottom.append(min(n.pitch for n in sounding))
        if is_hold(step, sounding, starts[bar + 1] - starts[bar]) and result.hold_bars[-1:] != [bar]:
            result.hold_bars.append(bar)
    if groups:
        step, _, sounding = groups[-1]
        bar = bisect_right(starts, step) - 1
        result.final_held = closes(step, sounding, starts[bar + 1], starts[bar + 1] - starts[bar])
        result.ends_on_tonic = min(n.pitch for n in sounding) % 12 == tonic(notes)
    return result


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0


def summary(shapes: list[PieceShape]) -> dict:
    """A set's figures: note lengths, rests, phrase endings, voice ranges, cadences, length in bars."""
    n = len(shapes) or 1
    gaps = [g for s in shapes for g in s.gaps]
    distinct = [s.distinct_lengths for s in shapes]
    return {
        "pieces": len(shapes),
        "median_distinct_lengths": _median(distinct),
        "distinct_lengths_range": f"{min(distinct)}-{max(distinct)}" if distinct else "-",
        "with_rests": sum(bool(s.rests) for s in shapes) / n,
        "phrase_endings_per_bar": sum(len(s.hold_bars) for s in shapes) / max(1, sum(s.bars for s in shapes)),
        "phrase_gaps_2_to_4": sum(2 <= g <= 4 for g in gaps) / len(gaps) if gaps else 0.0,
        "top_voice": _voice_range([s.top for s in shapes]),
        "bottom_voice": _voice_range([s.bottom for s in shapes]),
        "final_held": sum(s.final_held for s in shapes) / n,
        "ends_on_tonic": sum(s.ends_on_tonic for s in shapes) / n,
        "median_bars": _median([s.bars for s in shapes]),
        "bars_range": f"{min(s.bars for s in shapes)}-{max(s.bars for s in shapes)}" if shapes else "-",
    }


def _voice_range(voices: list[list[int]]) -> str:
    """The median lowest and highest pitch of one voice over the pieces, as MIDI numbers."""
    voices = [v for v in voices if v]
    if not voices:
        return "-"
    return f"{_median([min(v) for v in voices]):g}-{_median([max(v) for v in voices]):g}"


HISTOGRAMS = {
    "note length": lambda s: s.lengths,
    "rest length": lambda s: s.rests,
    "rests per piece": lambda s: [min(len(s.rests), 3)],
    "phrase gap (bars)": lambda s: s.gaps,
    "top voice pitch": lambda s: s.top,
    "bottom voice pitch": lambda s: s.bottom,
    "distinct lengths": lambda s: [s.distinct_lengths],
    "length in bars": lambda s: [min(s.bars // 4 * 4, 48)],
}


def overlaps(shapes: list[PieceShape], real: list[PieceShape]) -> dict[str, float | None]:
    """Histogram intersection of each HISTOGRAMS feature between a set and real pieces."""
    return {name: overlap(distribution(v for s in shapes for v in get(s)), distribution(v for s in real for v in get(s)))
            for name, get in HISTOGRAMS.items()}


def length_shares(shapes: list[PieceShape]) -> dict[int, float]:
    """Share of notes per length (steps), most common first."""
    counts = Counter(v for s in shapes for v in s.lengths)
    total = sum(counts.values()) or 1
    return {k: c / total for k, c in counts.most_common()}
