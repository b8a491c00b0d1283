"""What the network predicts and what its neurons do, symbol by symbol.

A piece is read the way the sampler writes one: from a zero state, after two
newlines (every piece in training follows a blank line), then the piece and
the blank line that ends it. Neurons are found by correlating every hidden
unit of every layer with structure features (measures.py) over many pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..checkpoint import Checkpoint
from ..models.engine import device_of
from .measures import Measures, symbol_features

WARMUP = 2  # newlines read before a piece
BATCH = 16


@dataclass
class Reading:
    """One piece as the network read it."""

    symbols: list[str]     # (T,) the piece's symbols, ending with the blank line's newline
    probs: np.ndarray      # (T, V) probability of each next symbol after reading symbol t
    hidden: np.ndarray     # (L, T, H) each layer's output after reading symbol t


@dataclass(frozen=True)
class Finding:
    """A neuron whose activation follows a structure feature."""

    layer: int        # 1-based
    neuron: int       # 0-based
    feature: str
    label: str
    r: float          # Pearson correlation over the symbols where the feature is defined
    n: int            # how many symbols that was

    def describe(self) -> str:
        """One line for people: where the neuron is, how strongly, and what it tracks."""
        return f"layer {self.layer} neuron {self.neuron}: r = {self.r:+.2f} with {self.label} (over {self.n:,} symbols)"


def piece_ids(ckpt: Checkpoint, text: str, where: str = "text") -> list[int]:
    """Ids of a piece and the blank line after it (as in training)."""
    text = text if text.endswith("\n") else text + "\n"
    return ckpt.codec.encode(text + "\n", where)


def _run(ckpt: Checkpoint, batch_ids: list[list[int]]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Logits (B, T, V) and hidden [(B, T, H)] * L of padded pieces, warm-up dropped."""
    newline = ckpt.codec.index["\n"]
    longest = max(len(ids) for ids in batch_ids)
    # Padding goes after each piece: a causal network's earlier outputs do not see it.
    rows = [[newline] * WARMUP + ids + [newline] * (longest - len(ids)) for ids in batch_ids]
    with torch.inference_mode():
        logits, _, hidden = ckpt.model.forward_with_hidden(torch.tensor(rows, device=device_of(ckpt.model)))
    # Back on the CPU (in float32: mps has no float64) for numpy and the correlations.
    return logits[:, WARMUP:].cpu(), [h[:, WARMUP:].cpu() for h in hidden]


def read_piece(ckpt: Checkpoint, ids: list[int]) -> Reading:
    """Next-symbol probabilities and every layer's activations along one piece."""
    ckpt.model.eval()
    logits, hidden = _run(ckpt, [ids])
    probs = torch.softmax(logits[0].double(), -1).numpy()
    return Reading([ckpt.codec.vocab[i] for i in ids], probs, torch.stack([h[0] for h in hidden]).numpy())


def read_attention(ckpt: Checkpoint, ids: list[int], layer: int, head: int) -> np.ndarray:
    """A transformer head's attention weights along one piece: (T, T), queries x keys, 1-based layer.

    Read as `read_piece` reads (after the warm-up newlines, which are dropped:
    a row sums to 1 less what the query gave them). Past the context, the
    windows are those the sampler's sliding cache sees (`Transformer.read_long`).
    """
    ckpt.model.eval()
    newline = ckpt.codec.index["\n"]
    with torch.inference_mode():
        _, _, weights = ckpt.model.read_long(torch.tensor([[newline] * WARMUP + ids], device=device_of(ckpt.model)))
    return weights[layer - 1][0, head, WARMUP:, WARMUP:].cpu().double().numpy()


class _Moments:
    """Running sums for the correlation of one feature with every neuron."""

    def __init__(self, width: int):
        self.n = 0
        self.x = self.xx = 0.0
        self.a, self.aa, self.xa = np.zeros(width), np.zeros(width), np.zeros(width)

    def add(self, x: np.ndarray, acts: np.ndarray) -> None:
        self.n += len(x)
        self.x += x.sum()
        self.xx += (x * x).sum()
        self.a += acts.sum(0)
        self.aa += (acts * acts).sum(0)
        self.xa += x @ acts

    def correlation(self) -> np.ndarray:
        n = self.n
        cov = n * self.xa - self.x * self.a
        var_x = n * self.xx - self.x ** 2
        var_a = n * self.aa - self.a ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            r = cov / np.sqrt(var_x * var_a)
        return np.nan_to_num(r)


def find_neurons(ckpt: Checkpoint, measures: Measures, texts: list[str], layer: int | None = None) -> list[Finding]:
    """For every structure feature, each neuron's correlation with it over `texts`;
    returns the strongest neuron per feature (of `layer` only, 1-based, when given), strongest first."""
    ckpt.model.eval()
    layers, width = ckpt.model.config.layers, ckpt.model.config.hidden
    pieces = [(text, piece_ids(ckpt, text)) for text in texts]
    pieces.sort(key=lambda p: len(p[1]))  # similar lengths share a batch: less padding
    moments: dict[str, _Moments] = {}
    labels: dict[str, str] = {}
    for start in range(0, len(pieces), BATCH):
        chunk = pieces[start:start + BATCH]
        _, hidden = _run(ckpt, [ids for _, ids in chunk])
        acts_all = torch.cat(hidden, -1).double().numpy()   # (B, T, L*H)
        for row, (text, ids) in enumerate(chunk):
            acts = acts_all[row, :len(ids)]
            symbols = [ckpt.codec.vocab[i] for i in ids]
            for name, feature in symbol_features(measures, "".join(symbols), symbols).items():
                labels[name] = feature.label
                mask = feature.defined
                if mask.any():
                    moments.setdefault(name, _Moments(layers * width)).add(feature.values[mask], acts[mask])
    findings = []
    for name, m in moments.items():
        r = m.correlation()
        if layer is not None:  # only that layer's neurons compete
            r = np.where(np.arange(r.size) // width == layer - 1, r, 0.0)
        best = int(np.abs(r).argmax())
        if r[best] != 0:
            findings.append(Finding(best // width + 1, best % width, name, labels[name], float(r[best]), m.n))
    return sorted(findings, key=lambda f: -abs(f.r))
