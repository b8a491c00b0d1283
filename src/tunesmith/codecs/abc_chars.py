"""The character codec: one symbol per character of canonical ABC."""

from __future__ import annotations

from .base import Codec


class CharCodec(Codec):
    """Characters seen in training, sorted; any other character is an error."""

    name = "abc-chars"
    unit = "char"

    @classmethod
    def fit(cls, texts: list[str]) -> "CharCodec":
        """Vocabulary: every character of the texts, plus newline (the tune boundary)."""
        chars = {"\n"}
        for text in texts:
            chars.update(text)
        return cls(sorted(chars))

    def encode(self, text: str, where: str = "text") -> list[int]:
        """Ids of the characters; an unseen character raises TunesmithError."""
        try:
            return [self.index[ch] for ch in text]
        except KeyError:
            raise self.unknown_error(text, where) from None
