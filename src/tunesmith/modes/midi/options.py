"""The MIDI mode's own generation options: how long a piece is, its tempo, an opening to continue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..base import option

RENDERS = ("midi", "wav", "pianoroll")  # what --render can add beside the MIDI file


@dataclass(frozen=True)
class MidiOptions:
    """What a MIDI piece is asked to be (None: the model decides)."""

    primer_file: Path | None = option(None, "a MIDI file whose opening the piece continues.")
    bars: int | None = option(None, "stop after N bars.", label="Bars", minimum=1, step="1")
    seconds: float | None = option(None, "stop after S seconds.", label="Seconds", minimum=1, maximum=3600)
    tempo: float | None = option(None, "beats per minute.", label="Tempo (beats a minute)", minimum=20, maximum=400)
