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

`TorchStepper` is the same folded network in torch tensors on the model's
device: torch's kernels (MKL/oneDNN on a CPU, CUDA on a GPU). Its calls cost
more than numpy's, its arithmetic less, so it wins for large batches on a
CPU and always on a GPU; engine.py chooses between the two.
"""

from __future__ import annotations

import numpy as np
import torch

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

    @staticmethod
    def _mm(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """x @ w, for a recurrent matrix (Int8Stepper multiplies by its 8-bit copy instead)."""
        return x @ w

    def _lstm_cell(self, gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hid = self.hidden  # gates (B, 4H) in PyTorch's order i, f, g, o
        act = _sigmoid(gates)
        c = act[:, hid:2 * hid] * c + act[:, :hid] * np.tanh(gates[:, 2 * hid:3 * hid])
        return act[:, 3 * hid:] * np.tanh(c), c

    def _lstm(self, ids, state):
        h_all, c_all = state
        hs, cs = np.empty_like(h_all), np.empty_like(c_all)
        h, cs[0] = self._lstm_cell(self.table[ids] + self._mm(h_all[0], self.w_hh0), c_all[0])
        hs[0] = h
        for i, (w, b) in enumerate(self.deep, 1):
            h, cs[i] = self._lstm_cell(self._mm(np.concatenate([h, h_all[i]], 1), w) + b, c_all[i])
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
        h = hs[0] = self._gru_cell(self.table[ids], self._mm(state[0], self.w_hh0) + self.b_hh0, state[0])
        for i, (w_ih, b_ih, w_hh, b_hh) in enumerate(self.deep, 1):
            h = hs[i] = self._gru_cell(self._mm(h, w_ih) + b_ih, self._mm(state[i], w_hh) + b_hh, state[i])
        return h, hs


def int8_available() -> bool:
    """Whether this torch has the 8-bit weight product `Int8Stepper` uses."""
    return hasattr(torch, "_weight_int8pack_mm")


class Int8Stepper(Stepper):
    """`Stepper` with its recurrent matrices in 8 bits: their products twice as fast, a stream 1.35x, a little less exact.

    A step of the `seed` model streams 5 MB of float32 weights, more than a
    core's L2 holds, so one stream is bound by memory (docs/benchmarks.md):
    the same products with int8 weights (one scale per output column, chosen
    from the column's largest weight) and bf16 inputs read a quarter of the
    bytes, through torch's weight-only int8 kernel (`_weight_int8pack_mm`,
    the CPU path torchao uses). Layer 0's table, the biases, the cells'
    arithmetic and the output layer stay in float32. The logits are no
    longer exactly the model's: `generate --int8` is an opt-in, and its cost
    in held-out bits is measured in docs/benchmarks.md ("8-bit weights").
    """

    def __init__(self, model: CharRNN):
        super().__init__(model)
        self._packed: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        for w in [self.w_hh0, *(a for layer in self.deep for a in layer if a.ndim == 2)]:
            columns = torch.from_numpy(np.ascontiguousarray(w.T))               # (out, in)
            scale = columns.abs().amax(1).clamp_min(1e-12) / 127.0
            q = torch.round(columns / scale[:, None]).clamp_(-127, 127).to(torch.int8).contiguous()
            self._packed[id(w)] = (q, scale.to(torch.bfloat16).contiguous())

    def _mm(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        q, scale = self._packed[id(w)]
        x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(torch.bfloat16)
        return torch._weight_int8pack_mm(x, q, scale).float().numpy()


class TorchStepper:
    """`Stepper`'s folded network in torch tensors on `device`: the same `step`, in numpy arrays out.

    The weights are folded once by `Stepper` (so both engines compute the
    same network the same way) and moved to the device; ids come in and
    logits go out as numpy arrays (the writers and the draw stay on the
    CPU), the state stays on the device between steps.
    """

    def __init__(self, model: CharRNN, device: torch.device | str):
        folded = Stepper(model)
        self.device = torch.device(device)
        self.cell, self.layers, self.hidden = folded.cell, folded.layers, folded.hidden
        on = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(self.device)  # noqa: E731
        self.table, self.w_hh0, self.b_hh0 = on(folded.table), on(folded.w_hh0), on(folded.b_hh0)
        self.deep = [tuple(on(a) for a in layer) for layer in folded.deep]
        self.w_out, self.b_out = on(folded.w_out), on(folded.b_out)

    def initial_state(self, batch: int):
        """Zero state for `batch` streams, on the device."""
        zeros = torch.zeros(self.layers, batch, self.hidden, device=self.device)
        return (zeros, zeros.clone()) if self.cell == "lstm" else zeros

    def select(self, state, rows: np.ndarray):
        """The state of the streams `rows` only."""
        index = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=self.device)
        if isinstance(state, tuple):
            return tuple(s.index_select(1, index) for s in state)
        return state.index_select(1, index)

    def step(self, ids: np.ndarray, state) -> tuple[np.ndarray, object]:
        """ids (B,) -> logits (B, V) as a float32 numpy array, new state (on the device)."""
        index = torch.as_tensor(np.asarray(ids, dtype=np.int64).reshape(-1), device=self.device)
        with torch.inference_mode():
            x, state = (self._lstm if self.cell == "lstm" else self._gru)(index, state)
            logits = torch.addmm(self.b_out, x, self.w_out)
        return logits.cpu().numpy(), state

    def _lstm_cell(self, gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hid = self.hidden  # gates (B, 4H) in PyTorch's order i, f, g, o
        act = torch.sigmoid(gates)
        c = act[:, hid:2 * hid] * c + act[:, :hid] * torch.tanh(gates[:, 2 * hid:3 * hid])
        return act[:, 3 * hid:] * torch.tanh(c), c

    def _lstm(self, ids, state):
        h_all, c_all = state
        h, c = self._lstm_cell(self.table.index_select(0, ids).addmm_(h_all[0], self.w_hh0), c_all[0])
        hs, cs = [h], [c]
        for i, (w, b) in enumerate(self.deep, 1):
            h, c = self._lstm_cell(torch.addmm(b, torch.cat([h, h_all[i]], 1), w), c_all[i])
            hs.append(h)
            cs.append(c)
        return h, (torch.stack(hs), torch.stack(cs))

    def _gru_cell(self, gi: torch.Tensor, gh: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        hid = self.hidden  # gates (B, 3H) in PyTorch's order r, z, n
        rz = torch.sigmoid(gi[:, :2 * hid] + gh[:, :2 * hid])
        n = torch.tanh(gi[:, 2 * hid:] + rz[:, :hid] * gh[:, 2 * hid:])
        z = rz[:, hid:]
        return (1.0 - z) * n + z * h

    def _gru(self, ids, state):
        h = self._gru_cell(self.table.index_select(0, ids), torch.addmm(self.b_hh0, state[0], self.w_hh0), state[0])
        hs = [h]
        for i, (w_ih, b_ih, w_hh, b_hh) in enumerate(self.deep, 1):
            h = self._gru_cell(torch.addmm(b_ih, h, w_ih), torch.addmm(b_hh, state[i], w_hh), state[i])
            hs.append(h)
        return h, torch.stack(hs)
