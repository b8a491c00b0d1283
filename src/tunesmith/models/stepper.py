"""One symbol at a time, for sampling: the network folded into numpy arrays.

Sampling calls the network once per symbol with a tiny batch, where a call's
fixed cost matters more than its arithmetic: `nn.LSTM` costs ~3 ms a call
here, torch's small ops ~5 us each, numpy's ~1 us. So the trained weights are
folded once into numpy arrays:

- layer 0's input is always an embedding row, so embedding @ W_ih^T + b_ih
  (+ b_hh for an LSTM) becomes a (V, gates) lookup table;
- an LSTM's deeper layers multiply [x, h] by one stacked matrix: one matmul
  per layer.

The results equal the training forward pass up to float rounding (a test
checks it).
"""

from __future__ import annotations

import numpy as np

from .rnn import CharRNN

State = tuple[np.ndarray, np.ndarray] | np.ndarray  # (L, B, H) h and c, or h for a GRU


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


class Stepper:
    """Advance B streams by one symbol: `step(ids, state) -> (logits, state)`."""

    def __init__(self, model: CharRNN):
        c = model.config
        self.cell, self.layers, self.hidden = c.cell, c.layers, c.hidden
        sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
        w = lambda name, i: sd[f"rnn.{name}_l{i}"]  # noqa: E731
        lstm = c.cell == "lstm"
        bias0 = w("bias_ih", 0) + (w("bias_hh", 0) if lstm else 0)
        self.table = sd["embed.weight"] @ w("weight_ih", 0).T + bias0          # (V, G)
        self.w_hh0 = np.ascontiguousarray(w("weight_hh", 0).T)                  # (H, G)
        self.b_hh0 = w("bias_hh", 0)
        if lstm:
            self.deep = [(np.ascontiguousarray(np.concatenate([w("weight_ih", i), w("weight_hh", i)], 1).T),
                          w("bias_ih", i) + w("bias_hh", i)) for i in range(1, c.layers)]
        else:
            self.deep = [(np.ascontiguousarray(w("weight_ih", i).T), w("bias_ih", i),
                          np.ascontiguousarray(w("weight_hh", i).T), w("bias_hh", i)) for i in range(1, c.layers)]
        self.w_out = np.ascontiguousarray(sd["head.weight"].T)                  # (H, V)
        self.b_out = sd["head.bias"]

    def initial_state(self, batch: int) -> State:
        """Zero state for `batch` streams."""
        zeros = np.zeros((self.layers, batch, self.hidden), np.float32)
        return (zeros, zeros.copy()) if self.cell == "lstm" else zeros

    @staticmethod
    def select(state: State, rows: np.ndarray) -> State:
        """The state of the streams `rows` only (for streams that are still writing)."""
        return tuple(s[:, rows] for s in state) if isinstance(state, tuple) else state[:, rows]

    def step(self, ids: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """ids (B,) -> logits (B, V), new state."""
        x, state = (self._lstm if self.cell == "lstm" else self._gru)(ids, state)
        return x @ self.w_out + self.b_out, state

    def _lstm_cell(self, gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hid = self.hidden  # gates (B, 4H) in PyTorch's order i, f, g, o
        act = _sigmoid(gates)
        c = act[:, hid:2 * hid] * c + act[:, :hid] * np.tanh(gates[:, 2 * hid:3 * hid])
        return act[:, 3 * hid:] * np.tanh(c), c

    def _lstm(self, ids, state):
        h_all, c_all = state
        hs, cs = np.empty_like(h_all), np.empty_like(c_all)
        h, cs[0] = self._lstm_cell(self.table[ids] + h_all[0] @ self.w_hh0, c_all[0])
        hs[0] = h
        for i, (w, b) in enumerate(self.deep, 1):
            h, cs[i] = self._lstm_cell(np.concatenate([h, h_all[i]], 1) @ w + b, c_all[i])
            hs[i] = h
        return h, (hs, cs)

    def _gru_cell(self, gi: np.ndarray, gh: np.ndarray, h: np.ndarray) -> np.ndarray:
        hid = self.hidden  # gates (B, 3H) in PyTorch's order r, z, n
        rz = _sigmoid(gi[:, :2 * hid] + gh[:, :2 * hid])
        n = np.tanh(gi[:, 2 * hid:] + rz[:, :hid] * gh[:, 2 * hid:])
        z = rz[:, hid:]
        return (1.0 - z) * n + z * h

    def _gru(self, ids, state):
        hs = np.empty_like(state)
        h = hs[0] = self._gru_cell(self.table[ids], state[0] @ self.w_hh0 + self.b_hh0, state[0])
        for i, (w_ih, b_ih, w_hh, b_hh) in enumerate(self.deep, 1):
            h = hs[i] = self._gru_cell(h @ w_ih + b_ih, state[i] @ w_hh + b_hh, state[i])
        return h, hs
