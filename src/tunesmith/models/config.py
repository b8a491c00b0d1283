"""Model and training configurations, and the presets that name them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..errors import TunesmithError


@dataclass(frozen=True)
class ModelConfig:
    """What builds a network; saved in every checkpoint."""

    cell: str = "lstm"        # the architecture: "lstm", "gru" or "transformer" (`--arch`)
    vocab_size: int = 0       # set from the codec when training starts
    embedding: int = 512      # width of the symbol embedding (a transformer's: equal to hidden, tied to the output)
    hidden: int = 256         # width of each recurrent layer (a transformer's model width)
    layers: int = 3           # recurrent layers (transformer blocks), stacked
    dropout: float = 0.2      # after each recurrent layer (in each block), in training only
    # transformer only (an RNN's config.json leaves them out, so RNN checkpoints are as before):
    heads: int = 4            # attention heads per block; hidden must divide by it
    context: int = 256        # positions (learned): the longest window the model reads at once
    ff: int = 0               # width of each block's MLP (0: 4 x hidden)

    def to_dict(self) -> dict:
        """Plain JSON-able form (an RNN's without the transformer-only fields)."""
        data = asdict(self)
        if self.cell != "transformer":
            for name in TRANSFORMER_FIELDS:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """Inverse of to_dict; unknown keys are an error, not ignored."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise TunesmithError(f"model config has unknown keys {sorted(unknown)}")
        return cls(**data)


TRANSFORMER_FIELDS = ("heads", "context", "ff")
ARCHS = ("lstm", "gru", "transformer")


@dataclass(frozen=True)
class TrainConfig:
    """How a network is trained; saved with the run so that resume is exact."""

    batch: int = 16           # contiguous streams trained side by side
    seq: int = 64             # steps of truncated back-propagation through time
    lr: float = 2e-3          # Adam learning rate
    clip: float = 5.0         # gradient norm clip
    epochs: int = 30          # total epochs of the run
    seed: int = 0             # seeds weights, dropout and the data order
    checkpoint_every: int = 1  # write `latest` every N epochs (and on Ctrl-C)
    weight_decay: float = 0.0  # decoupled weight decay (AdamW) when above 0; plain Adam at 0
    patience: int = 0         # stop when held-out bits have not improved for this many epochs (0: never)
    minutes: float = 0.0      # stop once this many CPU minutes of training are spent (0: no budget)
    transpose: str = "none"   # ABC: training tunes added in other keys (corpus/augment.py POLICIES)
    chords: str = "none"      # ABC: training tunes added with chord symbols (corpus/augment.py CHORD_POLICIES)
    precision: str = "fp32"   # autocast arithmetic of forward + loss: fp32, bf16 or fp16 (weights stay fp32)

    def to_dict(self) -> dict:
        """Plain JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Inverse of to_dict."""
        return cls(**{k: v for k, v in data.items() if k in {f.name for f in fields(cls)}})


@dataclass(frozen=True)
class Preset:
    """A named pair of model and training settings."""

    description: str
    model: ModelConfig
    train: TrainConfig


PRESETS: dict[str, Preset] = {
    "seed": Preset(
        "the classic char-RNN: embedding 512, 3 x LSTM 256, dropout 0.2, batch 16, seq 64",
        ModelConfig("lstm", 0, 512, 256, 3, 0.2),
        TrainConfig(batch=16, seq=64, lr=2e-3),
    ),
    "small": Preset(
        "fast, for tests and laptops: embedding 64, 2 x LSTM 128, batch 32, seq 64",
        ModelConfig("lstm", 0, 64, 128, 2, 0.1),
        TrainConfig(batch=32, seq=64, lr=3e-3),
    ),
    "large": Preset(
        "embedding 512, 3 x LSTM 512, dropout 0.2, batch 32, seq 100",
        ModelConfig("lstm", 0, 512, 512, 3, 0.2),
        TrainConfig(batch=32, seq=100, lr=1.5e-3),
    ),
    "gru": Preset(
        "the seed preset with GRU cells: embedding 512, 3 x GRU 256",
        ModelConfig("gru", 0, 512, 256, 3, 0.2),
        TrainConfig(batch=16, seq=64, lr=2e-3),
    ),
    "transformer": Preset(
        "decoder-only transformer sized for a CPU: width 256, 4 blocks x 4 heads, MLP 512, context 256, dropout 0.1",
        ModelConfig("transformer", 0, 256, 256, 4, 0.1, heads=4, context=256, ff=512),
        TrainConfig(batch=16, seq=256, lr=1e-3),
    ),
    "transformer-small": Preset(
        "a tiny transformer, for tests and quick tries: width 64, 2 blocks x 2 heads, context 128",
        ModelConfig("transformer", 0, 64, 64, 2, 0.1, heads=2, context=128),
        TrainConfig(batch=16, seq=128, lr=3e-3),
    ),
    "transformer-gpu": Preset(
        "transformer sized for a GPU: width 512, 8 blocks x 8 heads, context 512, dropout 0.1",
        ModelConfig("transformer", 0, 512, 512, 8, 0.1, heads=8, context=512),
        TrainConfig(batch=64, seq=512, lr=6e-4),
    ),
}

DEFAULT_PRESETS = {"lstm": "seed", "gru": "gru", "transformer": "transformer"}


def check_arch(arch: str) -> str:
    """`arch` if tunesmith builds it, else the --arch error."""
    if arch not in ARCHS:
        raise TunesmithError(f"--arch {arch!r}: choose lstm, gru or transformer")
    return arch


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a clear error listing the choices."""
    try:
        return PRESETS[name]
    except KeyError:
        raise TunesmithError(
            f"--preset: unknown preset {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None
