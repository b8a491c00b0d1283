"""The originality guard: while a tune is sampled, no run of N+1 bars of one training tune is written.

`--max-copy-bars N` (default 3). After each bar the writer finishes, the
guard looks up the tune's last N bars in the index (`originality.BarIndex`):
every bar that follows those N bars in some training tune is *forbidden*
next. While the next bar is written, the guard masks any symbol that would
complete one of its elements (`music.abc.barkeys`) so that the bar's
elements so far are a whole forbidden bar. A bar is whole once something
other than its length follows its last note, so the symbol masked is the
one after that note (a bar line, a space, the next note); where that would
leave the automaton nowhere to go (the bar is full: only its bar line may
follow), the symbol masked is an earlier one. To know which, a symbol is
allowed only when some way to finish the bar from there is neither a
forbidden bar nor runs into one (`_escapes`, a short depth-first search
through the well-formed automaton over the moves in `MOVES`; one is found
within a few characters, as a bar can always take another pitch or
length). So the well-formed guarantee holds: the guard never leaves the
sampler without a symbol, and the masks it narrows are the automaton's.

It is stricter than the rule in one way: a bar whose first elements make a
whole forbidden bar (a short one, such as a pickup before a repeat) is not
written either, though the bar would have gone on past it.

Text the writer forces (a primer, a bar a form echoes, the ending of a
tune near its length cap) is not sampled and so not masked: the form's
echo and the ending ask `copies` first and are not written where they
would complete a copy. A primer is the user's own: the guard goes on from
what it holds. `gave_way` counts the times the guard found no way around a
copy and let the automaton decide (by design never; the tests count it).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

import numpy as np

from ...music.abc.barkeys import bar_elements, elements_of
from ...music.abc.lexer import Token, tokens
from ...music.abc.wellformed import State, feed
from .originality import COPY, FREE, BarIndex, Forbidden

if TYPE_CHECKING:
    from .masks import MaskCache, Node

# What the search tries, in its order: another pitch (a different bar at once), a length, a bar line, then
# the rarer ways a bar can differ: accidentals, octave marks, broken rhythm, a tuplet, a chord's close.
MOVES = tuple("CDEFGABcdefgabz") + ("2", "/", "3", "4", "6", "8", "|", ":", "^", "_", "=", "'", ",", ">", "<",
                                     "(", "]")
# Where the element being read would complete a forbidden bar if it ended now, it must grow first.
GROW_FIRST = ("2", "/", "3", "4", "6", "8", "'", ",") + tuple(m for m in MOVES if m not in "2/3468',")
# Inside what makes no element (a chord symbol, a decoration, grace notes) the search first closes it.
_NAME_CHARS = tuple("ABCDEFGabcdefghijklmnopqrstuvwxyz0123456789#/")
INSIDE = {"quote": ('"',) + _NAME_CHARS, "deco": ("!",) + _NAME_CHARS, "grace": ("}",) + MOVES}
# Characters fed to the automaton by one search at most; far more than a bar's worth of tries.
SEARCH_BUDGET = 4000


def bar_line_started(before: State, after: State) -> bool:
    """The symbol read between the two states began a bar line (or wrote a whole one, as `[|` does).

    A bar line being read (`before` in ctx "bar") began with an earlier symbol, even when this one ends
    it and leaves its text in `bar_line_just_read` (as a space or a `(` after it does).
    """
    if before.ctx == "bar":
        return False
    return after.ctx == "bar" or (bool(after.bar_line_just_read)
                                  and after.bar_line_just_read != before.bar_line_just_read)


class CopyGuard:
    """One tune's guard: its bars so far, what may not come next, and the masks that keep it out."""

    def __init__(self, index: BarIndex, limit: int, rules: "MaskCache", decode: Callable[[list[int]], str]):
        self.index, self.limit, self.rules, self.decode = index, limit, rules, decode
        self.history: list[int] = []          # the tune's bars so far, as index ids (-1: no training tune has it)
        self.bar_open: int | None = None      # where the bar being written starts in the writer's ids
        self.context = ""                     # read before its text: " " unless it starts a line (see bar_so_far)
        self.forbidden: Forbidden | None = None  # what the bar being written may not be (None: anything)
        self.free = True                      # the bar being written can no longer be a forbidden bar
        self.gave_way = 0
        self._escapes_seen: dict[tuple[State, str], bool] = {}
        self.symbol_of = {text: i for i, text in enumerate(rules.symbols)}

    # -- following the tune ---------------------------------------------------------------------
    def start(self, at: int) -> None:
        """The body starts at id `at` (at the start of a line)."""
        self.bar_open, self.context = at, ""
        self._new_bar()

    def step(self, before: State, after: State, ids: list[int]) -> None:
        """The writer read one symbol: a bar line begun closes the bar before it."""
        if self.bar_open is None or not bar_line_started(before, after):
            return
        elements = _bar_elements(self.bar_so_far(ids))
        self.bar_open, self.context = len(ids), " "
        if elements:  # an empty bar (`|` ending a line, `|:` starting the next) is no bar
            self.history.append(self.index.bar_id(elements))
            self._new_bar()

    def _new_bar(self) -> None:
        self.forbidden = self.index.forbidden(self.history, self.limit)
        self.free = self.forbidden is None
        self._escapes_seen = {}

    def bar_so_far(self, ids: list[int]) -> str:
        """The text of the bar being written, from the first symbol after the bar line before it began.

        A bar after a bar line does not start a line: it is read after a space, so that the lexer reads
        it as it reads the whole tune (`A:` opening a line would be a field line; after a bar line it is
        a note and the start of a repeat sign).
        """
        return self.context + self.decode(ids[self.bar_open:])

    # -- masks ----------------------------------------------------------------------------------------
    def mask(self, node: "Node", inner, ids: list[int]):
        """The writer's mask `inner` (the node's, or narrowed by a form) with the guard's own on top."""
        if self.free or self.bar_open is None:
            return inner
        text = self.bar_so_far(ids)
        status = self.forbidden.status(_bar_elements(text, pending=True))
        if status == FREE:
            self.free = True  # no forbidden bar begins so: nothing more to mask in this bar
            return inner
        if status == COPY:  # forced text wrote it (a primer): nothing left to prevent
            self.gave_way += 1
            self.free = True
            return inner
        return Guarded(inner, self, node, text)

    def allows(self, node: "Node", text: str, symbol: int) -> bool:
        """Whether `symbol` may follow (the automaton allows it already): it completes no forbidden bar,
        and the bar can still be finished as another bar."""
        after = self.rules.step(node, symbol)
        if after is None:
            return False
        written = text + self.rules.symbols[symbol]
        status = self.forbidden.status(_bar_elements(written, pending=True))
        if status != COPY and (status == FREE or bar_line_started(node.state, after.state)):
            return True
        return status != COPY and self._escapes(after, written, [SEARCH_BUDGET])

    def _escapes(self, node: "Node", text: str, budget: list[int]) -> bool:
        """Some continuation of the bar from `node` (its text so far `text`) is not a forbidden bar.

        The search steps the automaton through the mask cache's nodes, whose steps are kept: what one
        stream's search found, the next one's reads.
        """
        key = (node.state, text)
        found = self._escapes_seen.get(key)
        if found is not None:
            return found
        found = False
        for move in self._moves(node.state, text):
            if budget[0] <= 0:
                break
            budget[0] -= 1
            after = self._step(node, move)
            if after is None:
                continue
            written = text + move
            status = self.forbidden.status(_bar_elements(written, pending=True))
            if status == COPY:
                continue
            if status == FREE or bar_line_started(node.state, after.state) or self._escapes(after, written, budget):
                found = True
                break
        if found or budget[0] > 0:  # an exhausted search proves nothing: not kept
            self._escapes_seen[key] = found
        return found

    def _step(self, node: "Node", move: str) -> "Node | None":
        """The node after the character `move` (through the cache when the codec has it as a symbol)."""
        symbol = self.symbol_of.get(move)
        if symbol is not None:
            return self.rules.step(node, symbol)
        after = feed(node.state, move)
        return None if after is None else self.rules.node(after)

    def _moves(self, state: State, text: str) -> tuple[str, ...]:
        """What the search tries next from `state`, likeliest to lead out of the forbidden bars first."""
        if state.ctx in INSIDE:
            return INSIDE[state.ctx]
        ends_now = self.forbidden.status(_bar_elements(text + " ", pending=True))
        return GROW_FIRST if ends_now == COPY else MOVES

    # -- text the writer forces ----------------------------------------------------------------------
    def copies(self, text: str, ids: list[int]) -> bool:
        """Whether writing `text` now would complete a forbidden bar (this bar, or one after it in `text`).

        The form's echo of an earlier bar and a tune's forced ending ask this first.
        """
        if self.bar_open is None:
            return False
        history = list(self.history)
        for piece in _split_at_bar_lines(self.bar_so_far(ids) + text):
            elements = elements_of(piece)
            if not elements:
                continue
            forbidden = self.index.forbidden(history, self.limit)
            if forbidden is not None and elements in forbidden.bars:
                return True
            history.append(self.index.bar_id(elements))
        return False


def _bar_elements(text: str, pending: bool = False) -> tuple[str, ...]:
    """`bar_elements` of a bar's text, where a last line "d:" is a note and the start of a bar line.

    A bar can hold a line break ("|:|", a new line, "d:|"). Cut before its `|`, the lexer reads "d:" at
    a line's start as a field line, and the bar's note would go unseen: read after a space, it is
    read as the whole tune reads it.
    """
    head, newline, last = text.rpartition("\n")
    if newline and _FIELD_START.fullmatch(last):
        text = f"{head}\n {last}"
    return bar_elements(text, pending)


_FIELD_START = re.compile(r"[A-Za-z]:")


def _split_at_bar_lines(text: str) -> list[list[Token]]:
    """The text's tokens cut at its bar lines: the bar being written, the bars after it, what follows the last."""
    pieces: list[list[Token]] = [[]]
    for tok in tokens(text):
        if tok.kind == "bar":
            pieces.append([])
        else:
            pieces[-1].append(tok)
    return pieces


class Guarded:
    """A lazy mask (the sampler's LazyMask protocol): `inner`'s, less what the guard forbids."""

    __slots__ = ("inner", "guard", "node", "text", "checked")
    source = row = None  # never read with other rows from a shared table

    def __init__(self, inner, guard: CopyGuard, node: "Node", text: str):
        self.inner, self.guard, self.node, self.text = inner, guard, node, text
        self.checked: dict[int, bool] = {}

    @property
    def known(self) -> np.ndarray:
        known = self.inner.known.copy()
        unsure = known == 1
        for symbol, ok in self.checked.items():
            unsure[symbol] = False
            known[symbol] = ok
        known[unsure] = -1  # allowed by the automaton, not yet asked of the guard
        return known

    def allows(self, symbol: int) -> bool:
        found = self.checked.get(symbol)
        if found is None:
            found = self.checked[symbol] = bool(self.inner.allows(symbol)) and self.guard.allows(
                self.node, self.text, symbol)
        return found

    def full(self) -> np.ndarray:
        """Bool (V,). The sampler asks for it when no likely symbol is allowed, so a dead end is settled here:
        where a form's narrowing (a part's last beat) and the guard leave nothing, the narrowing gives way;
        where the automaton and the guard leave nothing (none met by design), the guard does."""
        allowed = np.array([self.allows(s) for s in range(len(self.inner.known))], dtype=bool)
        if not allowed.any() and self.inner is not self.node:
            allowed = np.array([bool(ok) and self.guard.allows(self.node, self.text, s)
                                for s, ok in enumerate(self.node.full())], dtype=bool)
        if not allowed.any():
            self.guard.gave_way += 1
            allowed = self.inner.full()
        return allowed
