"""The transformer one symbol at a time, for sampling: numpy weights and a key/value cache.

Like stepper.py for the RNNs, the weights are folded once into numpy arrays
(a sampler's step is a tiny batch, where torch's per-op cost would dominate)
and `step(ids, state) -> (logits, state)` advances B streams by one symbol.
The state is a `KVCache`: every block's keys and values of the symbols read
so far (B streams x heads x context positions), the position, and the
symbols themselves. A step computes the new symbol's query, key and value
only and attends over the cache, so one symbol costs one step, not a pass
over the whole window.

When the cache is full (`context` symbols read) it slides: the last
`context // 2` symbols are read again from position 0 in one batched pass
(prefill) and the step goes on from there. The model then sees at least half
a context of the piece, as in training, where every window starts
mid-stream. So generation may run longer than the context.

Speed. One stream's step is bound by reading the weights (about 9 MB for the
CPU preset) and by numpy's cost per call (about a microsecond, more on a
busy machine), so the folding aims at few calls and no allocation:

- each LayerNorm's scale and shift go into the matrix after it, the attention
  scale into the query columns, GELU's constants into the MLP's matrices;
- every bias is the last row of its matrix, read through a constant column of
  ones beside the input, so a matrix and its bias are one call;
- the residual stream is kept centred (its mean over the width is 0): the
  embeddings are centred and every matrix that writes into the stream has
  centred columns. Every reader of the stream is a LayerNorm, which does not
  see a shift, so the result is the same (up to rounding), and a LayerNorm
  needs no mean: for one stream it is a dot product and a division;
- a step writes into arrays kept with the cache (`_Scratch`), not new ones.

The cache is updated in place: after `step`, use the state it returns, not
the one passed in. The results equal the training forward pass on the same
window up to float rounding (tests/test_transformer.py checks the logits
against the model in float64, past several slides).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .transformer import Transformer, kept

_F32 = np.float32
_EPS = 1e-5                      # nn.LayerNorm's default
# GELU (tanh form) is h/2 * (1 + tanh(c * (h + a h^3))). With w = beta * h (beta in fc1's columns) the
# argument of tanh is w * (w^2 + gamma), and h/2 = w / (2 beta) (in fc2's rows): six numpy calls.
_GELU_C, _GELU_A = np.sqrt(2.0 / np.pi), 0.044715
_GELU_BETA = (_GELU_C * _GELU_A) ** (1.0 / 3.0)
_GELU_GAMMA = _F32(_GELU_C / _GELU_BETA)


class _Block(NamedTuple):
    """One block's matrices, each (inputs + 1, outputs) with its bias as the last row."""

    qkv: np.ndarray    # LayerNorm 1 folded in; columns: queries (scaled), keys, values
    proj: np.ndarray   # attention output -> residual stream (centred)
    fc1: np.ndarray    # LayerNorm 2 and GELU's beta folded in
    fc2: np.ndarray    # MLP -> residual stream (centred; GELU's 1 / (2 beta) folded in)


def _with_bias(w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(in, out) and (out,) -> (in + 1, out): the product with [x, 1] is x @ w + b."""
    return np.ascontiguousarray(np.vstack([w, b[None, :]]), dtype=_F32)


def _after_norm(g: np.ndarray, s: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A LayerNorm's scale g and shift s folded into the matrix after it: (n * g + s) @ w + b = n @ w' + b'."""
    return g[:, None] * w, s @ w + b


def _centred(w: np.ndarray) -> np.ndarray:
    """Each row less its mean (a bias: itself less its mean): what it adds to the stream has mean 0."""
    return w - w.mean(-1, keepdims=True)


@dataclass
class KVCache:
    """Keys and values of the symbols read so far, for B streams that advance together."""

    keys: np.ndarray     # (L, B, H, context, Dh)
    values: np.ndarray   # (L, B, H, context, Dh)
    symbols: np.ndarray  # (B, context): the ids at positions [0, pos)
    pos: int             # how many positions are filled
    scratch: "_Scratch | None" = field(default=None, repr=False, compare=False)  # a step's arrays, for B rows


class _Scratch:
    """Arrays one step (or one batched read of `rows` = streams x symbols) writes into, made once.

    The inputs of the matrices carry a last column of ones (their bias row);
    `squares` carries eps * width there, so that its mean over the columns is
    the LayerNorm's variance + eps in one matrix product.
    """

    def __init__(self, rows: int, width: int, ff: int, heads: int, context: int):
        dh = width // heads
        self.x = np.empty((rows, width), _F32)                     # the residual stream (centred)
        self.squares = self._with_last(rows, width, _EPS * width)
        self.averaging = np.full((width + 1, 1), 1.0 / width, _F32)  # squares @ averaging: variance + eps
        self.rms = np.empty((rows, 1), _F32)
        self.normed = self._with_last(rows, width, 1.0)
        self.qkv = np.empty((rows, 3 * width), _F32)
        self.attended = self._with_last(rows, width, 1.0)           # the heads' outputs, side by side
        self.update = np.empty((rows, width), _F32)                # what a block adds to the stream
        self.hidden = np.empty((rows, ff), _F32)
        self.inner = np.empty((rows, ff), _F32)
        self.activated = self._with_last(rows, ff, 1.0)
        # The parts before the column of ones (or of eps), written through these views.
        self.row = self.x[0]
        self.squares_w, self.normed_w = self.squares[:, :width], self.normed[:, :width]
        self.activated_ff = self.activated[:, :ff]
        # One step's views (rows = streams): queries, new keys and values, scores, attention outputs.
        self.q = self._view(self.qkv[:, :width], (rows, heads, 1, dh))
        self.k = self._view(self.qkv[:, width:2 * width], (rows, heads, dh))
        self.v = self._view(self.qkv[:, 2 * width:], (rows, heads, dh))
        self.scores = np.empty((rows, heads, 1, context), _F32)
        self.peak = np.empty((rows, heads, 1, 1), _F32)
        self.heads = self._view(self.attended[:, :width], (rows, heads, 1, dh))
        self.caches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per block: keys, keys^T, values

    @staticmethod
    def _with_last(rows: int, width: int, value: float) -> np.ndarray:
        a = np.empty((rows, width + 1), _F32)
        a[:, width] = value
        return a

    @staticmethod
    def _view(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return np.reshape(a, shape, copy=False)  # raises rather than copy: the step writes through it


def _normalise(s: _Scratch) -> None:
    """LayerNorm (without scale and shift) of the centred stream s.x into s.normed[:, :width].

    Four numpy calls for any number of rows; for one row (one stream, the
    case that waits on every call) a dot product and a division.
    """
    if s.x.shape[0] == 1:
        np.divide(s.x, math.sqrt(float(np.dot(s.row, s.row)) / s.row.shape[0] + _EPS), out=s.normed_w)
        return
    np.multiply(s.x, s.x, out=s.squares_w)
    np.matmul(s.squares, s.averaging, out=s.rms)
    np.sqrt(s.rms, out=s.rms)
    np.divide(s.x, s.rms, out=s.normed_w)


def _gelu_into(w: np.ndarray, inner: np.ndarray, out: np.ndarray) -> None:
    """w * (1 + tanh(w * (w^2 + gamma))) into out: 2 beta GELU(w / beta), the scales being in the matrices."""
    np.multiply(w, w, out=inner)
    inner += _GELU_GAMMA
    inner *= w
    np.tanh(inner, out=inner)
    inner += _F32(1.0)
    np.multiply(inner, w, out=out)


def _softmax(scores: np.ndarray, peak: np.ndarray) -> None:
    """Softmax over the last axis, in place (peak: scratch of the shape of a max over it)."""
    np.maximum.reduce(scores, -1, keepdims=True, out=peak)
    scores -= peak
    np.exp(scores, out=scores)
    np.add.reduce(scores, -1, keepdims=True, out=peak)
    scores /= peak


class KVStepper:
    """Advance B streams by one symbol: `step(ids, state) -> (logits, state)`."""

    def __init__(self, model: Transformer):
        c = model.config
        self.layers, self.heads, self.context, self.width = c.layers, c.heads, c.context, c.hidden
        self.head_width = c.hidden // c.heads
        self.ff = c.ff or 4 * c.hidden
        sd = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in model.state_dict().items()}
        # Folded in float64, stored in float32.
        self.embed = _centred(sd["embed.weight"]).astype(_F32)
        self.pos = _centred(sd["pos.weight"]).astype(_F32)
        self.blocks = [self._fold_block(sd, f"blocks.{i}.") for i in range(c.layers)]
        self.out = _with_bias(*_after_norm(sd["ln_f.weight"], sd["ln_f.bias"], sd["embed.weight"].T, sd["out_bias"]))

    def _fold_block(self, sd: dict, prefix: str) -> _Block:
        w = lambda name: sd[prefix + name + ".weight"].T  # noqa: E731  (in, out)
        b = lambda name: sd[prefix + name + ".bias"]      # noqa: E731
        scale = np.ones(3 * self.width)
        scale[:self.width] = 1.0 / np.sqrt(self.head_width)  # the attention scale, on the queries
        qkv = _after_norm(sd[prefix + "ln1.weight"], sd[prefix + "ln1.bias"], w("qkv") * scale, b("qkv") * scale)
        fc1 = _after_norm(sd[prefix + "ln2.weight"], sd[prefix + "ln2.bias"], w("fc1"), b("fc1"))
        return _Block(
            qkv=_with_bias(*qkv),
            proj=_with_bias(_centred(w("proj")), _centred(b("proj"))),
            fc1=_with_bias(fc1[0] * _GELU_BETA, fc1[1] * _GELU_BETA),
            fc2=_with_bias(_centred(w("fc2")) / (2 * _GELU_BETA), _centred(b("fc2"))))

    def initial_state(self, batch: int) -> KVCache:
        """An empty cache for `batch` streams."""
        shape = (self.layers, batch, self.heads, self.context, self.head_width)
        return KVCache(np.zeros(shape, _F32), np.zeros(shape, _F32), np.zeros((batch, self.context), np.int64), 0)

    @staticmethod
    def select(state: KVCache, rows: np.ndarray) -> KVCache:
        """The cache of the streams `rows` only (for streams that are still writing)."""
        return KVCache(state.keys[:, rows], state.values[:, rows], state.symbols[rows], state.pos)

    def step(self, ids: np.ndarray, state: KVCache) -> tuple[np.ndarray, KVCache]:
        """ids (B,) -> logits (B, V), the state advanced (in place) by one symbol."""
        if state.pos == self.context:
            state = self._slide(state)
        return self._one(np.asarray(ids).reshape(-1), state), state

    def prefill(self, ids: np.ndarray, state: KVCache) -> tuple[np.ndarray, KVCache]:
        """ids (B, T), T <= the room left -> logits (B, T, V): T symbols read in one pass."""
        if state.pos + ids.shape[1] > self.context:
            raise ValueError(f"{ids.shape[1]} symbols do not fit in the {self.context - state.pos} positions left")
        return self._read(np.asarray(ids), state), state

    def _scratch(self, rows: int) -> _Scratch:
        return _Scratch(rows, self.width, self.ff, self.heads, self.context)

    def _slide(self, state: KVCache) -> KVCache:
        keep = kept(self.context)
        tail = state.symbols[:, self.context - keep:].copy()
        state.pos = 0
        self._read(tail, state, logits=False)
        return state

    def _step_scratch(self, state: KVCache, rows: int) -> _Scratch:
        """The state's arrays for a step, made at its first step (and again when `select` changed its streams)."""
        s = state.scratch
        if s is None or s.x.shape[0] != rows:
            s = state.scratch = self._scratch(rows)
            s.caches = [(keys, keys.swapaxes(2, 3), values) for keys, values in zip(state.keys, state.values)]
        return s

    def _one(self, ids: np.ndarray, state: KVCache) -> np.ndarray:
        """One symbol for each stream at position pos (the sampler's hot path: no allocation but the logits)."""
        s, p = self._step_scratch(state, ids.shape[0]), state.pos
        end = p + 1
        state.symbols[:, p] = ids
        np.take(self.embed, ids, axis=0, out=s.x)
        s.x += self.pos[p]
        for block, (keys, keys_t, values) in zip(self.blocks, s.caches):  # (B, H, context, Dh), its transpose
            _normalise(s)
            np.matmul(s.normed, block.qkv, out=s.qkv)
            keys[:, :, p] = s.k
            values[:, :, p] = s.v
            scores = s.scores[:, :, :, :end]                           # (B, H, 1, end)
            np.matmul(s.q, keys_t[:, :, :, :end], out=scores)
            _softmax(scores, s.peak)
            np.matmul(scores, values[:, :, :end], out=s.heads)
            self._add_attended_and_mlp(s, block)
        state.pos = end
        return self._logits(s)

    def _add_attended_and_mlp(self, s: _Scratch, block: _Block) -> None:
        """The rest of a block once s.attended holds the heads' outputs: projection, residual, MLP, residual."""
        np.matmul(s.attended, block.proj, out=s.update)
        s.x += s.update
        _normalise(s)
        np.matmul(s.normed, block.fc1, out=s.hidden)
        _gelu_into(s.hidden, s.inner, s.activated_ff)
        np.matmul(s.activated, block.fc2, out=s.update)
        s.x += s.update

    def _logits(self, s: _Scratch) -> np.ndarray:
        _normalise(s)
        return s.normed @ self.out   # a new array: the caller keeps it

    def _read(self, ids: np.ndarray, state: KVCache, logits: bool = True) -> np.ndarray | None:
        """Read T symbols at positions [pos, pos + T) into the cache; their logits (B, T, V) if `logits`."""
        b, t = ids.shape
        p, end = state.pos, state.pos + t
        heads, dh = self.heads, self.head_width
        state.symbols[:, p:end] = ids
        s = self._scratch(b * t)                                      # rows: stream-major, then position
        np.take(self.embed, ids.reshape(-1), axis=0, out=s.x)
        by_stream = s.x.reshape(b, t, -1)
        by_stream += self.pos[p:end]
        future = np.where(np.arange(end)[None, :] > (p + np.arange(t))[:, None], -np.inf, 0.0).astype(_F32)  # (T, end)
        for i, block in enumerate(self.blocks):
            keys, values = state.keys[i], state.values[i]
            _normalise(s)
            np.matmul(s.normed, block.qkv, out=s.qkv)
            q, k, v = s.qkv.reshape(b, t, 3, heads, dh).transpose(2, 0, 3, 1, 4)  # (B, H, T, Dh) each
            keys[:, :, p:end] = k
            values[:, :, p:end] = v
            if not logits and i == self.layers - 1:
                break  # a slide needs only the last block's keys and values
            scores = q @ keys[:, :, :end].swapaxes(-1, -2)           # (B, H, T, end)
            scores += future                                          # -inf where query i may not look
            _softmax(scores, np.empty(scores.shape[:-1] + (1,), _F32))
            s.attended[:, :self.width] = (scores @ values[:, :, :end]).transpose(0, 2, 1, 3).reshape(b * t, -1)
            self._add_attended_and_mlp(s, block)
        state.pos = end
        return self._logits(s).reshape(b, t, -1) if logits else None
