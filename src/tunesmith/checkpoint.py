"""Checkpoints: `model.safetensors` + `config.json`, written atomically.

config.json holds the model config, the codec and its vocabulary, the corpus
(sources and hashes), the training config and history, and versions. A
training run's `latest/` also has `training_state.safetensors` (optimizer,
random state, carried hidden state) for exact resume. Nothing is unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .atomic import folder_atomic, settled
from .codecs import Codec, codec_from_dict
from .errors import TunesmithError
from .models import CharRNN, ModelConfig, build_model
from .models.copy import CopyModel

FORMAT = "tunesmith-checkpoint"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TRAINING_STATE = "training_state.safetensors"
# The checkpoints shipped with tunesmith (`make models` writes them): one folder per mode's model.
SHIPPED_MODELS = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL = SHIPPED_MODELS / "default"


@dataclass
class Checkpoint:
    """A model ready to sample, its codec, and everything config.json said."""

    path: Path
    model: CharRNN
    codec: Codec
    meta: dict

    @property
    def copy(self) -> CopyModel | None:
        """The fitted copy model mixed into sampling (models/copy.py), or None when it has none."""
        data = self.meta.get("copy")
        if not data:
            return None
        try:
            return CopyModel.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise TunesmithError(f"{self.path / CONFIG}: invalid \"copy\" section ({exc})") from None


def write_checkpoint(
    path: Path, model: CharRNN, codec: Codec, meta: dict,
    training_state: dict[str, torch.Tensor] | None = None, extra_files: dict[str, str] | None = None,
) -> None:
    """Write a checkpoint folder atomically: build it beside, then swap it in."""
    with folder_atomic(path) as tmp:
        weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(weights, str(tmp / WEIGHTS))
        if training_state is not None:
            save_file({k: v.contiguous() for k, v in training_state.items()}, str(tmp / TRAINING_STATE))
        config = {
            "format": FORMAT,
            "versions": {"tunesmith": __version__, "torch": torch.__version__},
            "model": model.config.to_dict(),
            "codec": codec.to_dict(),
            **meta,
        }
        (tmp / CONFIG).write_text(json.dumps(config, indent=1) + "\n")
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)


def resolve_model_dir(path: Path) -> Path:
    """A training run's folder means its best checkpoint; a checkpoint means itself.

    A checkpoint whose writer was killed while swapping it in is read where
    its previous version was set aside (`atomic.settled`).
    """
    path = Path(path)
    if (settled(path / "best") / CONFIG).is_file():
        return settled(path / "best")
    return settled(path)


def read_config(path: Path) -> dict:
    """config.json of a checkpoint folder (or the version a killed writer set aside), checked to be one of ours."""
    path = settled(Path(path))
    if not path.is_dir():
        raise TunesmithError(f"{path}: no such checkpoint folder")
    file = path / CONFIG
    if not file.is_file():
        raise TunesmithError(f"{path}: not a tunesmith checkpoint (no {CONFIG})")
    try:
        config = json.loads(file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TunesmithError(f"{file}: corrupt checkpoint config ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise TunesmithError(f"{file}: not a tunesmith checkpoint config (format is not {FORMAT!r})")
    for key in ("model", "codec"):
        if not isinstance(config.get(key), dict):
            raise TunesmithError(f"{file}: corrupt checkpoint config (no {key!r} section)")
    return config


def read_tensors(file: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, with a clear error when it is broken."""
    if not file.is_file():
        raise TunesmithError(f"{file}: missing")
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise TunesmithError(f"{file}: corrupt weights file ({exc})") from None


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> Checkpoint:
    """Rebuild model and codec from a checkpoint folder (or a run's best one), the model on `device`.

    The weights are read onto the CPU and then moved: a checkpoint written
    on any device loads on any other (they are saved from CPU tensors).
    """
    path = resolve_model_dir(path)
    config = read_config(path)
    try:
        model_config = ModelConfig.from_dict(config["model"])
        model = build_model(model_config)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TunesmithError(f"{path / CONFIG}: invalid model config ({exc})") from None
    codec = codec_from_dict(config["codec"])
    if len(codec) != model_config.vocab_size:
        raise TunesmithError(
            f"{path / CONFIG}: the vocabulary has {len(codec)} symbols but the model expects {model_config.vocab_size}"
        )
    weights = read_tensors(path / WEIGHTS)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    wrong = sorted(k for k in set(expected) & set(weights) if weights[k].shape != expected[k].shape)
    if missing or extra or wrong:
        detail = "; ".join(
            f"{label} {names[:3]}" for label, names in
            (("missing", missing), ("unexpected", extra), ("wrong shape", wrong)) if names
        )
        raise TunesmithError(f"{path / WEIGHTS}: weights do not match the model in {CONFIG} ({detail})")
    model.load_state_dict(weights)
    model.to(device).eval()
    return Checkpoint(path, model, codec, config)
