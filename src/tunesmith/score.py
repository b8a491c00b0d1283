"""How likely the model finds a fixed continuation after each of several beginnings: the ranking behind infill.

A left-to-right model cannot look ahead while it writes a gap, but once a
candidate is written it can read what follows the gap after it. The bits it
spends on that fixed continuation (-log2 of its probability) say how well
the candidate leads into it: fewer bits, a better fit. Every candidate is
read in one batched forward pass of the training network; the beginning
they all share is read once when the model carries a state (the RNNs).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .checkpoint import Checkpoint

WARMUP = 2      # newlines before a piece, as in training and sampling (every piece follows a blank line)
ROWS = 32       # candidates read per forward pass (memory: rows x length x vocabulary floats)


def continuation_bits(ckpt: "Checkpoint", heads: list[list[int]], tail: "list[int] | list[list[int]]",
                      shared: int = 0) -> np.ndarray:
    """Bits the model spends on `tail` after each of `heads` (symbol ids, without the warm-up): (len(heads),).

    `tail` is one list of ids for every head, or one per head: the same
    continuation can be spelled differently after different beginnings (a
    MIDI bar repeats its `Vel_` token only when the velocity changed), and
    then each head is scored on its own spelling of it.
    The first `shared` ids are the same in every head. For a model that
    carries a state they are read once; a transformer reads each row whole,
    in the windows its sampler sees (`Transformer.read_long`).
    """
    import torch

    tails = tail if tail and isinstance(tail[0], list) else [tail] * len(heads)
    if len(tails) != len(heads):
        raise ValueError("one tail per head, or one for all")

    model = ckpt.model
    model.eval()
    newline = ckpt.codec.index["\n"]
    if any(head[:shared] != heads[0][:shared] for head in heads):
        raise ValueError("the heads do not share their first `shared` ids")
    out = np.empty(len(heads))
    with torch.inference_mode():
        if model.initial_state(1) is None:  # a transformer: nothing to carry from the shared beginning
            for i, (head, tail) in enumerate(zip(heads, tails)):
                ids = torch.tensor([[newline] * WARMUP + head + tail])
                logits = model.read_long(ids)[0][0]
                out[i] = _bits(logits[WARMUP + len(head) - 1:-1], tail)
            return out
        before, state = model(torch.tensor([[newline] * WARMUP + heads[0][:shared]]))
        last = before[:, -1]                                      # (1, V): predicts the first id after `shared`
        for first in range(0, len(heads), ROWS):
            rows = [head[shared:] + tail for head, tail in zip(heads[first:first + ROWS], tails[first:first + ROWS])]
            width = max(len(r) for r in rows)
            ids = torch.tensor([r + [newline] * (width - len(r)) for r in rows])  # padded after: never read back
            picked = torch.zeros(len(rows), dtype=torch.long)
            logits, _ = model(ids, tuple(s[:, picked] for s in state) if isinstance(state, tuple) else state[:, picked])
            logits = torch.cat([last.expand(len(rows), -1)[:, None], logits], 1)  # position t predicts id t
            for r, (row, tail) in enumerate(zip(rows, tails[first:first + ROWS])):
                begin = len(row) - len(tail)
                out[first + r] = _bits(logits[r, begin:begin + len(tail)], tail)
    return out


def _bits(logits, targets: list[int]) -> float:
    """-log2 of the probability of `targets`, logits (T, V) predicting each of them."""
    import torch

    logp = torch.log_softmax(logits.double(), -1)
    picked = logp[torch.arange(len(targets)), torch.tensor(targets)]
    return float(-picked.sum()) / math.log(2)
