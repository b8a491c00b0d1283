"""Contiguous streams for stateful training: B long rows, cut into (B, T) windows.

Each epoch the tunes are put in a new order (fixed by seed and epoch), joined
into one text with a blank line after every tune, and that text is cut into B
equal rows. Batch k holds columns [kT, (k+1)T) of every row, so row i of
batch k+1 continues exactly where row i of batch k stopped: the hidden state
can be carried across batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .codecs.base import Codec
from .music.abc.tunes import Tune


def tune_symbols(tune: Tune) -> str:
    """The text a model sees for one tune: the tune and the blank line after it."""
    return tune.text + "\n"


def encode_tunes(codec: Codec, tunes: list[Tune], where: str = "corpus") -> list[torch.Tensor]:
    """One id tensor per tune."""
    return [torch.tensor(codec.encode(tune_symbols(t), where), dtype=torch.long) for t in tunes]


@dataclass
class Streams:
    """Inputs and targets of one epoch, as B contiguous rows."""

    x: torch.Tensor  # (B, N)
    y: torch.Tensor  # (B, N): x shifted by one symbol
    seq: int

    @property
    def batches(self) -> int:
        """Number of (B, T) windows; the last may be shorter."""
        return math.ceil(self.x.shape[1] / self.seq)

    @property
    def symbols(self) -> int:
        """Symbols predicted in one pass over the streams."""
        return self.x.numel()

    def batch(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Window k: (B, T) inputs and targets."""
        sl = slice(k * self.seq, (k + 1) * self.seq)
        return self.x[:, sl], self.y[:, sl]


def make_streams(tune_ids: list[torch.Tensor], batch: int, seq: int, order_seed: int | None) -> Streams:
    """Streams over the tunes, shuffled by `order_seed` (None keeps the order)."""
    order = list(range(len(tune_ids)))
    if order_seed is not None:
        gen = torch.Generator().manual_seed(order_seed)
        order = torch.randperm(len(tune_ids), generator=gen).tolist()
    ids = torch.cat([tune_ids[i] for i in order])
    batch = max(1, min(batch, (len(ids) - 1) // max(seq, 1)))
    row = (len(ids) - 1) // batch
    x = ids[: batch * row].view(batch, row)
    y = ids[1 : batch * row + 1].view(batch, row)
    return Streams(x, y, seq)


def epoch_seed(seed: int, epoch: int) -> int:
    """The data-order seed of one epoch of a run."""
    return seed * 100_003 + epoch
