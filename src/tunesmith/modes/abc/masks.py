"""Masks for constrained sampling, cached per distinct automaton state.

Checking every vocabulary symbol against the ABC automaton costs about a
millisecond, and a batch of tunes meets a few thousand distinct states
(time used in the bar, what is open). So a state's mask is filled in
lazily: a symbol is checked the first time the sampler asks about it, and
the sampler asks only about the symbols that could be drawn. What is found
is kept per codec and reused by every stream and every later request.
"""

from __future__ import annotations

import re
import weakref
from typing import Callable

import numpy as np

from ...codecs.base import Codec
from ...errors import TunesmithError
from ...music.abc.wellformed import (HEADER_PREFIXES, HEADER_VALUES, State, can_end, feed_text, mask_key, may_end_now,
                                  reader_of)

_UNSEEN = object()
# A header line starts with a field: a capital letter, then a colon. Not X:, which starts another tune.
_FIELD_START = re.compile(r"(?!X)[A-Z](?::|\Z)")
_KEY_START = re.compile(r"K(?::|\Z)")
# What MaskCache.finish tries, in its order: ends of repeats and bars, rests longest first, notes, closers.
_FINISH_LENGTHS = ("16", "8", "4", "2", "", "/", "//", "12", "6", "3")
_FINISH_MOVES = (":|", "|]", "|", *("z" + w for w in _FINISH_LENGTHS), *("c" + w for w in _FINISH_LENGTHS),
                 '"', "!", "}", "]", ")", "[2", "\n")
_FINISH_STATES = 5_000    # states searched at most (a few dozen find an ending in every case tried)
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


class StateMask:
    """Which symbols may follow one automaton state, each checked the first time it is asked.

    The sampler asks only about the symbols that could be drawn (see
    `sampling.choose`), so most of a state's vocabulary is never checked.
    What is known so far is row `row` of the cache's (`source`) `table`: 1 allowed,
    0 not, -1 not checked; the sampler reads many rows in one go.
    """

    __slots__ = ("row", "source", "_texts", "_members", "_index", "_check", "_full")

    def __init__(self, cache: "MaskCache", key: State):
        self.source, self.row = cache, cache._new_row()
        if key.ctx in _LITERAL_CONTEXTS or key.tie is not None:
            self._texts, self._index, self._members = cache.symbols, None, None
            self._check = lambda text: feed_text(key, text) is not None
        else:  # one character (or token) of each group stands for the group
            self._texts, self._index, self._members = cache.representatives, cache.group_of, cache.members
            if cache.single:
                read = reader_of(key)
                self._check = lambda ch: read(key, ch) is not None
            else:
                self._check = lambda text: feed_text(key, text) is not None
        self._full: np.ndarray | None = None

    @property
    def known(self) -> np.ndarray:
        return self.source.table[self.row]

    def allows(self, symbol: int) -> bool:
        table = self.source.table
        known = table[self.row, symbol]
        if known < 0:
            i = symbol if self._index is None else self._index[symbol]
            known = self._check(self._texts[i])
            self.learn(symbol, known)
        return bool(known)

    def learn(self, symbol: int, allowed: bool) -> None:
        """Record whether `symbol` may follow (found by one of the states that share this mask)."""
        if self._members is None:
            self.source.table[self.row, symbol] = allowed
        else:
            self.source.table[self.row, self._members[self._index[symbol]]] = allowed

    def full(self) -> np.ndarray:
        """Bool (V,) over the whole vocabulary."""
        if self._full is None:
            for symbol in np.flatnonzero(self.known < 0).tolist():
                self.allows(symbol)
            self._full = self.known == 1
        return self._full


class Node:
    """One automaton state as the sampler meets it: its mask, whether a tune may end there, and its steps.

    It is also the sampler's lazy mask for a stream in this state: a
    symbol not yet known is checked by feeding it to the state itself,
    which also gives the state after it, kept for when it is drawn.
    """

    __slots__ = ("state", "mask", "can_end", "may_end_now", "after", "source", "row", "_symbols")

    def __init__(self, state: State, mask: StateMask, symbols: list[str]):
        self.state, self.mask, self._symbols = state, mask, symbols
        self.source, self.row = mask.source, mask.row
        self.can_end = can_end(state)
        self.may_end_now = may_end_now(state)
        self.after: dict[int, Node | State | None] = {}  # a State until it is drawn

    @property
    def known(self) -> np.ndarray:
        return self.mask.known

    def allows(self, symbol: int) -> bool:
        known = self.source.table[self.row, symbol]
        if known < 0:
            after = self.after[symbol] = feed_text(self.state, self._symbols[symbol])
            known = after is not None
            self.mask.learn(symbol, known)
        return bool(known)

    def full(self) -> np.ndarray:
        return self.mask.full()


class MaskCache:
    """Allowed next symbols and next states of the ABC automaton, for one codec's vocabulary."""

    def __init__(self, codec: Codec):
        self.symbols = list(codec.vocab)
        groups = [_group(sym) for sym in self.symbols]
        self.representatives = list(dict.fromkeys(groups))
        self.group_of = [self.representatives.index(g) for g in groups]
        self.members = [np.flatnonzero(np.array(self.group_of) == i) for i in range(len(self.representatives))]
        self.members = [int(m[0]) if len(m) == 1 else m for m in self.members]  # one symbol: a plain index
        self.single = all(len(g) == 1 for g in self.representatives)
        self.table = np.full((256, len(self.symbols)), -1, dtype=np.int8)  # rows of StateMask.known
        self.rows = 0
        self.masks: dict[State, StateMask] = {}      # by mask_key: what is computed
        self.nodes: dict[State, Node] = {}           # by the state itself
        self.fields: dict[tuple[str, bool], np.ndarray] = {}    # field_mask, by the line so far and key_only
        self.headers: dict[tuple[str, str], np.ndarray] = {}    # header_mask, by field and value so far
        self._newline: np.ndarray | None = None
        self.encode = codec.encode

    def _new_row(self) -> int:
        if self.rows == len(self.table):
            self.table = np.concatenate([self.table, np.full_like(self.table, -1)])
        self.rows += 1
        return self.rows - 1

    def node(self, state: State) -> Node:
        """The node of `state`, made once."""
        found = self.nodes.get(state)
        if found is None:
            key = mask_key(state)
            mask = self.masks.get(key)
            if mask is None:
                mask = self.masks[key] = StateMask(self, key)
            found = self.nodes[state] = Node(state, mask, self.symbols)
        return found

    def step(self, node: Node, symbol: int) -> Node | None:
        """The node after `symbol`, or None when it would break the tune."""
        found = node.after.get(symbol, _UNSEEN)
        if type(found) is Node or found is None:
            return found
        if found is _UNSEEN:
            found = feed_text(node.state, self.symbols[symbol])
        found = node.after[symbol] = None if found is None else self.node(found)
        return found

    def mask(self, state: State) -> np.ndarray:
        """Bool (V,): which symbols may follow `state`."""
        return self.node(state).full()

    def next(self, state: State, symbol: int) -> State | None:
        """The state after `symbol`, or None when it would break the tune."""
        found = self.step(self.node(state), symbol)
        return None if found is None else found.state

    def field_mask(self, line: str, key_only: bool = False) -> np.ndarray | None:
        """At the start of a header line: a field (a capital letter but X, then a colon). None further on.

        `key_only`: the K: field only (a header that has run long ends now).
        """
        if len(line) > 1:
            return None
        found = self.fields.get((line, key_only))
        if found is None:
            start = _KEY_START if key_only else _FIELD_START
            found = self.fields[(line, key_only)] = np.fromiter(
                (start.match(line + sym) is not None for sym in self.symbols), dtype=bool, count=len(self.symbols))
        return found

    def finish(self, state: State, accept: Callable[[str], bool] | None = None) -> list[int] | None:
        """A short text (as ids) after which a tune in `state` may end; for a tune near its length cap.

        A depth-first search, likeliest ending first: a repeat's or the tune's
        end, a bar line, the longest rest that fits (a note where a rest may
        not come: a tie, a broken rhythm, a chord symbol waiting for its note),
        what closes a chord symbol, decoration, grace notes or chord. Every
        move is fed to the automaton, so the text keeps the tune well-formed.
        An ending `accept` refuses (the originality guard's) is passed over.
        None when no ending is found (none by design).
        """
        ties = tuple(state.tie + w for w in _FINISH_LENGTHS) if state.tie is not None else ()
        moves = [m for m in (*ties, *_FINISH_MOVES) if self._spelled(m)]
        stack, seen = [("", state)], {state}
        while stack and len(seen) < _FINISH_STATES:
            text, s = stack.pop()
            if text and (may_end_now(s) or (s.ctx == "body" and s.linestart and can_end(s))):
                if accept is None or accept(text):
                    return self.encode(text, "the tune's ending")
            after = [(move, feed_text(s, move)) for move in moves]
            for move, next_state in reversed(after):  # the first move is tried first
                if next_state is not None and next_state not in seen:
                    seen.add(next_state)
                    stack.append((text + move, next_state))
        return None

    def _spelled(self, text: str) -> bool:
        """The codec can write `text`."""
        try:
            self.encode(text, "the tune's ending")
        except TunesmithError:
            return False
        return True

    def newline_mask(self) -> np.ndarray:
        """Only the end of the line."""
        if self._newline is None:
            self._newline = np.array([sym == "\n" for sym in self.symbols], dtype=bool)
        return self._newline

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


def mask_cache(codec: Codec) -> MaskCache:
    """The shared cache of a codec (one per loaded checkpoint)."""
    cache = _CACHES.get(codec)
    if cache is None:
        cache = _CACHES[codec] = MaskCache(codec)
    return cache
