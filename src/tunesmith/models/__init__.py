"""Networks by name; every one follows `forward(ids, state) -> (logits, state)`."""

from .config import ARCHS, DEFAULT_PRESETS, PRESETS, ModelConfig, Preset, TrainConfig, check_arch, get_preset
from .rnn import CharRNN
from .transformer import Transformer

MODELS = {"lstm": CharRNN, "gru": CharRNN, "transformer": Transformer}
Model = CharRNN | Transformer


def build_model(config: ModelConfig) -> Model:
    """The network a config describes, freshly initialised."""
    if config.cell not in MODELS:
        raise ValueError(f"unknown architecture {config.cell!r} (choose {', '.join(ARCHS)})")
    return MODELS[config.cell](config)


__all__ = ["ARCHS", "DEFAULT_PRESETS", "MODELS", "PRESETS", "CharRNN", "Model", "ModelConfig", "Preset",
           "TrainConfig", "Transformer", "build_model", "check_arch", "get_preset"]
