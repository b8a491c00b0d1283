"""The copy model: a piece's own earlier symbols, mixed with the network's guess.

Folk tunes repeat themselves: a quarter of the bars of a real tune equal an
earlier bar of the same tune, and tabla compositions and chorale phrases come
back just as often. A char-RNN trained with 64-step BPTT hardly learns to copy
from a few hundred symbols back (characters of a repeated bar cost the shipped
model only 10 % fewer bits than those of a new one), so tunesmith adds what
text compressors call a *match model* (lpaq, PPM) and language models a
*cache* (Grave et al. 2017, "Improving neural language models with a
continuous cache"):

- while a piece is read or written, the last `min_match` symbols are looked up
  among the piece's earlier positions; at a hit, the match model predicts the
  symbol that followed the earlier occurrence, and keeps predicting the next
  one after it as long as the piece goes on the same way (the match grows);
- the next-symbol distribution is the mixture
  `p(c) = (1 - w) * p_network(c) + w * [c == predicted]`, with a weight `w`
  for each band of match lengths (a long match is more trustworthy).

The weights are fitted on training pieces by maximum likelihood (`fit`) and
saved in the checkpoint's config.json under "copy"; held-out bits are
reported for the network alone and for the mixture. Sampling draws from the
mixture, so generated tunes repeat their own phrases as the tradition does;
the well-formed constraints still apply to what is drawn. Nothing here knows
notation: the symbols are any codec's ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MIN_MATCH = 5                                    # symbols that must match before a prediction
BANDS = (5, 8, 12, 16, 24, 32, 48, 64, 96)       # upper ends of the match-length bands (the last is open)
FIT_GRID = np.linspace(0.0, 0.99, 100)           # weights tried for each band


@dataclass(frozen=True)
class CopyModel:
    """The fitted mixture: which matches predict, and how much each band of match lengths is trusted."""

    min_match: int = MIN_MATCH
    bands: tuple[int, ...] = BANDS
    weights: tuple[float, ...] = ()      # one per band, plus one for matches longer than the last band
    fitted_on: dict = field(default_factory=dict)  # what the fit saw: pieces, symbols, bits before and after

    def band(self, length: int) -> int:
        """The band of a match `length` symbols long."""
        for i, top in enumerate(self.bands):
            if length <= top:
                return i
        return len(self.bands)

    def weight(self, length: int) -> float:
        """The mixture weight for a match of `length` symbols (0 when there is none)."""
        return self.weights[self.band(length)] if length else 0.0

    def to_dict(self) -> dict:
        """Plain JSON-able form (config.json's "copy")."""
        return {"min_match": self.min_match, "bands": list(self.bands),
                "weights": [round(w, 4) for w in self.weights], "fitted_on": self.fitted_on}

    @classmethod
    def from_dict(cls, data: dict) -> "CopyModel":
        """Inverse of to_dict."""
        return cls(int(data["min_match"]), tuple(int(b) for b in data["bands"]),
                   tuple(float(w) for w in data["weights"]), dict(data.get("fitted_on", {})))


class Matcher:
    """The match model over one piece, fed one symbol at a time (O(1) per symbol).

    `prediction` is (the symbol the match says comes next, the match's length),
    or (-1, 0) when the last `min_match` symbols have not been seen before in
    this piece. The most recent earlier occurrence is the one followed.
    """

    __slots__ = ("min_match", "symbols", "table", "pointer", "length")

    def __init__(self, min_match: int = MIN_MATCH):
        self.min_match = min_match
        self.symbols: list[int] = []
        self.table: dict[tuple[int, ...], int] = {}
        self.pointer = -1   # index in `symbols` of the predicted next symbol
        self.length = 0

    @property
    def prediction(self) -> tuple[int, int]:
        """(predicted next symbol, match length), or (-1, 0)."""
        return (self.symbols[self.pointer], self.length) if self.pointer >= 0 else (-1, 0)

    def push(self, symbol: int) -> None:
        """Read the next symbol of the piece."""
        symbols = self.symbols
        if self.pointer >= 0 and symbols[self.pointer] == symbol:
            self.pointer += 1
            self.length += 1
        else:
            self.pointer, self.length = -1, 0
        symbols.append(symbol)
        n = len(symbols)
        if n >= self.min_match:
            key = tuple(symbols[n - self.min_match:])
            if self.pointer < 0 and key in self.table:
                self.pointer, self.length = self.table[key], self.min_match
            self.table[key] = n


def predictions(piece: list[int], min_match: int = MIN_MATCH) -> list[tuple[int, int]]:
    """(predicted symbol, match length) for every position of `piece`, from the symbols before it only."""
    matcher, out = Matcher(min_match), []
    for symbol in piece:
        out.append(matcher.prediction)
        matcher.push(symbol)
    return out


def mix_logits(logits: np.ndarray, predicted: int, weight: float) -> np.ndarray:
    """Log-probabilities of the mixture, from the network's logits for one position (a new array)."""
    top = logits.max()
    logp = logits - (top + math.log(np.exp(logits - top).sum()))
    mixed = logp + math.log1p(-weight)
    p_pred = math.exp(logp[predicted]) if np.isfinite(logp[predicted]) else 0.0
    mixed[predicted] = math.log((1.0 - weight) * p_pred + weight)
    return mixed


def mixture_bits(logp_true: np.ndarray, hit: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Bits of each position under the mixture: `weights` 0 where there is no match."""
    p = (1.0 - weights) * np.exp(logp_true) + weights * hit
    return -np.log2(np.maximum(p, 1e-300))


def fit(logp_true: np.ndarray, lengths: np.ndarray, hit: np.ndarray, min_match: int = MIN_MATCH,
        bands: tuple[int, ...] = BANDS) -> CopyModel:
    """The weights that minimise the bits of the positions given (a grid search per band).

    `logp_true`: the network's natural log-probability of each position's true
    symbol; `lengths`: the match length there (0: none); `hit`: whether the
    match predicted the true symbol. Bands are independent, so each weight is
    the best of FIT_GRID for its own positions (0 for a band with none).
    """
    model = CopyModel(min_match, tuple(bands), ())
    band_of = np.array([model.band(int(n)) if n else -1 for n in lengths])
    weights = []
    for b in range(len(bands) + 1):
        rows = band_of == b
        if not rows.any():
            weights.append(0.0)
            continue
        p, h = np.exp(logp_true[rows])[:, None], hit[rows][:, None].astype(float)
        loss = -np.log(np.maximum((1.0 - FIT_GRID) * p + FIT_GRID * h, 1e-300)).sum(axis=0)
        weights.append(float(FIT_GRID[int(loss.argmin())]))
    fitted = CopyModel(min_match, tuple(bands), tuple(weights))
    w = np.array([fitted.weight(int(n)) for n in lengths])
    before = float(-logp_true.mean() / math.log(2))
    after = float(mixture_bits(logp_true, hit, w).mean())
    return CopyModel(min_match, tuple(bands), tuple(weights),
                     {"symbols": int(len(lengths)), "matched": round(float((lengths > 0).mean()), 4),
                      "bits_network": round(before, 4), "bits_mixture": round(after, 4)})
