"""Masks for constrained sampling, cached per distinct automaton state.

Checking every vocabulary symbol against the ABC automaton costs about a
millisecond; a tune revisits the same few hundred states (time used in the
bar, what is open), so each state's mask is computed once per codec and
reused by every stream and every later request.
"""

from __future__ import annotations

import weakref

import numpy as np

from .codecs.base import Codec
from .music.abc.wellformed import HEADER_PREFIXES, HEADER_VALUES, State, feed_text, mask_key, reader_of

_CACHES: "weakref.WeakKeyDictionary[Codec, MaskCache]" = weakref.WeakKeyDictionary()
# Outside chord symbols, decorations and field lines (and unless a tie asks
# for one spelling), the automaton treats every note letter alike, and every
# letter that means nothing in a tune body alike: one of each is checked.
_LITERAL_CONTEXTS = frozenset({"quote", "deco", "field"})
_NOTE_LETTERS = frozenset("ABCDEFGabcdefg")
_OTHER_LETTERS = frozenset("HIJLMNOQRSTUVWXYhijklmnopqrstuvwy")


def _group(symbol: str) -> str:
    """The symbol that stands for `symbol` when masks are computed outside literal contexts."""
    if symbol in _NOTE_LETTERS:
        return "C"
    if symbol in _OTHER_LETTERS:
        return "H"
    return symbol


class MaskCache:
    """Allowed next symbols and next states of the ABC automaton, for one codec's vocabulary."""

    def __init__(self, codec: Codec):
        self.symbols = list(codec.vocab)
        groups = [_group(sym) for sym in self.symbols]
        self.representatives = list(dict.fromkeys(groups))
        self.group = np.array([self.representatives.index(g) for g in groups])
        self.single = all(len(g) == 1 for g in self.representatives)
        self.masks: dict[State, np.ndarray] = {}      # by mask_key: what is computed
        self.by_state: dict[State, np.ndarray] = {}   # by the state itself: the fast path
        self.steps: dict[tuple[State, int], State | None] = {}
        self.headers: dict[tuple[str, str], np.ndarray] = {}

    def mask(self, state: State) -> np.ndarray:
        """Bool (V,): which symbols may follow `state`."""
        found = self.by_state.get(state)
        if found is None:
            found = self.by_state[state] = self._mask(mask_key(state))
        return found

    def _mask(self, key: State) -> np.ndarray:
        found = self.masks.get(key)
        if found is None:
            if key.ctx in _LITERAL_CONTEXTS or key.tie is not None:
                found = np.fromiter((feed_text(key, sym) is not None for sym in self.symbols),
                                    dtype=bool, count=len(self.symbols))
            elif self.single:  # one character of each group stands for the group
                read = reader_of(key)
                found = np.array([read(key, ch) is not None for ch in self.representatives])[self.group]
            else:
                found = np.fromiter((feed_text(key, sym) is not None for sym in self.representatives),
                                    dtype=bool, count=len(self.representatives))[self.group]
            self.masks[key] = found
        return found

    def header_mask(self, line: str) -> np.ndarray | None:
        """While the model writes a K:, M: or L: line itself: only values tunesmith can read. None elsewhere."""
        field = line[:1]
        if line[1:2] != ":" or field not in HEADER_VALUES:
            return None
        value = line[2:]
        key = (field, value)
        found = self.headers.get(key)
        if found is None:
            prefixes, full = HEADER_PREFIXES[field], HEADER_VALUES[field]
            found = self.headers[key] = np.fromiter(
                ((value in full) if sym == "\n" else ("\n" not in sym and value + sym in prefixes)
                 for sym in self.symbols), dtype=bool, count=len(self.symbols))
        return found if found.any() else None

    def next(self, state: State, symbol: int) -> State | None:
        """The state after `symbol`, or None when it would break the tune."""
        key = (state, symbol)
        try:
            return self.steps[key]
        except KeyError:
            after = feed_text(state, self.symbols[symbol])
            self.steps[key] = after
            return after


def mask_cache(codec: Codec) -> MaskCache:
    """The shared cache of a codec (one per loaded checkpoint)."""
    cache = _CACHES.get(codec)
    if cache is None:
        cache = _CACHES[codec] = MaskCache(codec)
    return cache
