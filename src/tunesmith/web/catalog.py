"""Which models the web app offers: the shipped ones and every trained run's best checkpoint.

The folders are scanned on each request (cheap: a few directory listings) so
that a run trained while the server is up shows up without a restart; a
loaded checkpoint is kept until its config.json changes (a run's `best/`
is rewritten whenever it improves).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..checkpoint import CONFIG, Checkpoint, load_checkpoint
from ..errors import TunesmithError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ModelEntry:
    """A model a user can choose: its name in the page and API, and its checkpoint folder."""

    name: str
    path: Path
    description: str


def _describe(config: dict) -> str:
    corpus = ", ".join(config.get("corpus", {}).get("sources", [])) or "?"
    bits = config.get("metrics", {}).get("held_out_bits_per_symbol")
    figure = f", {bits:.3f} held-out bits/symbol" if isinstance(bits, (int, float)) else ""
    return f"{config.get('model', {}).get('cell', '?')} on {corpus}{figure}"


def _read_config(folder: Path) -> dict | None:
    """config.json of a checkpoint folder, or None (not a checkpoint, unreadable)."""
    try:
        config = json.loads((folder / CONFIG).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return config if isinstance(config, dict) else None


@dataclass(frozen=True)
class ModelKind:
    """Which models a page offers: those whose config `accepts` says so, `first` named first."""

    first: str                                # the shipped model listed before the others
    accepts: Callable[[dict], bool]
    describe: Callable[[dict], str]
    noun: str = "model"                       # in messages: "model", "tabla model"
    empty: str = "no models: nothing in"      # how a message starts when there is none


ABC_MODELS = ModelKind("default", lambda c: str(c.get("codec", {}).get("name", "")).startswith("abc"), _describe)
# Every model, of any mode (infill and vary: the model's mode decides), the shipped ABC model first.
ALL_MODELS = ModelKind("default", lambda c: isinstance(c.get("codec"), dict), _describe)


class ModelCatalog:
    """The shipped models (`shipped_dir/<name>`) and trained runs (`runs_dir/<name>/best`), loaded onto `device`."""

    def __init__(self, shipped_dir: Path, runs_dir: Path | None, device: "torch.device | str" = "cpu"):
        self.shipped_dir = Path(shipped_dir)
        self.device = device
        self.runs_dir = Path(runs_dir) if runs_dir is not None else None
        self._lock = threading.Lock()
        self._loaded: dict[Path, tuple[float, Checkpoint]] = {}

    def entries(self, kind: ModelKind = ABC_MODELS) -> list[ModelEntry]:
        """Every model of this kind on offer, shipped ones first (`kind.first` first of all), then runs by name."""
        places: list[tuple[str, Path]] = []
        if self.shipped_dir.is_dir():
            folders = sorted(self.shipped_dir.iterdir(), key=lambda p: (p.name != kind.first, p.name))
            places += [(folder.name, folder) for folder in folders]
        if self.runs_dir is not None and self.runs_dir.is_dir():
            places += [(f"{self.runs_dir.name}/{run.name}", run / "best") for run in sorted(self.runs_dir.iterdir())]
        found = []
        for name, folder in places:
            config = _read_config(folder)
            if config is not None and kind.accepts(config):
                found.append(ModelEntry(name, folder, kind.describe(config)))
        return found

    def find(self, name: str | None, kind: ModelKind = ABC_MODELS) -> ModelEntry:
        """The model with this name (None: the first on offer); an unknown name is the user's error."""
        entries = self.entries(kind)
        if not entries:
            raise TunesmithError(f"{kind.empty} {self.shipped_dir} or {self.runs_dir}; run `make models`")
        if name is None:
            return entries[0]
        for entry in entries:
            if entry.name == name:
                return entry
        raise TunesmithError(f"model {name!r}: no such {kind.noun}; choose one of {', '.join(e.name for e in entries)}")

    def load(self, entry: ModelEntry) -> Checkpoint:
        """The entry's checkpoint, loaded once and reloaded when its config.json changes."""
        try:
            stamp = (entry.path / CONFIG).stat().st_mtime
        except OSError:
            raise TunesmithError(f"model {entry.name!r}: its checkpoint at {entry.path} is gone") from None
        with self._lock:
            cached = self._loaded.get(entry.path)
            if cached is None or cached[0] != stamp:
                self._loaded[entry.path] = (stamp, load_checkpoint(entry.path, self.device))
            return self._loaded[entry.path][1]
