"""What every codec does: turn a piece into ids and back, losslessly."""

from __future__ import annotations

from abc import ABC, abstractmethod


class Codec(ABC):
    """A vocabulary of symbols and the two directions between text and ids."""

    name: str = ""

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

    @abstractmethod
    def decode(self, ids: list[int]) -> str:
        """Text of ids; decode(encode(t)) == t."""

    def __len__(self) -> int:
        return len(self.vocab)

    def to_dict(self) -> dict:
        """What a checkpoint stores to rebuild this codec."""
        return {"name": self.name, "vocab": self.vocab}
