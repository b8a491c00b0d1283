"""The bundled tabla corpus: thekas, kaidas and relas with their paltas, tihais and tukdas.

The compositions are data (themes.txt, tihais.txt) expanded by the rules of
expand.py; users' own files in the tabla notation train the same way.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from ...music.tabla.notation import Composition
from .expand import kaidas, thekas, tihais

CORPORA: dict[str, str] = {
    "tabla": "thekas, kaidas and relas with paltas, tihais and tukdas in 8 talas",
    "tabla-thekas": "the theka of each of the 8 talas",
    "tabla-kaidas": "kaida and rela themes with their paltas (khali halves by rule)",
    "tabla-tihais": "tihais and tukdas landing on sam, in every tala",
}


@lru_cache(maxsize=None)
def _expanded(name: str) -> tuple[Composition, ...]:
    parts = {"tabla-thekas": thekas, "tabla-kaidas": kaidas, "tabla-tihais": tihais}
    chosen = list(parts.values()) if name == "tabla" else [parts[name]]
    return tuple(c for make in chosen for c in make())


def load_bundled(name: str) -> list[Composition]:
    """The compositions of a bundled tabla corpus, numbered from 1."""
    return [replace(c, number=i) for i, c in enumerate(_expanded(name), 1)]
