"""The tabla bol codec (`tabla-bols`): one symbol per bol, mark and header line.

Symbols of a canonical composition (see music.tabla.notation): each header
line (`tala: teentaal`, `form: kaida`) is one symbol, and so is each bol
(compounds like Tirakita included), `-`, `[`, `]`, `|`, `||` and the newline.
Spaces are not symbols: canonical text has exactly one space between
symbols on a line except inside brackets' edges, so decoding puts them back
and the round trip is lossless. Anything else is refused on encode.
"""

from __future__ import annotations

import re

from ..errors import TunesmithError
from .base import Codec

_BODY_TOKEN = re.compile(r"\|\||\||\[|\]|[^\s\[\]|]+")
MARKS = ("\n", "|", "||", "[", "]", "-")
TALA_HEADER = "tala: "


def known_talas(vocab: list[str]) -> list[str]:
    """The talas a vocabulary has a `tala:` header for, in its order: a model writes only in those (the
    writer refuses any other), so a form offers only these."""
    return [s[len(TALA_HEADER):] for s in vocab if s.startswith(TALA_HEADER)]


def bol_tokens(text: str) -> list[str]:
    """The symbols of a text: header lines whole, body lines split into bols and marks."""
    out: list[str] = []
    for line in text.split("\n"):
        if ":" in line:
            out.append(line)
        else:
            out.extend(_BODY_TOKEN.findall(line))
        out.append("\n")
    return out[:-1]


def join_tokens(tokens: list[str]) -> str:
    """Canonical text of symbols: one space between symbols on a line, none inside brackets' edges."""
    parts: list[str] = []
    prev = "\n"
    for tok in tokens:
        if prev != "\n" and tok != "\n" and prev != "[" and tok != "]":
            parts.append(" ")
        parts.append(tok)
        prev = tok
    return "".join(parts)


class BolCodec(Codec):
    """Vocabulary: the marks, and every bol and header line of the training texts."""

    name = "tabla-bols"
    unit = "bol"

    @classmethod
    def fit(cls, texts: list[str]) -> "BolCodec":
        """Marks plus the symbols seen in the texts, header lines first."""
        seen = {tok for text in texts for tok in bol_tokens(text)} - set(MARKS)
        headers = sorted(s for s in seen if ":" in s)
        return cls(list(MARKS) + headers + sorted(seen - set(headers)))

    def encode(self, text: str, where: str = "text") -> list[int]:
        """Ids of a canonical text; unknown symbols and non-canonical spacing are errors."""
        tokens = bol_tokens(text)
        unknown = list(dict.fromkeys(t for t in tokens if t not in self.index))
        if unknown:
            bols = " ".join(s for s in self.vocab if s not in MARKS and ":" not in s)
            raise TunesmithError(f"{where}: {', '.join(map(repr, unknown))} not in the model's vocabulary "
                                 f"(it knows the bols {bols})")
        if join_tokens(tokens) != text:
            raise TunesmithError(f"{where}: not canonical tabla text (spacing or layout); "
                                 "read it with tunesmith's tabla reader first")
        return [self.index[t] for t in tokens]

    def decode(self, ids: list[int]) -> str:
        """Canonical text of ids; decode(encode(t)) == t."""
        return join_tokens([self.vocab[i] for i in ids])

    def is_header(self, symbol_id: int) -> bool:
        """Whether the symbol is a whole header line (`tala: ...`, `form: ...`)."""
        return ":" in self.vocab[symbol_id]
