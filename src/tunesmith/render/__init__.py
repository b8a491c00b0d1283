"""Listen and see: MIDI, WAV and SVG sheet music for a tune or any note events."""

from .audio import events_to_wav, midi_to_wav
from .limits import RenderLimitError, RenderLimits
from .midi import events_to_midi
from .sheet import render_svg
from .tempo import default_qpm
from .tune import render_midi, render_wav

__all__ = ["RenderLimitError", "RenderLimits", "default_qpm", "events_to_midi", "events_to_wav", "midi_to_wav",
           "render_midi", "render_svg", "render_wav"]
