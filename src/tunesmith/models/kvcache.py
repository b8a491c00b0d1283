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

The cache is updated in place: after `step`, use the state it returns, not
the one passed in. The results equal the training forward pass on the same
window up to float rounding (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .transformer import Transformer, kept

_GELU_C = np.float32(np.sqrt(2.0 / np.pi))


@dataclass
class KVCache:
    """Keys and values of the symbols read so far, for B streams that advance together."""

    keys: np.ndarray     # (L, B, H, context, Dh)
    values: np.ndarray   # (L, B, H, context, Dh)
    symbols: np.ndarray  # (B, context): the ids at positions [0, pos)
    pos: int             # how many positions are filled


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(-1, keepdims=True)
    return centred / np.sqrt(var + eps) * w + b


def _normed(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """LayerNorm without its scale and shift (those are folded into the next matrix), 2-D x."""
    x = x - x.sum(-1, keepdims=True) * (1.0 / x.shape[-1])
    var = np.einsum("bd,bd->b", x, x)[:, None] * (1.0 / x.shape[-1])
    var += eps
    return x / np.sqrt(var, out=var)


def _gelu2(x: np.ndarray) -> np.ndarray:
    """2 * GELU (tanh form), computed in place in x's own buffer."""
    inner = x * x
    inner *= 0.044715
    inner += 1.0
    inner *= x
    inner *= _GELU_C
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= x
    return inner


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(_GELU_C * (x + 0.044715 * x * x * x)))


class KVStepper:
    """Advance B streams by one symbol: `step(ids, state) -> (logits, state)`."""

    def __init__(self, model: Transformer):
        c = model.config
        self.layers, self.heads, self.context, self.width = c.layers, c.heads, c.context, c.hidden
        self.head_width = c.hidden // c.heads
        self.scale = np.float32(1.0 / np.sqrt(self.head_width))
        sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
        t = lambda name: np.ascontiguousarray(sd[name].T)  # noqa: E731
        self.embed, self.pos = sd["embed.weight"], sd["pos.weight"]
        self.blocks = [
            tuple(f(f"blocks.{i}.{name}") for f, name in (
                (sd.get, "ln1.weight"), (sd.get, "ln1.bias"), (t, "qkv.weight"), (sd.get, "qkv.bias"),
                (t, "proj.weight"), (sd.get, "proj.bias"), (sd.get, "ln2.weight"), (sd.get, "ln2.bias"),
                (t, "fc1.weight"), (sd.get, "fc1.bias"), (t, "fc2.weight"), (sd.get, "fc2.bias")))
            for i in range(c.layers)
        ]
        self.ln_f = (sd["ln_f.weight"], sd["ln_f.bias"])
        self.w_out = np.ascontiguousarray(self.embed.T)  # (D, V): tied
        self.b_out = sd["out_bias"]
        # The one-symbol path: each LayerNorm's scale and shift folded into the matrix after it
        # ((n * g + s) @ W + b = n @ (g W) + (s @ W + b)), GELU's 1/2 into fc2.
        fold = lambda g, s, w, b: (np.ascontiguousarray(g[:, None] * w), s @ w + b)  # noqa: E731
        # The attention scale 1/sqrt(Dh) is folded into the query columns.
        q_scale = np.concatenate([np.full(c.hidden, self.scale), np.ones(2 * c.hidden, np.float32)])
        self.fast = [fold(g1, s1, wqkv * q_scale, bqkv * q_scale) + (wo, bo) + fold(g2, s2, wf1, bf1)
                     + (0.5 * wf2, bf2)
                     for g1, s1, wqkv, bqkv, wo, bo, g2, s2, wf1, bf1, wf2, bf2 in self.blocks]
        self.fast_out = fold(*self.ln_f, self.w_out, self.b_out)

    def initial_state(self, batch: int) -> KVCache:
        """An empty cache for `batch` streams."""
        shape = (self.layers, batch, self.heads, self.context, self.head_width)
        return KVCache(np.zeros(shape, np.float32), np.zeros(shape, np.float32),
                       np.zeros((batch, self.context), np.int64), 0)

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

    def _slide(self, state: KVCache) -> KVCache:
        keep = kept(self.context)
        tail = state.symbols[:, self.context - keep:].copy()
        state.pos = 0
        self._read(tail, state)
        return state

    def _one(self, ids: np.ndarray, state: KVCache) -> np.ndarray:
        """_read for one symbol, in 2-D arrays and in place where it can (the sampler's hot path)."""
        b, p = ids.shape[0], state.pos
        end = p + 1
        state.symbols[:, p] = ids
        x = self.embed[ids] + self.pos[p]                          # (B, D)
        heads, dh = self.heads, self.head_width
        for i, (wqkv, bqkv, wo, bo, wf1, bf1, wf2, bf2) in enumerate(self.fast):
            qkv = (_normed(x) @ wqkv + bqkv).reshape(b, 3, heads, 1, dh)
            keys, values = state.keys[i], state.values[i]             # (B, H, context, Dh)
            keys[:, :, p] = qkv[:, 1, :, 0]
            values[:, :, p] = qkv[:, 2, :, 0]
            scores = qkv[:, 0] @ keys[:, :, :end].transpose(0, 1, 3, 2)  # (B, H, 1, end)
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            x = x + (scores @ values[:, :, :end]).reshape(b, -1) @ wo + bo
            h = _normed(x) @ wf1 + bf1
            x = x + _gelu2(h) @ wf2 + bf2
        state.pos = end
        return _normed(x) @ self.fast_out[0] + self.fast_out[1]   # (B, V)

    def _read(self, ids: np.ndarray, state: KVCache) -> np.ndarray:
        """Read T symbols at positions [pos, pos + T) into the cache; their logits (B, T, V)."""
        b, t = ids.shape
        p, end = state.pos, state.pos + ids.shape[1]
        state.symbols[:, p:end] = ids
        x = self.embed[ids] + self.pos[p:end]                      # (B, T, D)
        heads, dh = self.heads, self.head_width
        mask = None
        if t > 1:  # query i (position p + i) sees positions up to p + i
            mask = np.arange(end)[None, :] > (p + np.arange(t))[:, None]  # (T, end)
        for i, (w1, b1, wqkv, bqkv, wo, bo, w2, b2, wf1, bf1, wf2, bf2) in enumerate(self.blocks):
            qkv = _layer_norm(x, w1, b1) @ wqkv + bqkv              # (B, T, 3D)
            qkv = qkv.reshape(b, t, 3, heads, dh).transpose(2, 0, 3, 1, 4)  # (3, B, H, T, Dh)
            keys, values = state.keys[i], state.values[i]
            keys[:, :, p:end] = qkv[1]
            values[:, :, p:end] = qkv[2]
            scores = (qkv[0] * self.scale) @ keys[:, :, :end].transpose(0, 1, 3, 2)  # (B, H, T, end)
            if mask is not None:
                scores[..., mask] = -np.inf
            scores -= scores.max(-1, keepdims=True)
            weights = np.exp(scores)
            weights /= weights.sum(-1, keepdims=True)
            attended = (weights @ values[:, :, :end]).transpose(0, 2, 1, 3).reshape(b, t, -1)  # (B, T, D)
            x = x + attended @ wo + bo
            x = x + _gelu(_layer_norm(x, w2, b2) @ wf1 + bf1) @ wf2 + bf2
        state.pos = end
        return _layer_norm(x, *self.ln_f) @ self.w_out + self.b_out   # (B, T, V)
