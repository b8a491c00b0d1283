"""What every codec does: turn a piece into ids and back, losslessly."""

from __future__ import annotations

from abc import ABC, abstractmethod

from ..errors import TunesmithError


class Codec(ABC):
    """A vocabulary of symbols and the two directions between text and ids."""

    name: str = ""
    unit: str = "symbol"   # what one symbol is called in figures: char, token, event, bol

    def __init__(self, vocab: list[str]):
        self.vocab = list(vocab)
        self.index = {s: i for i, s in enumerate(self.vocab)}

    @classmethod
    @abstractmethod
    def fit(cls, texts: list[str]) -> "Codec":
        """Build the vocabulary from training texts."""

    @abstractmethod
    def encode(self, text: str, where: str = "text") -> list[int]:
        """Ids of a text; `where` names it in the error for an unknown symbol."""

    def decode(self, ids: list[int]) -> str:
        """Text of ids (every symbol is a piece of text); decode(encode(t)) == t."""
        return "".join(self.vocab[i] for i in ids)

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` outside the vocabulary, each once, in order."""
        return list(dict.fromkeys(ch for ch in text if ch not in self.index))

    def unknown_error(self, text: str, where: str) -> TunesmithError:
        """The error for a text with characters the model has never seen."""
        known = "".join(s for s in self.vocab if len(s) == 1 and s.isprintable())
        return TunesmithError(
            f"{where}: characters {''.join(self.unknown(text))!r} are not in the model's vocabulary "
            f"(it knows {known!r})"
        )

    def __len__(self) -> int:
        return len(self.vocab)

    def to_dict(self) -> dict:
        """What a checkpoint stores to rebuild this codec."""
        return {"name": self.name, "vocab": self.vocab}
