"""A decoder-only causal transformer over the same symbols: `--arch transformer`.

Pre-norm blocks (LayerNorm -> causal multi-head self-attention -> residual;
LayerNorm -> GELU MLP -> residual), learned positions, a final LayerNorm,
and the output layer tied to the symbol embedding (logits = x @ E^T + b).

It keeps the contract of every model, `forward(ids, state) -> (logits,
state)`, so the trainer, `evaluate` and the sampler need no special case:
training reads windows of the same contiguous streams as the RNNs, and the
state is simply None (nothing is carried from one window to the next).
A window may not be longer than `context`, the positions the model has.

Sampling goes one symbol at a time through `stepper()`: the weights folded
into numpy with a key/value cache (kvcache.py), so one symbol costs one step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import ModelConfig


def kept(context: int) -> int:
    """Symbols a full key/value cache keeps when it slides (kvcache.py): half the context."""
    return max(1, context // 2)


class Block(nn.Module):
    """One pre-norm decoder block."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        width, ff = c.hidden, c.ff or 4 * c.hidden
        self.heads = c.heads
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, ff)
        self.fc2 = nn.Linear(ff, width)
        self.p = c.dropout

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, t, width = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(width, -1)
        shape = (b, t, self.heads, width // self.heads)
        return tuple(z.view(shape).transpose(1, 2) for z in (q, k, v))  # (B, H, T, Dh) each

    def _rest(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        b, _, t, _ = attended.shape
        drop = nn.functional.dropout
        x = x + drop(self.proj(attended.transpose(1, 2).reshape(b, t, -1)), self.p, self.training)
        h = nn.functional.gelu(self.fc1(self.ln2(x)), approximate="tanh")
        return x + drop(self.fc2(h), self.p, self.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(x)
        attended = nn.functional.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.p if self.training else 0.0)
        return self._rest(x, attended)

    def forward_with_weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Like forward (without attention dropout), and the attention weights (B, H, T, T)."""
        q, k, v = self._split(x)
        t = x.shape[1]
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        future = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        weights = torch.softmax(scores.masked_fill(future, float("-inf")), -1)
        return self._rest(x, weights @ v), weights


class Transformer(nn.Module):
    """Decoder-only causal transformer with the CharRNN call shape."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        c = config
        if c.cell != "transformer":
            raise ValueError(f"not a transformer config (cell {c.cell!r})")
        if c.embedding != c.hidden:
            raise ValueError(f"embedding {c.embedding} must equal hidden {c.hidden} (tied output)")
        if c.heads < 1 or c.hidden % c.heads:
            raise ValueError(f"hidden {c.hidden} does not divide into {c.heads} heads")
        if c.context < 1:
            raise ValueError(f"context must be at least 1 (got {c.context})")
        self.config = config
        self.window = c.context  # the longest input one forward call takes
        self.embed = nn.Embedding(c.vocab_size, c.hidden)
        self.pos = nn.Embedding(c.context, c.hidden)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.layers))
        self.ln_f = nn.LayerNorm(c.hidden)
        # The output matrix is the embedding (tied); only its bias is its own. Not an
        # nn.Linear sharing the tensor: safetensors refuses a tensor stored twice.
        self.out_bias = nn.Parameter(torch.zeros(c.vocab_size))
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def initial_state(self, batch: int) -> None:
        """No state: each window is read on its own."""
        return None

    def _inputs(self, ids: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        if t > self.window:
            raise ValueError(f"a window of {t} symbols is longer than the model's context {self.window}")
        positions = torch.arange(t, device=ids.device)
        return self.drop(self.embed(ids) + self.pos(positions))

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln_f(x) @ self.embed.weight.T + self.out_bias

    def forward(self, ids: torch.Tensor, state: None = None):
        """ids (B, T), T <= context -> logits (B, T, V), None (the state is not carried)."""
        x = self._inputs(ids)
        for block in self.blocks:
            x = block(x)
        return self._logits(x), None

    def forward_with_hidden(self, ids: torch.Tensor, state: None = None):
        """Like forward (for any length, see read_long), and each block's output (the residual
        stream): [(B, T, hidden)] * layers."""
        logits, hidden, _ = self.read_long(ids)
        return logits, None, hidden

    def read_long(self, ids: torch.Tensor):
        """forward_with_attention over any length, in the windows the sampler's sliding cache sees.

        Up to `context` symbols it is one window. Beyond, position t is read
        in the window the cache holds when the sampler reaches t: windows
        start every `context - kept` symbols and each gives the outputs of
        its positions after the `kept` it re-reads. Attention weights are
        placed at absolute positions (B, H, T, T); keys outside a query's
        window get 0.
        """
        c, t = self.window, ids.shape[1]
        if t <= c:
            return self.forward_with_attention(ids)
        keep = kept(c)
        logits = hidden = weights = None
        start = 0
        while True:
            first = start + (keep if start else 0)   # the first position this window answers for
            if first >= t:
                break
            w_logits, w_hidden, w_weights = self.forward_with_attention(ids[:, start:start + c])
            if logits is None:
                b = ids.shape[0]
                logits = w_logits.new_zeros(b, t, w_logits.shape[-1])
                hidden = [h.new_zeros(b, t, h.shape[-1]) for h in w_hidden]
                weights = [w.new_zeros(b, w.shape[1], t, t) for w in w_weights]
            end = min(start + c, t)
            used = slice(first - start, end - start)
            logits[:, first:end] = w_logits[:, used]
            for whole, part in zip(hidden, w_hidden):
                whole[:, first:end] = part[:, used]
            for whole, part in zip(weights, w_weights):
                whole[:, :, first:end, start:end] = part[:, :, used]
            start += c - keep
        return logits, hidden, weights

    def forward_with_attention(self, ids: torch.Tensor):
        """Logits, each block's output [(B, T, D)], and each block's attention weights [(B, H, T, T)]."""
        x = self._inputs(ids)
        hidden, weights = [], []
        for block in self.blocks:
            x, w = block.forward_with_weights(x)
            hidden.append(x)
            weights.append(w)
        return self._logits(x), hidden, weights

    def stepper(self):
        """The network folded for sampling one symbol at a time, with a key/value cache (kvcache.py)."""
        from .kvcache import KVStepper

        return KVStepper(self)
