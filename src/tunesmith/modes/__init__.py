"""Modes by name: abc, midi, tabla. A checkpoint records its mode; `abc` when it does not say.

A new mode is a package `modes/<name>/` whose `MODE` is a `Mode`, and one
line in `MODULES` (see docs/architecture.md).
"""

from __future__ import annotations

import importlib
import importlib.util

from ..errors import TunesmithError
from .base import CheckReport, Generated, GenerateRequest, Mode, OptionSpec, Piece, RewriteRequest, WebTab

# Imported on first use, so that a mode's dependencies are only needed by those who use it.
MODULES = {"abc": "tunesmith.modes.abc", "midi": "tunesmith.modes.midi", "tabla": "tunesmith.modes.tabla"}
DEFAULT_MODE = "abc"


def available_modes() -> list[str]:
    """The modes this installation has."""
    return [name for name, module in MODULES.items() if importlib.util.find_spec(module) is not None]


def get_mode(name: str | None) -> Mode:
    """The mode called `name` (default abc), or a clear error listing the choices."""
    name = name or DEFAULT_MODE
    if name not in available_modes():
        raise TunesmithError(f"--mode: unknown mode {name!r}; choose one of {', '.join(available_modes())}")
    return importlib.import_module(MODULES[name]).MODE


def all_modes() -> list[Mode]:
    """Every mode this installation has, in registry order."""
    return [get_mode(name) for name in available_modes()]


def mode_name(meta: dict) -> str:
    """The name of the mode a checkpoint's config.json (or a run's saved config) names."""
    return meta.get("mode", DEFAULT_MODE)


def mode_of(meta: dict) -> Mode:
    """The mode a checkpoint's config.json names."""
    return get_mode(mode_name(meta))


__all__ = ["CheckReport", "Generated", "GenerateRequest", "Mode", "OptionSpec", "Piece", "RewriteRequest", "WebTab",
           "all_modes", "available_modes", "get_mode", "mode_name", "mode_of"]
