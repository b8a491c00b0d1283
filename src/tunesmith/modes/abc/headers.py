"""Tune headers drawn as the corpus writes them: meter, unit length, rhythm and key together.

A char-RNN writes its header fields one character at a time, and what it
gives each is skewed from the data it learned (the shipped model writes
`M:C|` for 5 % of tunes where the corpus has 22 %, and only five keys).
So the header is drawn from the training tunes' own table of (M, L, R, K)
combinations, conditioned on the fields the user fixed, and the model
writes the title and the music under it. A request the corpus never pairs
(a reel in 3/4) is refused with what the corpus does instead.

The table is made at training time and kept in the checkpoint's corpus
record (`profile`), so generating needs no corpus.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

import numpy as np

from ...errors import TunesmithError
from ...music.abc.tunes import KEY_RE
from .options import Style

FIELDS = ("meter", "length", "rhythm", "key", "origin")
_OPTION = {"meter": "--meter", "length": "--length", "rhythm": "--rhythm", "key": "--key", "origin": "--origin"}


@dataclass(frozen=True)
class HeaderTable:
    """How many training tunes have each (meter, length, rhythm, key, origin).

    Rhythm and origin may be None (no R: or O: line).
    """

    rows: tuple[tuple[tuple[str | None, ...], int], ...]

    @classmethod
    def of_tunes(cls, tunes: Iterable[Any]) -> "HeaderTable":
        """The table of canonical tunes (`music.abc.tunes.Tune`: meter, unit, rhythm, key, origin)."""
        counts = Counter((t.meter, t.unit, t.rhythm, t.key, getattr(t, "origin", None)) for t in tunes)
        return cls(tuple(sorted(counts.items(), key=lambda kv: (-kv[1], tuple(str(v) for v in kv[0])))))

    def to_json(self) -> list[list]:
        """Rows as JSON: [meter, length, rhythm, key, count], with the origin before the count when there is one.

        (A corpus without origins keeps the table a checkpoint has always kept.)
        """
        return [[*row[:4], *([row[4]] if row[4] is not None else []), count] for row, count in self.rows]

    @classmethod
    def from_json(cls, data: Any) -> "HeaderTable | None":
        """A table saved by `to_json` (None when `data` is not one: an older checkpoint)."""
        if not isinstance(data, list) or not data:
            return None
        rows = []
        for item in data:
            if not (isinstance(item, list) and len(item) in (5, 6) and isinstance(item[-1], int) and item[-1] > 0
                    and all(v is None or isinstance(v, str) for v in item[:-1])):
                return None
            rows.append((tuple(item[:4]) + (item[4] if len(item) == 6 else None,), item[-1]))
        return cls(tuple(rows))

    def origins(self) -> list[str]:
        """The origins (O:) of the training tunes, most tunes first."""
        counts: Counter = Counter()
        for row, n in self.rows:
            if row[4] is not None:
                counts[row[4]] += n
        return [origin for origin, _ in counts.most_common()]

    def require_origin(self, origin: str) -> None:
        """Refuse an origin no training tune has, naming the ones the model knows."""
        if any(row[4] == origin for row, _ in self.rows):
            return
        raise TunesmithError(unknown_origin(origin, self.origins()))

    def draw(self, style: Style, rng: np.random.Generator, fits: Callable[[Style], bool] | None = None) -> Style:
        """One full header (`draw_many` with n = 1)."""
        return self.draw_many(style, rng, 1, fits)[0]

    def draw_many(self, style: Style, rng: np.random.Generator, n: int,
                  fits: Callable[[Style], bool] | None = None) -> list[Style]:
        """n full headers: the user's fields as given, the others drawn from tunes that agree with them.

        Drawn by systematic sampling: one uniform offset U, the n points
        (U + i) / n through the headers' cumulative counts, in an order the
        generator shuffles. Each tune's header still follows the corpus's
        distribution exactly, but a batch's mix of keys and meters stays
        within one tune of the corpus's shares (the headers are ordered by
        key, then meter, so each key's count is) instead of scattering as n
        independent draws do (200 independent draws put the key histogram's
        overlap with real tunes anywhere from .85 to .93). One header is the
        draw `rng.choice` would make.

        Rhythm and meter must agree with the corpus (else a TunesmithError
        says what it pairs them with); a unit length or key the corpus does
        not pair with them is kept, and the rest is drawn without it.
        `fits` (e.g. "the primer can start a tune with this header") narrows
        the draw when any header passes it.
        """
        given = {f: getattr(style, f) for f in FIELDS if getattr(style, f)}
        # Only headers a tune may carry: some training tunes have keys the checker does not read (K:Bn).
        rows = [(row, count) for row, count in self.rows if row[3] is None or KEY_RE.match(row[3].replace(" ", ""))]
        if "origin" in given:
            self.require_origin(given["origin"])
        for field in ("origin", "rhythm", "meter", "length", "key"):
            if field not in given:
                continue
            kept = [(row, count) for row, count in rows if _same(field, row[FIELDS.index(field)], given[field])]
            if not kept and field in ("rhythm", "meter") and any(f in given for f in ("rhythm", "meter") if f != field):
                raise TunesmithError(self._contradiction(given))
            rows = kept or rows
        full = [(replace(style, **{f: given.get(f, v) for f, v in zip(FIELDS, row)}), count) for row, count in rows]
        if fits is not None:
            full = [(s, count) for s, count in full if fits(s)] or full
        if n > 1:  # a key's headers side by side: each key's count within one tune of its share (meters close)
            full.sort(key=lambda item: tuple(str(getattr(item[0], f) or "") for f in ("key", "meter", "length",
                                                                                         "rhythm", "origin")))
        counts = np.array([count for _, count in full], dtype=float)
        cdf = (counts / counts.sum()).cumsum()
        cdf /= cdf[-1]
        points = np.array([rng.random()]) if n == 1 else ((rng.random() + np.arange(n)) / n)[rng.permutation(n)]
        return [full[int(i)][0] for i in cdf.searchsorted(points, side="right")]

    def _contradiction(self, given: dict[str, str]) -> str:
        rhythm, meter = given["rhythm"], given["meter"]
        meters = Counter()
        for row, n in self.rows:
            if row[2] == rhythm:
                meters[row[0]] += n
        asked = f"{_OPTION['rhythm']} {rhythm} {_OPTION['meter']} {meter}"
        if not meters:
            return f"{asked}: the model's corpus has no {rhythm}; drop --rhythm or choose another"
        total = sum(meters.values())
        usual = ", ".join(f"{m} ({n / total:.0%})" for m, n in meters.most_common(4))
        return f"{asked}: no {rhythm} of the model's corpus is in {meter}; its {rhythm}s are in {usual}"


def _same(field: str, have: str | None, want: str) -> bool:
    if field == "key":  # K:Ador and K:ADor are one key
        return have is not None and have.lower() == want.lower()
    return have == want


def unknown_origin(origin: str, known: list[str]) -> str:
    """The error for a --origin the model did not learn."""
    if not known:
        return (f"--origin {origin}: this model's training corpus has no origins (no O: lines), so it cannot "
                "write one; train on a corpus with origins (e.g. --corpus essen) or drop --origin")
    return f"--origin {origin}: the model's training corpus has no tunes from {origin}; it knows {', '.join(known)}"


def check_origin(meta: dict, origin: str | None) -> None:
    """Refuse a --origin the checkpoint's header table does not have (a clear error, not a draw that fails)."""
    if not origin:
        return
    table = table_of(meta)
    if table is None:
        raise TunesmithError(unknown_origin(origin, []))
    table.require_origin(origin)


def table_of(meta: dict) -> HeaderTable | None:
    """The header table a checkpoint's config.json keeps (None: a checkpoint from before it was kept)."""
    profile = (meta.get("corpus") or {}).get("profile") or {}
    return HeaderTable.from_json(profile.get("headers"))
