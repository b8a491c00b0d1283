"""Tune forms: the parts a tune is made of, how long each is, and whether it is played twice.

A form is a sequence of parts, each (bars, repeated): AABB with 8-bar parts
is ((8, True), (8, True)), the form of 38 % of the folk corpus; AB with
4 + 8 bars is ((4, True), (8, False)). Users write it as `--form AABB
--part-bars 8` (a doubled letter is a repeated part; `--part-bars 4,8` gives
each part its own length); by default a form is drawn from the training
tunes with the tune's meter (and rhythm). The forms table is made at
training time with the header table and kept in the checkpoint.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable

import numpy as np

from ...errors import TunesmithError
from ...music.abc.bars import read_bars

Form = tuple[tuple[int, bool], ...]
MAX_PART_BARS = 32
MAX_PARTS = 6
_FORM_RE = re.compile(r"(?:([A-Z])\1?)+")


def form_of(text: str) -> Form | None:
    """A tune's form from its bars: parts end at repeat closes and section lines (None: no meter)."""
    bars = read_bars(text)
    if not bars or bars[0].expected is None or bars[0].expected <= 0:
        return None
    expected = bars[0].expected
    parts, time = [], Fraction(0)
    for bar in bars:
        time += bar.duration
        closing = bar.closing
        if closing.startswith(":") or closing in ("||", "|]", "[|"):
            parts.append((round(time / expected), closing.startswith(":")))
            time = Fraction(0)
    if time:
        parts.append((round(time / expected), False))
    return tuple(parts)


def usable(form: Form) -> bool:
    """A form the writer can build: 1 to MAX_PARTS parts of 2 to MAX_PART_BARS bars."""
    return 1 <= len(form) <= MAX_PARTS and all(2 <= bars <= MAX_PART_BARS for bars, _ in form)


def form_text(form: Form) -> str:
    """AABB-style letters and the part lengths: "AABB, 8+8 bars"."""
    letters = "".join(chr(65 + i) * (2 if repeated else 1) for i, (_, repeated) in enumerate(form))
    return f"{letters}, {'+'.join(str(b) for b, _ in form)} bars"


def parse_form(form: str, part_bars: str | None) -> Form:
    """`--form AABB --part-bars 8` (or 4,8: one length per part) as a Form; a clear error otherwise."""
    letters = form.strip().upper()
    if not _FORM_RE.fullmatch(letters):
        raise TunesmithError(f"--form {form!r}: write the parts as letters, a doubled letter for a repeated part "
                             "(AABB, AB, AABBCC, AAB), or none")
    parts = [(m.group(0), len(m.group(0)) == 2) for m in re.finditer(r"([A-Z])\1?", letters)]
    if [p[0][0] for p in parts] != [chr(65 + i) for i in range(len(parts))]:
        raise TunesmithError(f"--form {form!r}: name the parts A, B, C ... in order")
    lengths = [8] * len(parts)
    if part_bars:
        try:
            given = [int(v) for v in part_bars.split(",")]
        except ValueError:
            raise TunesmithError(f"--part-bars {part_bars!r}: a number of bars, or one per part (4,8)") from None
        if len(given) not in (1, len(parts)):
            raise TunesmithError(f"--part-bars {part_bars!r}: one length, or one per part ({len(parts)})")
        lengths = given * len(parts) if len(given) == 1 else given
    built = tuple((bars, repeated) for bars, (_, repeated) in zip(lengths, parts))
    if not usable(built):
        raise TunesmithError(f"--form {form} --part-bars {part_bars}: at most {MAX_PARTS} parts of 2 to "
                             f"{MAX_PART_BARS} bars")
    return built


@dataclass(frozen=True)
class FormTable:
    """How many training tunes have each form, by meter and rhythm."""

    rows: tuple[tuple[str | None, str | None, Form, int], ...]

    @classmethod
    def of_tunes(cls, tunes: Iterable[Any]) -> "FormTable":
        """The table of canonical tunes (text, meter, rhythm); tunes whose form the writer cannot build are left out."""
        counts = Counter()
        for tune in tunes:
            form = form_of(tune.text)
            if form is not None and usable(form):
                counts[tune.meter, tune.rhythm, form] += 1
        return cls(tuple((m, r, f, n) for (m, r, f), n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))))

    def to_json(self) -> list[list]:
        """Rows as JSON: [meter, rhythm, form as "8r 8r" (bars, r when repeated), count]."""
        return [[m, r, " ".join(f"{b}{'r' if rep else ''}" for b, rep in f), n] for m, r, f, n in self.rows]

    @classmethod
    def from_json(cls, data: Any) -> "FormTable | None":
        """A table saved by `to_json` (None when `data` is not one: an older checkpoint)."""
        if not isinstance(data, list) or not data:
            return None
        try:
            rows = tuple((m, r, tuple((int(p.rstrip("r")), p.endswith("r")) for p in f.split()), int(n))
                         for m, r, f, n in data)
        except (TypeError, ValueError, AttributeError):
            return None
        return cls(rows)

    def draw(self, meter: str | None, rhythm: str | None, rng: np.random.Generator) -> Form:
        """A form of the training tunes with this meter and rhythm (else this meter, else any)."""
        for keep in (lambda m, r: m == meter and r == rhythm, lambda m, r: m == meter, lambda m, r: True):
            rows = [(f, n) for m, r, f, n in self.rows if keep(m, r)]
            if rows:
                counts = np.array([n for _, n in rows], dtype=float)
                return rows[int(rng.choice(len(rows), p=counts / counts.sum()))][0]
        return ((8, True), (8, True))


def table_of(meta: dict) -> FormTable | None:
    """The forms table a checkpoint's config.json keeps (None: a checkpoint from before it was kept)."""
    profile = (meta.get("corpus") or {}).get("profile") or {}
    return FormTable.from_json(profile.get("forms"))
