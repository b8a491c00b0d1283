"""Tabla: bols, talas, the composition notation and its checker, and stroke timing (no torch here)."""

from .bols import BOLS, COMPOUNDS, KHALI, SILENCE, STROKES, has_bayan_open_matra, khali, normalise, suggest
from .notation import (Composition, Matra, Problem, Reading, compositions_in_file, cycle_text, matra_text,
                       parse_matras, read_file, read_text, theka)
from .talas import CORPUS_TALAS, TALAS, Tala, find_tala, get_tala
from .timing import Hit, Schedule, hits, layakari_hits

__all__ = [
    "BOLS", "COMPOUNDS", "CORPUS_TALAS", "KHALI", "SILENCE", "STROKES", "TALAS", "Composition", "Hit", "Matra", "Problem",
    "Reading", "Schedule", "Tala", "compositions_in_file", "cycle_text", "find_tala", "get_tala", "has_bayan_open_matra", "hits",
    "khali", "layakari_hits",
    "matra_text", "normalise", "parse_matras", "read_file", "read_text", "suggest", "theka",
]
