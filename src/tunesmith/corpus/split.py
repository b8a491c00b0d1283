"""Split a corpus into training and held-out tunes, by tune, deterministically."""

from __future__ import annotations

import hashlib

from ..music.abc.tunes import Tune

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
