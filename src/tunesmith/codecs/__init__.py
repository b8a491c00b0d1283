"""Codecs by name: the registry a checkpoint's `codec.name` is looked up in."""

from __future__ import annotations

from ..errors import TunesmithError
from .abc_chars import CharCodec
from .abc_tokens import TokenCodec
from .base import Codec
from .midi_events import MidiEventCodec
from .tabla_bols import BolCodec

CODECS: dict[str, type[Codec]] = {CharCodec.name: CharCodec, TokenCodec.name: TokenCodec}
CODECS[MidiEventCodec.name] = MidiEventCodec
CODECS[BolCodec.name] = BolCodec


def get_codec(name: str) -> type[Codec]:
    """The codec class called `name`, or a clear error listing the choices."""
    if name not in CODECS:
        raise TunesmithError(f"--codec: unknown codec {name!r}; choose one of {', '.join(CODECS)}")
    return CODECS[name]


def codec_from_dict(data: dict) -> Codec:
    """Rebuild a codec saved by `Codec.to_dict`."""
    name = data.get("name")
    if name not in CODECS:
        raise TunesmithError(f"unknown codec {name!r}; this tunesmith knows {', '.join(CODECS)}")
    vocab = data.get("vocab")
    if not isinstance(vocab, list) or not all(isinstance(s, str) for s in vocab):
        raise TunesmithError("codec vocabulary must be a list of strings")
    return CODECS[name](vocab)


__all__ = ["CODECS", "Codec", "codec_from_dict", "get_codec"]
