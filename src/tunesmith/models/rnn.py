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
        # Layer 0's input is always an embedding row, so embedding @ W_ih + b_ih
        # can be computed once per symbol: a (V, gates) table.
        weights = []
        for layer in range(self.config.layers):
            w_ih = getattr(self.rnn, f"weight_ih_l{layer}").detach()
            w_hh = getattr(self.rnn, f"weight_hh_l{layer}").detach()
            b_ih = getattr(self.rnn, f"bias_ih_l{layer}").detach()
            b_hh = getattr(self.rnn, f"bias_hh_l{layer}").detach()
            if layer == 0:
                table = torch.addmm(b_ih, self.embed.weight.detach(), w_ih.t())  # (V, G)
                weights.append((table, w_hh.t().contiguous(), b_hh))
            else:
                weights.append((w_ih, w_hh, b_ih, b_hh))
        weights.append((self.head.weight.detach().t().contiguous(), self.head.bias.detach()))
        return weights

    @torch.inference_mode()
    def step(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """ids (B,) -> logits (B, V), new state; for sampling, in eval mode."""
        if self.training:
            raise RuntimeError("step() is for sampling; call model.eval() first")
        if self._step_weights is None:
            self._step_weights = self._fold()
        *layers, (w_out, b_out) = self._step_weights
        lstm = self.config.cell == "lstm"
        hs, cs = (list(state[0].unbind(0)), list(state[1].unbind(0))) if lstm else (list(state.unbind(0)), None)
        x = None
        for i, weights in enumerate(layers):
            if i == 0:
                table, w_hh_t, b_hh = weights
                gates_in = table.index_select(0, ids)           # (B, G)
                if lstm:
                    gates = torch.addmm(gates_in + b_hh, hs[0], w_hh_t)
                    ig, fg, gg, og = gates.chunk(4, 1)
                    c = torch.sigmoid(fg) * cs[0] + torch.sigmoid(ig) * torch.tanh(gg)
                    h = torch.sigmoid(og) * torch.tanh(c)
                    cs[0] = c
                else:
                    gh = torch.addmm(b_hh, hs[0], w_hh_t)
                    ir, iz, inn = gates_in.chunk(3, 1)
                    hr, hz, hn = gh.chunk(3, 1)
                    r = torch.sigmoid(ir + hr)
                    z = torch.sigmoid(iz + hz)
                    n = torch.tanh(inn + r * hn)
                    h = (1 - z) * n + z * hs[0]
                hs[0] = h
            elif lstm:
                hs[i], cs[i] = torch.lstm_cell(x, (hs[i], cs[i]), *weights)
            else:
                hs[i] = torch.gru_cell(x, hs[i], *weights)
            x = hs[i]
        logits = torch.addmm(b_out, x, w_out)                   # (B, V)
        new_state = (torch.stack(hs), torch.stack(cs)) if lstm else torch.stack(hs)
        return logits, new_state
