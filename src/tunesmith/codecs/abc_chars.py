"""The character codec: one symbol per character of canonical ABC."""

from __future__ import annotations

from ..errors import TunesmithError
from .base import Codec


class CharCodec(Codec):
    """Characters seen in training, sorted; any other character is an error."""

    name = "abc-chars"

    @classmethod
    def fit(cls, texts: list[str]) -> "CharCodec":
        """Vocabulary: every character of the texts, plus newline (the tune boundary)."""
        chars = {"\n"}
        for text in texts:
            chars.update(text)
        return cls(sorted(chars))

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` outside the vocabulary, each once, in order."""
        return list(dict.fromkeys(ch for ch in text if ch not in self.index))

    def encode(self, text: str, where: str = "text") -> list[int]:
        """Ids of the characters; an unseen character raises TunesmithError."""
        try:
            return [self.index[ch] for ch in text]
        except KeyError:
            bad = "".join(self.unknown(text))
            raise TunesmithError(
                f"{where}: characters {bad!r} are not in the model's vocabulary "
                f"(it knows {''.join(c for c in self.vocab if c.isprintable())!r})"
            ) from None

    def decode(self, ids: list[int]) -> str:
        """The characters of the ids, joined."""
        return "".join(self.vocab[i] for i in ids)
