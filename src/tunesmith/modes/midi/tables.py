"""A MIDI model's tokens sorted by kind, for the writer's masks, and the masks cached per grammar state."""

from __future__ import annotations

import numpy as np

from ...errors import TunesmithError
from ...music.midi import bar_steps, split_token
from .fidelity import hold_steps


class Tables:
    """A codec's tokens sorted by kind, and a cache of masks per grammar state (shared by a batch)."""

    def __init__(self, codec):
        self.vocab = codec.vocab
        self.newline, self.bar = codec.index["\n"], codec.index.get("Bar")
        kinds: dict[str, list[tuple[int, object]]] = {}
        for i, token in enumerate(codec.vocab):
            if token != "\n":
                kind, value = split_token(token)
                kinds.setdefault(kind, []).append((i, value))
        missing = [k for k in ("Bar", "Tempo", "TS", "Pos", "Vel", "Pitch", "Dur") if k not in kinds]
        kinds.setdefault("Drum", [])  # a model that never saw drums
        if missing:
            raise TunesmithError(f"this MIDI model's vocabulary has no {', '.join(missing)} tokens")

        def table(kind, key=lambda v: v):
            ids = np.array([i for i, _ in kinds[kind]], dtype=int)
            return ids, np.array([key(v) for _, v in kinds[kind]], dtype=int)

        self.tempo = table("Tempo")
        self.ts = table("TS", lambda v: bar_steps(*v) or 0)
        self.pos = table("Pos")
        self.vel = table("Vel")
        self.pitch = table("Pitch")
        self.drum = table("Drum")
        self.dur = table("Dur")
        self.min_dur = int(self.dur[1].min())
        self.cache: dict[tuple, np.ndarray] = {}
        self._closes: dict[int, int | None] = {}

    def last_close(self, bar_len: int) -> int | None:
        """The latest position in a bar of this length where a closing chord fits (None: nowhere).

        A closing chord sounds from its onset to the bar's end, at least `hold_steps`,
        and that length must be one of the model's durations.
        """
        if bar_len not in self._closes:
            durations = set(self.dur[1].tolist())
            fits = [int(p) for p in self.pos[1]
                    if p < bar_len and bar_len - p >= hold_steps(bar_len) and bar_len - p in durations]
            self._closes[bar_len] = max(fits, default=None)
        return self._closes[bar_len]

    def notes(self, last_pitch: int, last_drum: int, held: frozenset[int],
              bass: int | None = None) -> list[np.ndarray]:
        """Pitch and drum ids that may come next at a position: rising, drums after pitches, none still sounding.

        `bass`: the first pitch must have this pitch class (and no drum may come first).
        """
        pitch_ids, pitches = self.pitch
        drum_ids, drums = self.drum
        allowed = (pitches > last_pitch) & ~np.isin(pitches, list(held))
        if bass is not None:
            return [pitch_ids[allowed & (pitches % 12 == bass)]]
        out = [drum_ids[(drums > last_drum) & ~np.isin(-1 - drums, list(held))]]
        if last_drum < 0:
            out.append(pitch_ids[allowed])
        return out

    def allow(self, *groups) -> np.ndarray:
        """A mask allowing the given ids (arrays or single ids)."""
        mask = np.zeros(len(self.vocab), dtype=bool)
        for g in groups:
            mask[g] = True
        return mask

    def nearest_tempo(self, qpm: float) -> int:
        """Id of the model's tempo token nearest to `qpm`."""
        ids, values = self.tempo
        return int(ids[np.abs(values - qpm).argmin()])
