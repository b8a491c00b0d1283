"""Model and training configurations, and the presets that name them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..errors import TunesmithError


@dataclass(frozen=True)
class ModelConfig:
    """What builds a network; saved in every checkpoint."""

    cell: str = "lstm"        # "lstm" or "gru"
    vocab_size: int = 0       # set from the codec when training starts
    embedding: int = 512      # width of the symbol embedding
    hidden: int = 256         # width of each recurrent layer
    layers: int = 3           # recurrent layers, stacked
    dropout: float = 0.2      # after each recurrent layer, in training only

    def to_dict(self) -> dict:
        """Plain JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """Inverse of to_dict; unknown keys are an error, not ignored."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise TunesmithError(f"model config has unknown keys {sorted(unknown)}")
        return cls(**data)


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
}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a clear error listing the choices."""
    try:
        return PRESETS[name]
    except KeyError:
        raise TunesmithError(
            f"--preset: unknown preset {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None
