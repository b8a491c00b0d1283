"""Infill: new music for some bars of a tune, leading into the bars after them; everything else kept byte for byte.

A left-to-right model cannot see the bars after the gap while it writes it.
So K candidates are sampled for the gap, each primed with the whole tune
before it, and the one after which the model finds the rest of the tune
likeliest (the fewest bits, `score.continuation_bits`) is kept: it is the
candidate that leads best into what follows. `benchmarks/infill.py`
measures what that ranking gains over an unranked sample (docs/abc.md).

Every candidate is well formed by construction. The gap's bars are written
one at a time with the well-formed automaton, each from a state of its own:
a bar exactly as long as the bar it replaces (`bar_spans`), with the tie
and open slurs that reach into it. The model writes no bar line, line end or
field of its own: it ends a bar by writing `|` once the bar is full, and the
writer puts the tune's own bar line and layout there instead. So the bar
count, the repeats, endings and line breaks stay the tune's, and the bars
outside the gap are not touched.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...errors import TunesmithError
from ...generate import QueuedWriter, prime, write_batched
from ...music.abc.bar_spans import BarSpan, TuneBars, tune_bars
from ...music.abc.tunes import to_ascii
from ...music.abc.wellformed import State, feed, feed_text
from ...options import DEFAULT_CANDIDATES, Sampling
from ..rewriting import best_of_groups, check_counts
from .masks import MaskCache, Node, mask_cache

if TYPE_CHECKING:
    from ...checkpoint import Checkpoint
    from ...codecs.base import Codec

# What the model may not write inside a bar: its bar lines, fields and line ends are the tune's.
_SKELETON = frozenset({"bar", "field", "cont", "end"})
_MASKS: "weakref.WeakKeyDictionary[MaskCache, dict[tuple[State, bool], GapMask]]" = weakref.WeakKeyDictionary()


# -- the gap ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Gap:
    """Bars `first`..`last` (1-based) of a tune: the text kept around them, and what each new bar must be."""

    tune: TuneBars
    first: int
    last: int

    @property
    def bars(self) -> tuple[BarSpan, ...]:
        return self.tune.bars[self.first - 1:self.last]

    @property
    def name(self) -> str:
        """"bar 5" or "bars 9-12", for messages."""
        return f"bar {self.first}" if self.first == self.last else f"bars {self.first}-{self.last}"

    @property
    def prefix(self) -> str:
        """The tune up to the gap's first bar of music (its bar line and layout included)."""
        return self.tune.text[:self.bars[0].start]

    @property
    def joins(self) -> list[str]:
        """The tune's own text between the gap's bars: a bar line and its layout."""
        bars, text = self.bars, self.tune.text
        return [text[a.end:b.start] for a, b in zip(bars, bars[1:])]

    @property
    def suffix(self) -> str:
        """The tune after the gap's last bar of music: the fixed continuation."""
        return self.tune.text[self.bars[-1].end:]

    def original(self) -> list[str]:
        """The music of the gap's bars as the tune has them."""
        return [self.tune.music(bar) for bar in self.bars]

    def fill(self, music: list[str]) -> str:
        """The tune with `music` in the gap's bars, one text per bar."""
        parts = [self.prefix]
        for i, bar in enumerate(music):
            parts += [bar, self.joins[i] if i < len(self.joins) else self.suffix]
        return "".join(parts)

    def tie_may_cross(self, i: int) -> bool:
        """The gap's i-th bar (0-based) may end in a tie: a plain bar line, and the next bar is new too."""
        return i < len(self.joins) and self.joins[i].strip() == "|"

    def start(self, i: int, tie: str | None, slurs: int) -> State:
        """The automaton's state at the start of the gap's i-th bar: a bar of its own length, music in the tune."""
        bar = self.bars[i]
        return State(bar_length=bar.steps, compound=bar.compound, hornpipe=self.tune.hornpipe, first_bar=False,
                     has_music=True, tie=tie, open_slurs=slurs)


def gap_of(text: str, bars: str) -> Gap:
    """The gap `--bars 9-12` (or `9`) of one tune's text; a clear error for a range it does not have."""
    from ...music.abc.bar_spans import bar_range

    tune = tune_bars(text)
    first, last = bar_range(bars, tune)
    return Gap(tune, first, last)


# -- masks -------------------------------------------------------------------------------
def may_close(state: State, tie_may_cross: bool) -> State | None:
    """The state after a `|` that ends the bar here (full, nothing open but a tie where it may cross); else None."""
    opened = feed(state, "|")
    if opened is None or opened.ctx != "bar" or opened.time_used != opened.bar_length:
        return None
    return opened if opened.tie is None or tie_may_cross else None


class GapMask:
    """What the model may write next inside a gap's bar: the automaton's mask, less the tune's skeleton.

    Lazy like `masks.Node` (the sampler's LazyMask): a symbol is checked the
    first time it could be drawn. The bar-line symbol `|` stands for the
    end of the bar, allowed only once the bar is full. Beyond the
    automaton's rules, nothing that would be a bar line, a line end, a field
    or a line continuation; no `[` that could only go on as a bar line or an
    ending; no tie that could only cross a bar line where it may not.
    """

    __slots__ = ("node", "rules", "tie_may_cross", "end", "known")
    source = row = None  # its own row of what is known, never read with the others

    def __init__(self, rules: MaskCache, node: Node, tie_may_cross: bool, end: int):
        self.node, self.rules, self.tie_may_cross, self.end = node, rules, tie_may_cross, end
        self.known = np.full(len(rules.symbols), -1, dtype=np.int8)

    def allows(self, symbol: int) -> bool:
        known = self.known[symbol]
        if known < 0:
            known = self.known[symbol] = self._check(symbol)
        return bool(known)

    def full(self) -> np.ndarray:
        for symbol in np.flatnonzero(self.known < 0).tolist():
            self.allows(symbol)
        return self.known == 1

    def _check(self, symbol: int) -> bool:
        state = self.node.state
        if symbol == self.end:
            return may_close(state, self.tie_may_cross) is not None
        if not self.node.allows(symbol):
            return False
        for ch in self.rules.symbols[symbol]:
            if ch in "\n\\":
                return False
            before, state = state, feed(state, ch)
            if state.ctx in _SKELETON or state.bar_line_just_read:
                return False
            if state.ctx == "bracket" and feed(state, "C") is None:
                return False  # `[` here could only open a bar line or an ending
            if (ch == "-" and before.tie is None and state.tie is not None and not self.tie_may_cross
                    and feed_text(state, state.tie) is None):
                return False  # no room left for the tied note in this bar, and the tie may not cross
        return True


def gap_mask(rules: MaskCache, node: Node, tie_may_cross: bool, end: int) -> GapMask:
    """The mask of one state inside a gap, made once per codec and kept (like the automaton's own)."""
    masks = _MASKS.setdefault(rules, {})
    key = (node.state, tie_may_cross)
    found = masks.get(key)
    if found is None:
        found = masks[key] = GapMask(rules, node, tie_may_cross, end)
    return found


# -- the writer --------------------------------------------------------------------------
@dataclass(frozen=True)
class GapPlan:
    """A gap as ids for one model: what the candidates share, and the tune's joins between the new bars."""

    gap: Gap
    prefix: list[int]          # the tune before the gap, as the model reads it
    joins: list[list[int]]     # the tune's bar lines and layout between the gap's bars
    end: int                   # the id of `|`: the model writes it where a bar ends
    rules: MaskCache
    max_symbols: int


def read_as(codec: "Codec", text: str) -> str:
    """`text` as a model with this vocabulary reads it: accents folded, characters it never saw left out.

    The model only reads the tune; what is written out is the tune's own text.
    """
    return "".join(ch for ch in to_ascii(text) if ch in codec.index)


def plan_of(ckpt: "Checkpoint", gap: Gap) -> GapPlan:
    """The gap's plan for this model."""
    codec = ckpt.codec
    if "|" not in codec.index:
        raise TunesmithError("this model has no `|` symbol, so it cannot end a bar; infill needs an ABC model")
    joins = [codec.encode(read_as(codec, join), "the tune") for join in gap.joins]
    # A bar of music takes about one symbol per grid step at the most (sixteenths and their lengths), and a
    # candidate that has not ended its bars by four times that is dropped.
    cap = sum(max(48, 4 * bar.steps) for bar in gap.bars) + sum(map(len, joins))
    return GapPlan(gap, codec.encode(read_as(codec, gap.prefix), "the tune"), joins, codec.index["|"],
                   mask_cache(codec), cap)


class GapWriter(QueuedWriter):
    """One candidate for a gap: its bars in turn, each ended where the model writes `|` once it is full.

    The tune's own bar line and layout are forced in the place of that `|`.
    A candidate that meets a dead end (none by design) or runs past its cap
    is marked `failed` and dropped.
    """

    def __init__(self, plan: GapPlan):
        super().__init__(plan.max_symbols)
        self.plan = plan
        self.bar = 0
        first = plan.gap.bars[0]
        self.node = plan.rules.node(plan.gap.start(0, first.tie_in, first.slurs_in))
        self.bar_open = 0                   # where the bar being written starts in `ids`
        self.music: list[list[int]] = []    # the ids of each bar written
        self.failed = False

    def mask(self):
        if self.queue:
            return None
        return gap_mask(self.plan.rules, self.node, self.plan.gap.tie_may_cross(self.bar), self.plan.end)

    def push(self, sampled: int) -> int:
        if not self.queue and sampled == self.plan.end and self.mask().allows(sampled):
            self._close_bar()
            if self.done:
                return sampled
        written = super().push(sampled)
        if self.truncated:
            self.failed = True
        return written

    def take(self, sym: int, forced: bool) -> None:
        if forced:
            if not self.queue:  # the tune's bar line and layout are written: the next bar starts
                self.bar_open = len(self.ids)
            return
        node = self.plan.rules.step(self.node, sym)
        if node is None:  # drawn outside the mask: a dead end
            self.done = self.failed = True
        else:
            self.node = node

    def _close_bar(self) -> None:
        opened = may_close(self.node.state, self.plan.gap.tie_may_cross(self.bar))
        self.music.append(self.ids[self.bar_open:])
        self.bar += 1
        if self.bar == len(self.plan.gap.bars):
            self.done = True
            return
        self.node = self.plan.rules.node(self.plan.gap.start(self.bar, opened.tie, opened.open_slurs))
        self.queue.extend(self.plan.joins[self.bar - 1])

    def bars(self, decode) -> list[str]:
        """The music of each new bar (spaces around it left to the tune's layout)."""
        return [decode(ids).strip() for ids in self.music]


# -- candidates, ranked --------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One way to fill a gap, and how well the model finds it leads into the rest of the tune."""

    text: str                # the whole tune with it
    music: tuple[str, ...]   # the new bars' music
    bits: float              # what the model spends on the rest of the tune after it (fewer: a better fit)


@dataclass(frozen=True)
class Infilled:
    """A version of a tune with its gap filled: the best of its candidates."""

    chosen: Candidate
    candidates: tuple[Candidate, ...]   # every well-formed candidate of its group, in the order sampled
    tail_symbols: int                   # the symbols of the rest of the tune the bits are over
    original_bits: float                # the bits of the rest of the tune after the tune's own bars
    gap: Gap

    @property
    def text(self) -> str:
        return self.chosen.text


def sample_candidates(ckpt: "Checkpoint", gap: Gap, count: int, sampling: Sampling, seed: int) -> list[list[str] | None]:
    """`count` candidates for the gap (each a list of bar music), None for one that failed (none by design)."""
    plan = plan_of(ckpt, gap)
    writers = write_batched(ckpt, count, lambda: GapWriter(plan), sampling, seed, start=prime(ckpt, plan.prefix))
    decode = ckpt.codec.decode
    return [None if w.failed or len(w.music) != len(gap.bars) else w.bars(decode) for w in writers]


def score(ckpt: "Checkpoint", gap: Gap, fills: list[list[str]]) -> tuple[np.ndarray, int]:
    """The bits the model spends on the rest of the tune after each fill, and how many symbols that rest is."""
    from ...score import continuation_bits

    codec = ckpt.codec
    prefix = codec.encode(read_as(codec, gap.prefix), "the tune")
    tail = codec.encode(read_as(codec, gap.suffix) + "\n", "the tune")  # the blank line ends the tune
    heads = []
    for music in fills:
        filled = gap.fill(music)
        middle = filled[len(gap.prefix):len(filled) - len(gap.suffix)]
        heads.append(prefix + codec.encode(read_as(codec, middle), "the tune"))
    return continuation_bits(ckpt, heads, tail, shared=len(prefix)), len(tail)


def keeps_the_tune(gap: Gap, text: str) -> bool:
    """The filled tune has the same bars, those outside the gap unchanged and those inside of the lengths asked."""
    try:
        after = tune_bars(text)
    except TunesmithError:
        return False
    if len(after.bars) != len(gap.tune.bars):
        return False
    inside = range(gap.first - 1, gap.last)
    return all((new.steps == old.steps) if i in inside else after.music(new) == gap.tune.music(old)
               for i, (old, new) in enumerate(zip(gap.tune.bars, after.bars)))


def infill(ckpt: "Checkpoint", gap: Gap, n: int = 1, candidates: int = DEFAULT_CANDIDATES,
           sampling: Sampling = Sampling(), seed: int = 0) -> list[Infilled]:
    """`n` versions of the tune with the gap filled, each the best of `candidates` (by `score`)."""
    check_counts(n, candidates)
    sampling.check()
    drawn = [music if music is not None and keeps_the_tune(gap, gap.fill(music)) else None
             for music in sample_candidates(ckpt, gap, n * candidates, sampling, seed)]
    good = [i for i, music in enumerate(drawn) if music is not None]
    bits, tail = score(ckpt, gap, [drawn[i] for i in good] + [gap.original()])  # the tune's own bars last
    scored = {i: Candidate(gap.fill(drawn[i]), tuple(drawn[i]), float(b)) for i, b in zip(good, bits)}
    return [Infilled(scored[best], tuple(scored[i] for i in group), tail, float(bits[-1]), gap)
            for best, group in best_of_groups(drawn, bits[:-1], n, candidates, f"bars {gap.first}-{gap.last}")]
