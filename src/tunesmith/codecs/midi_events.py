"""The MIDI event codec: one id per token of the MIDI text notation (Bar, Pos_, Pitch_, Dur_, Vel_, ...).

Tokens are separated by one space and bars by a line break (see
`music/midi.py`), so decoding joins tokens with spaces and keeps line
breaks: decode(encode(text)) == text for every text in that form.
"""

from __future__ import annotations

import re

from ..errors import TunesmithError
from ..music.midi import split_token
from .base import Codec

_KIND_ORDER = {"Bar": 0, "Tempo": 1, "TS": 2, "Pos": 3, "Vel": 4, "Pitch": 5, "Drum": 6, "Dur": 7}
_SYMBOL = re.compile(r"\n|[^ \n]+")


def _order(token: str) -> tuple:
    kind, value = split_token(token)
    return _KIND_ORDER[kind], value if isinstance(value, tuple) else (value or 0,)


class MidiEventCodec(Codec):
    """A vocabulary of "\\n" and the corpus's event tokens, ordered by kind and value (Pitch_60 before Pitch_62)."""

    name = "midi-events"
    unit = "event"

    @classmethod
    def fit(cls, texts: list[str]) -> "MidiEventCodec":
        """Every token that occurs in the texts, and the line break."""
        tokens: set[str] = set()
        for text in texts:
            tokens.update(text.split())
        for token in tokens:
            try:
                split_token(token)
            except ValueError as exc:
                raise TunesmithError(f"MIDI corpus: {exc}") from None
        return cls(["\n"] + sorted(tokens, key=_order))

    def encode(self, text: str, where: str = "text") -> list[int]:
        """Ids of the tokens and line breaks of `text`; unknown tokens are an error naming `where`."""
        symbols = _SYMBOL.findall(text)
        try:
            return [self.index[s] for s in symbols]
        except KeyError:
            raise self.unknown_error(text, where) from None

    def decode(self, ids: list[int]) -> str:
        """Tokens joined by single spaces, line breaks kept."""
        out: list[str] = []
        for i in ids:
            symbol = self.vocab[i]
            if out and symbol != "\n" and out[-1] != "\n":
                out.append(" ")
            out.append(symbol)
        return "".join(out)

    def unknown(self, text: str) -> list[str]:
        """Tokens of `text` outside the vocabulary, each once, in order."""
        return list(dict.fromkeys(s for s in _SYMBOL.findall(text) if s not in self.index))

    def unknown_error(self, text: str, where: str) -> TunesmithError:
        """The error for a text with tokens the model has never seen."""
        missing = self.unknown(text)
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        return TunesmithError(f"{where}: the model has never seen {shown} (its vocabulary has {len(self)} tokens "
                              f"from the corpus it learned)")
