"""A tune written in a form: the ABC writer's parts, bar counts, repeats, echoes and endings.

`Sections` follows one tune as the model writes it. It opens each repeated
part with `|:`, keeps the model to plain bar lines (the automaton's
`sectioned` state), counts the part's full bars, and closes the part with
`:|` (or `||`, and `|]` at the end) at the first bar line once the part has
its bars, or as soon as its last bar is short by the part's pickup.

Two things real tunes do are written in, at the rates the folk corpus has
them (measured on its AABB tunes of 8-bar parts, `benchmarks/fidelity.py`):

- repetition: a part's second half restates its first (bar 5 is bar 1 in
  68 % of parts, then bar 6 is bar 2 in two of three, and so on, see
  ECHO_IN_PART), bar 3 recalls bar 1 (29 %), and a later part's bars echo
  the first part's (bar 8: 50 %, bar 7: 26 %, bar 4: 18 %).
  A bar is copied only where it fits (the automaton reads it whole);
- the ending: a part's last beat is written with the key's tonic (any
  octave, no accidental, no rest or chord) in TONIC_ENDING of the parts;
  the model ends the others its own way. Four in five real tunes end on the
  tonic; the shipped model, left alone, ends a third of its tunes there
  (0.34 on 200 tunes), so 0.75 forced gives about 0.75 + 0.25 x 0.34 = 0.84
  (a little above the corpus, so that a set of 200 stays above 0.75).
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING

import numpy as np

from ...music.abc.wellformed import State, feed_text

if TYPE_CHECKING:
    from .forms import Form
    from .masks import MaskCache, Node
    from .writer import AbcWriter

# (bar, earlier bar of the same part, how often real parts repeat it, the bar that must have been copied
# first or 0), for a part of 8 bars; other lengths are scaled. Measured on the 1,256 parts of the folk
# training tunes made of 8-bar parts: bar 5 is bar 1 in 68 %; given that, bar 6 is bar 2 in 66 %; given
# both, bar 7 is bar 3 in 39 %; given all three, bar 8 is bar 4 in 36 %; bar 3 is bar 1 in 29 %.
ECHO_IN_PART = ((3, 1, 0.29, 0), (5, 1, 0.68, 0), (6, 2, 0.66, 5), (7, 3, 0.39, 6), (8, 4, 0.36, 7))
# (bar of a later part, the same bar of the first part, how often): the cadence comes back (bar 8 in
# 50 % of later parts, bar 7 in 26 %, bar 4 in 18 %, bar 6 in 10 %).
ECHO_OF_FIRST = ((4, 0.18), (6, 0.10), (7, 0.26), (8, 0.50))
# The share of parts whose last beat is forced to the tonic (see the module docstring).
TONIC_ENDING = 0.75
# What may go on with the note being read (its length, octave, a tie or broken rhythm), not start another.
_GOES_ON = frozenset("0123456789/,'->< ")
_NOTE_RE = re.compile(r"([_^=]*)([A-Ga-g])")
_BANS: "weakref.WeakKeyDictionary[MaskCache, dict[str, np.ndarray]]" = weakref.WeakKeyDictionary()


def _beats(meter: str) -> int:
    """How many beats a bar of `meter` has, for the length of the last beat (C| reels: four quarters)."""
    if meter in ("C", "C|"):
        return 4
    match = re.fullmatch(r"(\d+)/(\d+)", meter)
    if not match:
        return 4
    num, den = int(match.group(1)), int(match.group(2))
    return num // 3 if den == 8 and num % 3 == 0 and num > 3 else max(1, num)


def ending_bans(rules: "MaskCache", tonic: str) -> np.ndarray:
    """Bool (V,): what a part's last beat may not write: anything but the tonic (any octave), its length, a tie,
    spaces and the bar line (no other note, accidental, rest, chord, slur, tuplet or ornament)."""
    per_codec = _BANS.setdefault(rules, {})
    if tonic not in per_codec:
        allowed = set(tonic + tonic.lower() + ",'0123456789/ |)-")
        per_codec[tonic] = np.array([not s or not set(s) <= allowed for s in rules.symbols], dtype=bool)
    return per_codec[tonic]


class Narrowed:
    """A lazy mask with some symbols taken out (the sampler's LazyMask protocol)."""

    __slots__ = ("node", "banned")
    source = row = None  # never read with other rows from a shared table

    def __init__(self, node: "Node", banned: np.ndarray):
        self.node, self.banned = node, banned

    @property
    def known(self) -> np.ndarray:
        known = self.node.known.copy()
        known[self.banned] = 0
        return known

    def allows(self, symbol: int) -> bool:
        return not self.banned[symbol] and self.node.allows(symbol)

    def full(self) -> np.ndarray:
        return self.node.full() & ~self.banned


def _between(state: State) -> bool:
    """Nothing is open: no note being read, no pair, tuplet, tie or reserved time waiting."""
    return (state.ctx == "body" and not state.needs_note and state.forced_length is None and not state.tuplet_q
            and not state.prepaid_notes and state.tie is None)


class Sections:
    """The parts of one tune as its writer writes them (see the module docstring)."""

    def __init__(self, writer: "AbcWriter", form: "Form", rng: np.random.Generator):
        self.writer, self.form, self.rng = writer, form, rng
        self.part = 0                     # the part being written
        self.part_bars = 0                # its full bars so far
        self.placing = 0                  # ids of the writer's own section lines still to step through
        self.bars: list[list[list[int]]] = [[] for _ in form]   # each part's full bars, as ids
        self.bar_open = 0                 # where the bar being written starts in the writer's ids
        self.bar_line_at = 0              # where its bar line starts
        self.copied: set[int] = set()     # bars of this part that are copies
        self.decided: tuple[int, int] | None = None   # the bar whose copying was last decided
        self.tonic: str | None = None
        self.tonic_ending = rng.random() < TONIC_ENDING   # this part's last beat is the tonic
        self.beat = 0                     # grid steps of the meter's last beat
        rules = writer.rules
        self.bar_id = rules.symbols.index("|") if "|" in rules.symbols else None

    # -- the writer's calls ---------------------------------------------------------------------
    def start(self, node: "Node", header: str) -> "Node":
        """At the body's first symbol: the model keeps to plain bar lines; a repeated first part opens."""
        key = re.search(r"^K:\s*([A-G])", header, re.MULTILINE)
        meter = re.search(r"^M:\s*(\S+)", header, re.MULTILINE)
        self.tonic = key.group(1) if key else None
        if node.state.bar_length is not None:
            self.beat = node.state.bar_length // _beats(meter.group(1) if meter else "C")
        node = self.writer.rules.node(node.state._with(sectioned=True))
        self.bar_open = len(self.writer.ids)
        return self._place(node, "|:" if self.form[0][1] else "")

    def before_push(self, sampled: int) -> None:
        """Close the part where it is complete: instead of the bar line the model writes at its last bar's end,
        or of whatever would go on past a last bar short by the part's pickup."""
        w = self.writer
        if w.queue or w.node is None or self.placing:
            return
        state = w.node.state
        if sampled == self.bar_id:
            after = feed_text(state, "|")
            if after is not None and self.part_bars + (after.time_used == after.bar_length) >= self.form[self.part][0]:
                w.node = self._close_part(w.node)
        elif self.part_bars == self.form[self.part][0] - 1 and state.section_pickup and state.sectioned:
            whole = feed_text(state, " ")  # the note being read, ended here
            if (whole is not None and _between(whole) and whole.time_used + whole.section_pickup == whole.bar_length
                    and w.rules.symbols[sampled][:1] not in _GOES_ON):
                w.node = self._close_part(w.node)

    def after_step(self, before: State, node: "Node") -> "Node":
        """Count the part's bars, step the writer's own section lines, copy a bar, close a short last bar."""
        state, ids = node.state, self.writer.ids
        if before.ctx != "bar" and state.ctx == "bar":
            self.bar_line_at = len(ids) - 1
        elif before.ctx == "bar" and state.ctx != "bar":  # a bar line is whole: the bar before it is done
            closing = self.placing > 0                      # ... by the writer's line that ends a part
            if closing or (before.time_used == before.bar_length and not before.carried_in):  # not a pickup
                self.bars[self.part - closing].append(self._strip(ids[self.bar_open:self.bar_line_at]))
                self.part_bars += not closing
            self.bar_open = len(ids) - 1
        if self.placing:
            self.placing -= 1
            if self.placing:
                return node
        if not state.sectioned:
            # The section line is written: the model writes plain bar lines again, once the
            # automaton has read the line to its end (`|:` is only whole at the next character).
            if state.ctx == "bar":
                return node
            node = self.writer.rules.node(state._with(sectioned=True))
            state = node.state
        if self.writer.queue or not _between(state):
            return node
        bars = self.form[self.part][0]
        pickup = state.section_pickup
        if self.part_bars == bars - 1 and pickup > 0 and state.time_used + pickup == state.bar_length:
            return self._close_part(node)  # the last bar, short by the part's pickup
        if state.time_used == 0 and state.bar_line_just_read and self.decided != (self.part, self.part_bars):
            self.decided = (self.part, self.part_bars)
            self._echo(state)
        return node

    def mask(self, node: "Node"):
        """The node's mask, without what a part's last beat may not be (anything but the tonic)."""
        state = node.state
        if (self.tonic is None or not self.tonic_ending or not self.beat
                or self.part_bars != self.form[self.part][0] - 1):
            return node
        if state.ctx in ("note", "chordlen"):
            # A note (or chord) is being read: the next symbol may start the next note, so the window is
            # judged where this one ends (its length may still grow: digits are not banned).
            state = feed_text(state, " ")
            if state is None:
                return node
        if not _between(state) or state.bar_length is None:
            return node
        end = state.bar_length
        if state.section_pickup and state.time_used <= end - state.section_pickup:
            end -= state.section_pickup  # the part's last bar is short by its pickup
        if not 0 < end - state.time_used <= self.beat:
            return node
        rules = self.writer.rules
        tonic = [rules.symbols.index(c) for c in (self.tonic, self.tonic.lower()) if c in rules.symbols]
        if not any(node.allows(i) for i in tonic):
            return node
        return Narrowed(node, ending_bans(rules, self.tonic))

    # -- parts -------------------------------------------------------------------------------------
    def _close_part(self, node: "Node") -> "Node":
        """Queue the part's closing line and the next part's opening (or the tune's end), where one fits."""
        last = self.part == len(self.form) - 1
        lines = [":|"] if self.form[self.part][1] else ["|]", "||"] if last else ["||"]
        after = "\n\n" if last else "\n|:" if self.form[self.part + 1][1] else "\n"
        open_state = node.state._with(sectioned=False)
        text = next((line + after for line in lines if feed_text(open_state, line + after) is not None), None)
        if text is None:
            return node
        self.part, self.part_bars, self.copied = self.part + 1, 0, set()
        self.tonic_ending = self.rng.random() < TONIC_ENDING
        return self._place(node, text)

    def _place(self, node: "Node", text: str) -> "Node":
        """Force the writer's own section line(s) next, stepped without the model's restriction to plain bar lines."""
        if not text:
            return node
        ids = self.writer.encode(text)
        self.writer.queue.extendleft(reversed(ids))  # before a primer's ids already queued
        self.placing += len(ids)
        return self.writer.rules.node(node.state._with(sectioned=False))

    # -- repetition ---------------------------------------------------------------------------------
    def _echo(self, state: State) -> None:
        """At the start of a bar: perhaps copy an earlier bar into it, as real tunes do."""
        bars = self.form[self.part][0]
        number = self.part_bars + 1          # the bar about to be written, 1-based
        scale = bars / 8
        choices = []
        for bar, earlier, rate, after in ECHO_IN_PART:
            if round(bar * scale) == number and round(earlier * scale) < number and bars >= 6:
                if after and round(after * scale) not in self.copied:
                    continue
                choices.append((self.bars[self.part], round(earlier * scale), rate))
        if self.part > 0 and self.form[0][0] == bars:
            for bar, rate in ECHO_OF_FIRST:
                if round(bar * scale) == number:
                    choices.append((self.bars[0], number, rate))
        for source, which, rate in choices:
            if len(source) >= which and self.rng.random() < rate and self._copy(state, source[which - 1], number):
                return

    def _copy(self, state: State, ids: list[int], number: int) -> bool:
        """Force bar `ids` here if the automaton reads it as a whole bar (or the part's short last bar)."""
        space = self.writer.rules.symbols.index(" ") if " " in self.writer.rules.symbols else None
        if not ids or space is None:
            return False
        ids = ids + [space]  # the bar's last note is only whole once something follows it
        after = feed_text(state, self.writer.decode(ids))
        if after is None or not _between(after) or after.bar_length is None:
            return False
        last = number == self.form[self.part][0]
        if last and self.tonic_ending and self.tonic is not None and not self._ends_on_tonic(ids):
            return False  # the part's last beat is the tonic: a copy keeps to it
        ends = {after.bar_length}
        if last and after.section_pickup:
            ends.add(after.bar_length - after.section_pickup)
        if after.time_used not in ends:
            return False
        guard = self.writer.guard
        if guard is not None and guard.copies(self.writer.decode(ids), self.writer.ids):
            return False  # the echo would copy one bar too many of a training tune
        self.writer.queue.extend(ids)
        self.copied.add(number)
        return True

    def _ends_on_tonic(self, ids: list[int]) -> bool:
        """Whether a bar's last note is the key's tonic (any octave, no accidental)."""
        notes = _NOTE_RE.findall(self.writer.decode(ids))
        return bool(notes) and not notes[-1][0] and notes[-1][1].upper() == self.tonic

    def _strip(self, ids: list[int]) -> list[int]:
        """A bar's ids without its line breaks and continuations, and the spaces around it."""
        symbols = self.writer.rules.symbols
        ids = [i for i in ids if symbols[i] not in ("\n", "\\")]
        start, end = 0, len(ids)
        while start < end and self._blank(ids[start]):
            start += 1
        while end > start and self._blank(ids[end - 1]):
            end -= 1
        return ids[start:end]

    def _blank(self, symbol: int) -> bool:
        return not self.writer.rules.symbols[symbol].strip()
