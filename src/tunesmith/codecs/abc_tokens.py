"""The ABC token codec (`--codec abc-tokens`): musical tokens in the folk-rnn manner.

One token per note with its accidental and octave (`^c'`), per length
(`3/2`), per bar line (`:|2`), tuplet (`(3`), broken rhythm, decoration,
chord bracket, chord symbol (`"Am"`), field name (`M:`) and header field
value (`6/8`, `Dmix`); free text (titles) stays one token per character.
Tokens are cut from the lexer's output, so `"".join(tokens) == text` and the
round trip is lossless. A token the vocabulary lacks is spelled out in
characters when it can be, and is an error only when a character is unknown.
"""

from __future__ import annotations

import re

from ..music.abc.lexer import tokens as lex
from .base import Codec

_VALUE_FIELDS = frozenset("MLKRQP")         # a value from a small set: one token (X: numbers are digits)
_CHORD_SYMBOL = re.compile(r'"[A-G][#b]?[a-z0-9+#b/()A-G]{0,8}"')
_PITCH = re.compile(r"(?:\^\^|\^|__|_|=)?[A-Ga-g][,']*")


def abc_tokens(text: str) -> list[str]:
    """The token strings of an ABC text; they join back to the text."""
    out: list[str] = []
    for tok in lex(text):
        kind, body = tok.kind, tok.text
        if kind == "field":
            name, value = body[:2], body[2:]
            out.append(name)
            if value:
                out.extend([value] if name[0] in _VALUE_FIELDS else list(value))
        elif kind == "note":
            pitch = _PITCH.match(body).group()
            out.append(pitch)
            if len(body) > len(pitch):
                out.append(body[len(pitch):])
        elif kind in ("rest", "chord_close", "measure_rest"):
            out.append(body[0])
            if len(body) > 1:
                out.append(body[1:])
        elif kind == "chord_symbol" and not _CHORD_SYMBOL.fullmatch(body):
            out.extend(body)                    # an annotation: free text
        elif kind in ("comment", "space") and len(body) > 1:
            out.extend(body)
        else:
            out.append(body)
    return out


class TokenCodec(Codec):
    """Vocabulary: every token and every character of the training texts."""

    name = "abc-tokens"
    unit = "token"

    @classmethod
    def fit(cls, texts: list[str]) -> "TokenCodec":
        """Tokens and single characters seen in the texts (characters are the fallback)."""
        vocab = {"\n"}
        for text in texts:
            vocab.update(abc_tokens(text))
            vocab.update(text)
        return cls(sorted(vocab))

    def encode(self, text: str, where: str = "text") -> list[int]:
        """Ids of the tokens; an unknown token is spelled in characters."""
        ids: list[int] = []
        for token in abc_tokens(text):
            if token in self.index:
                ids.append(self.index[token])
                continue
            if any(ch not in self.index for ch in token):
                raise self.unknown_error(text, where)
            ids.extend(self.index[ch] for ch in token)
        return ids
