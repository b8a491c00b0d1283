"""`tunesmith vary`: a new setting of a tune, with about the asked share of its bars rewritten by infill."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from ..errors import TunesmithError
from .infill import rewrite, signature


def vary(file: Path, amount: float, **given: Any) -> None:
    """A variation of a tune: the same form and bar count, about --amount of the bars inside its parts rewritten
    (MIDI: of the bars but the first and last; tabla: of the cycles but the first)."""
    if not 0 < amount <= 1:
        raise TunesmithError(f"--amount must be above 0 and at most 1 (got {amount}): the share of bars to rewrite")
    rewrite("vary", file, given, amount=amount)


vary.__signature__ = signature([
    inspect.Parameter("amount", inspect.Parameter.KEYWORD_ONLY, annotation=float, default=typer.Option(
        0.3, help="The share of the bars (tabla: cycles) to rewrite, in (0, 1]. ABC keeps the first and last bar of "
                  "each part, so a tune gets at most the share of bars inside its parts; MIDI keeps the piece's first "
                  "and last bar, tabla its first cycle.")),
])
