"""The char-RNN: embedding -> stacked LSTM/GRU -> linear, one symbol per step.

Contract shared by every model: `forward(ids, state) -> (logits, state)` with
ids (B, T) and logits (B, T, V); the softmax lives in the loss. Training runs
the whole stack through `nn.LSTM`/`nn.GRU` (one fused call per sequence).
Sampling calls `step`, which advances one symbol with the cells' own fused
kernels and the first layer's input projection folded into a lookup table:
`nn.LSTM` pays a large fixed cost per call, and sampling calls it once per
symbol.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig

State = tuple[torch.Tensor, torch.Tensor] | torch.Tensor


class CharRNN(nn.Module):
    """Many-to-many recurrent network over a vocabulary of symbols."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.cell not in ("lstm", "gru"):
            raise ValueError(f"unknown cell {config.cell!r}")
        self.config = config
        rnn_class = nn.LSTM if config.cell == "lstm" else nn.GRU
        self.embed = nn.Embedding(config.vocab_size, config.embedding)
        # Dropout between layers is nn.LSTM's own; the last layer's is below.
        self.rnn = rnn_class(
            config.embedding, config.hidden, num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0, batch_first=True,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.vocab_size)
        self._step_weights: list | None = None

    def initial_state(self, batch: int) -> State:
        """Zero state for `batch` streams."""
        c = self.config
        zeros = torch.zeros(c.layers, batch, c.hidden, device=self.head.weight.device)
        return (zeros, zeros.clone()) if c.cell == "lstm" else zeros

    def forward(self, ids: torch.Tensor, state: State | None = None):
        """ids (B, T) -> logits (B, T, V), new state."""
        x = self.embed(ids)                      # (B, T, E)
        out, state = self.rnn(x, state)          # (B, T, H)
        return self.head(self.drop(out)), state  # (B, T, V)

    def train(self, mode: bool = True):
        """Switch mode; the folded sampling weights are rebuilt when next needed."""
        self._step_weights = None
        return super().train(mode)

    def _fold(self) -> list:
        # Per layer: (input part, W_hh^T, bias). Layer 0's input is always an
        # embedding row, so embedding @ W_ih^T + b_ih becomes a (V, G) lookup
        # table. For an LSTM every bias folds in and deeper layers multiply
        # [x, h] by one stacked matrix: one matmul per layer.
        lstm = self.config.cell == "lstm"
        weights = []
        for layer in range(self.config.layers):
            w_ih = getattr(self.rnn, f"weight_ih_l{layer}").detach()
            w_hh = getattr(self.rnn, f"weight_hh_l{layer}").detach()
            b_ih = getattr(self.rnn, f"bias_ih_l{layer}").detach()
            b_hh = getattr(self.rnn, f"bias_hh_l{layer}").detach()
            if layer == 0:
                table = torch.addmm(b_ih + b_hh if lstm else b_ih, self.embed.weight.detach(), w_ih.t())
                weights.append((table, w_hh.t().contiguous(), None if lstm else b_hh))
            elif lstm:
                weights.append((None, torch.cat([w_ih, w_hh], 1).t().contiguous(), b_ih + b_hh))
            else:
                weights.append((None, (w_ih, w_hh, b_ih, b_hh), None))
        weights.append((None, self.head.weight.detach().t().contiguous(), self.head.bias.detach()))
        return weights

    @torch.inference_mode()
    def step(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """ids (B,) -> logits (B, V), new state; for sampling, in eval mode."""
        if self.training:
            raise RuntimeError("step() is for sampling; call model.eval() first")
        if self._step_weights is None:
            self._step_weights = self._fold()
        *layers, (_, w_out, b_out) = self._step_weights
        if self.config.cell == "lstm":
            x, state = _lstm_step(layers, ids, state)
        else:
            x, state = _gru_step(layers, ids, state)
        return torch.addmm(b_out, x, w_out), state              # (B, V)


def _lstm_cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # gates (B, 4H) in PyTorch's order i, f, g, o
    hidden = c.shape[1]
    act = torch.sigmoid(gates)
    g = torch.tanh(gates[:, 2 * hidden:3 * hidden])
    c = torch.addcmul(act[:, hidden:2 * hidden] * c, act[:, :hidden], g)
    return act[:, 3 * hidden:] * torch.tanh(c), c


def _lstm_step(layers: list, ids: torch.Tensor, state) -> tuple[torch.Tensor, State]:
    h_all, c_all = state                                      # (L, B, H) each
    hs, cs = [], []
    table, w_t, _ = layers[0]
    h, c = _lstm_cell(torch.addmm(table.index_select(0, ids), h_all[0], w_t), c_all[0])
    hs.append(h), cs.append(c)
    for i, (_, w_t, bias) in enumerate(layers[1:], 1):
        h, c = _lstm_cell(torch.addmm(bias, torch.cat([h, h_all[i]], 1), w_t), c_all[i])
        hs.append(h), cs.append(c)
    return h, (torch.stack(hs), torch.stack(cs))


def _gru_step(layers: list, ids: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, State]:
    table, w_hh_t, b_hh = layers[0]
    gi, gh = table.index_select(0, ids), torch.addmm(b_hh, state[0], w_hh_t)
    ir, iz, inn = gi.chunk(3, 1)
    hr, hz, hn = gh.chunk(3, 1)
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    n = torch.tanh(inn + r * hn)
    h = (1 - z) * n + z * state[0]
    hs = [h]
    for i, (_, weights, _) in enumerate(layers[1:], 1):
        h = torch.gru_cell(h, state[i], *weights)
        hs.append(h)
    return h, torch.stack(hs)
