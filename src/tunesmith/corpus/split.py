"""Split a corpus into training and held-out tunes, by tune, deterministically (a seeded share for fine-tuning)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..music.abc.tunes import Tune

if TYPE_CHECKING:
    from ..codecs.base import Codec

HELD_OUT_PER_MILLE = 50  # 5 %


def _bucket(tune: Tune) -> int:
    digest = hashlib.sha256(tune.text_without_number.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 1000


def split_tunes(tunes: list[Tune]) -> tuple[list[Tune], list[Tune]]:
    """(train, held_out): a tune is held out when its content hash says so.

    A hash of the tune's own text (not its position) keeps a tune on the same
    side when the corpus grows. With two or more tunes at least one is held out.
    """
    buckets = [_bucket(t) for t in tunes]
    held = [i for i, b in enumerate(buckets) if b < HELD_OUT_PER_MILLE]
    if not held and len(tunes) >= 2:
        held = [min(range(len(tunes)), key=buckets.__getitem__)]
    held_set = set(held)
    train = [t for i, t in enumerate(tunes) if i not in held_set]
    return train, [tunes[i] for i in held]


@dataclass(frozen=True)
class Split:
    """A seeded held-out share, for a small corpus of the user's own tunes (fine-tuning).

    The 5 % content-hash split suits thousands of tunes; of a user's 50 it
    would hold out two or three, too few to measure anything on. Here
    `held_out` of them are held out, drawn by `seed` (each tune's text hashed
    with the seed: neither file order nor numbering moves a tune to the other
    side). With `codec`, only the tunes that codec can spell are kept: a
    fine-tuned model keeps the vocabulary it was trained with.
    """

    held_out: float
    seed: int = 0
    codec: "Codec | None" = None

    def record(self) -> dict:
        """What a checkpoint's config.json keeps, to split the corpus again the same way."""
        return {"held_out_share": self.held_out, "seed": self.seed, "only_readable": self.codec is not None}

    @classmethod
    def from_record(cls, record: dict | None, codec: "Codec | None") -> "Split | None":
        """The split a config.json recorded (None: the 5 % content-hash split), with the model's codec."""
        if not record:
            return None
        return cls(float(record["held_out_share"]), int(record["seed"]), codec if record.get("only_readable") else None)

    def readable(self, tunes: list) -> tuple[list, list]:
        """(the tunes the codec can spell, the others); all of them when there is no codec."""
        if self.codec is None:
            return list(tunes), []
        kept, dropped = [], []
        for tune in tunes:
            (dropped if self.codec.unknown(tune.text) else kept).append(tune)
        return kept, dropped

    def apply(self, tunes: list) -> tuple[list, list]:
        """(train, held_out): round(share x n) tunes held out, at least one on each side; each side in corpus order."""
        count = min(len(tunes) - 1, max(1, round(self.held_out * len(tunes))))
        keys = [hashlib.sha256(f"{self.seed}\n{t.text_without_number}".encode()).digest() for t in tunes]
        held = set(sorted(range(len(tunes)), key=keys.__getitem__)[:count])
        return [t for i, t in enumerate(tunes) if i not in held], [t for i, t in enumerate(tunes) if i in held]
