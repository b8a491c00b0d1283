"""Networks by name; every one follows `forward(ids, state) -> (logits, state)`."""

from .config import PRESETS, ModelConfig, Preset, TrainConfig, get_preset
from .rnn import CharRNN

MODELS = {"lstm": CharRNN, "gru": CharRNN}


def build_model(config: ModelConfig) -> CharRNN:
    """The network a config describes, freshly initialised."""
    return MODELS[config.cell](config)


__all__ = ["MODELS", "PRESETS", "CharRNN", "ModelConfig", "Preset", "TrainConfig", "build_model", "get_preset"]
