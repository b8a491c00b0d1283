"""A piano roll of a MIDI piece as a PNG: one bar per note, pitch up, time across, bar lines drawn."""

from __future__ import annotations

import io

from ..music.midi import STEPS_PER_BEAT, MidiPiece
from .limits import RenderLimits, check_events, current

_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def check_pianoroll(piece: MidiPiece, limits: RenderLimits | None = None) -> None:
    """Refuse a piece of more notes than `limits` allow (matplotlib draws each: its time grows with them)."""
    check_events(len(piece.notes), current(limits), "the piece")


def pianoroll_png(piece: MidiPiece, title: str = "", width: float = 12.0, height: float = 5.0,
                  limits: RenderLimits | None = None) -> bytes:
    """PNG bytes of the piece's notes (darker is louder; drums in orange), with bar lines and C's marked.

    A piece of more notes than `limits` allow (default: RenderLimits.from_env()) is a RenderLimitError.
    """
    check_pianoroll(piece, limits)
    import matplotlib

    matplotlib.use("Agg")  # no display needed, and no window ever opens
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.subplots()
    beat = STEPS_PER_BEAT
    boxes = [[(n.start / beat, n.pitch - 0.4), ((n.start + n.duration) / beat, n.pitch - 0.4),
              ((n.start + n.duration) / beat, n.pitch + 0.4), (n.start / beat, n.pitch + 0.4)] for n in piece.notes]
    shades = [0.35 + 0.65 * n.velocity / 127 for n in piece.notes]
    colours = [(0.85, 0.45, 0.1, a) if n.drum else (0.1, 0.3, 0.7, a) for n, a in zip(piece.notes, shades)]
    ax.add_collection(PolyCollection(boxes, facecolors=colours,
                                     edgecolors=(0.05, 0.15, 0.35, 1.0), linewidths=0.4))
    for start in piece.bar_starts:
        ax.axvline(start / beat, color="0.75", linewidth=0.6, zorder=0)
    low = min((n.pitch for n in piece.notes), default=60) - 2
    high = max((n.pitch for n in piece.notes), default=72) + 2
    ax.set_xlim(0, piece.end / beat)
    ax.set_ylim(low, high)
    cs = [p for p in range(low, high + 1) if p % 12 == 0]
    ax.set_yticks(cs, [f"{_NAMES[p % 12]}{p // 12 - 1}" for p in cs])
    ax.set_xlabel("beats (quarter notes); grey lines are bar lines")
    ax.set_ylabel("pitch")
    ax.set_title(title or piece.title or "piano roll")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
