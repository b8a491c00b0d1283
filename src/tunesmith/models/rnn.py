"""The char-RNN: embedding -> stacked LSTM/GRU -> linear, one symbol per step.

Contract shared by every model: `forward(ids, state) -> (logits, state)` with
ids (B, T) and logits (B, T, V); the softmax lives in the loss. Training runs
the whole stack through `nn.LSTM`/`nn.GRU` (one fused call per sequence).
Sampling goes one symbol at a time through `stepper()`, the same network
folded into numpy arrays (stepper.py).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import TunesmithError
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

    def forward_with_hidden(self, ids: torch.Tensor, state: State | None = None):
        """Like forward, and also every layer's hidden outputs: [(B, T, H)] * layers.

        nn.LSTM/nn.GRU return only the last layer's outputs, so the stack is
        run one layer at a time through a one-layer module holding that
        layer's weights (the same arithmetic; equal to forward up to rounding).
        """
        c = self.config
        rnn_class = nn.LSTM if c.cell == "lstm" else nn.GRU
        if state is None:
            state = self.initial_state(ids.shape[0])
        x = self.embed(ids)                      # (B, T, E)
        hidden, finals = [], []
        for i in range(c.layers):
            single = rnn_class(x.shape[-1], c.hidden, num_layers=1, batch_first=True).to(x.device)
            weights = {f"{name}_l0": getattr(self.rnn, f"{name}_l{i}")
                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            layer_state = tuple(s[i:i + 1] for s in state) if c.cell == "lstm" else state[i:i + 1]
            out, final = torch.func.functional_call(single, weights, (x, layer_state))  # (B, T, H)
            hidden.append(out)
            finals.append(final)
            # nn.LSTM's dropout between layers, in training only
            x = nn.functional.dropout(out, c.dropout, self.training) if i < c.layers - 1 else out
        if c.cell == "lstm":
            new_state = (torch.cat([f[0] for f in finals]), torch.cat([f[1] for f in finals]))
        else:
            new_state = torch.cat(finals)
        return self.head(self.drop(x)), new_state, hidden  # (B, T, V), state, [(B, T, H)]

    def stepper(self):
        """The network folded for sampling one symbol at a time (see stepper.py).

        Folding costs ~60 ms for the `seed` preset, more than a short tune's
        sampling: it is kept and reused until a weight changes (a training
        step or a load bumps the tensors' version counters) or moves.

        After `sample_in_int8()` (`generate --int8`), the stepper multiplies
        by 8-bit copies of the recurrent matrices (stepper.Int8Stepper).
        """
        from .stepper import Int8Stepper, Stepper

        kind = Int8Stepper if self.__dict__.get("int8") else Stepper
        weights = (kind, tuple((p.data_ptr(), p._version) for p in self.parameters()))
        kept = self.__dict__.get("_folded")
        if kept is None or kept[0] != weights:
            kept = self.__dict__["_folded"] = (weights, kind(self))
        return kept[1]

    def sample_in_int8(self, on: bool = True) -> None:
        """Sample with 8-bit recurrent weights (about 1.35x faster on one stream, slightly other numbers; a CPU only)."""
        from .stepper import int8_available

        if on and not int8_available():
            raise TunesmithError(f"--int8: this torch ({torch.__version__}) has no 8-bit weight product")
        self.__dict__["int8"] = on
