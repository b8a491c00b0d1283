"""Write new tunes in ABC: the ABC mode's writer for the shared sampling loop.

A tune is produced from a *plan*: forced text (the header the user asked
for, a primer) interleaved with parts the model writes (a title line, a
header field's value, the rest of the header, the body). All tunes of a
request are parallel streams of one batch; a stream stops at the blank line
that ends a tune in ABC, or at the length cap.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ...errors import TunesmithError
from ...generate import QueuedWriter, write_batched
from ...music.abc.wellformed import closed, feed_text, initial_state
from ...options import DEFAULT_MAX_LENGTH, Sampling
from .forms import Form, FormTable
from .guard import CopyGuard
from .headers import HeaderTable
from .masks import MaskCache, Node, mask_cache
from .options import MIN_LENGTH, Style
from .sections import Sections

if TYPE_CHECKING:
    from ...checkpoint import Checkpoint
    from ...sampling import LazyMask
    from .originality import BarIndex

# A line of music: not a field line (K:, M:, P: ...), and with a note in it.
_MUSIC_LINE = re.compile(r"(?![A-Za-z+]:)[^\n]*[A-Ga-g]")
_OPTION = {"O": "origin", "M": "meter", "L": "length", "R": "rhythm", "K": "key"}
FINISH_ROOM = 96


@dataclass(frozen=True)
class Segment:
    """One part of a plan: forced `text`, or a part the model writes (`mode`)."""

    mode: str            # "force", "line" (to the end of the line), "header" (to the K: line), "body"
    text: str = ""
    where: str = ""      # the option the forced text came from, for error messages


def build_plan(primer: str | None, style: Style) -> list[Segment]:
    """The plan of one tune from a primer and a style (see the module docstring)."""
    primer = primer or ""
    wanted = [(f, v) for f, v in style.fields() if v]
    if primer.startswith("X:"):
        if wanted:
            raise TunesmithError(
                "--primer starts a whole tune (X:...) and so already sets the header; "
                "drop --meter/--key/--rhythm/--length/--origin, or give a primer that starts the music"
            )
        header_done = any(line.startswith("K:") for line in primer.split("\n")[:-1])
        return [Segment("force", primer, "--primer")] + ([] if header_done else [Segment("header")]) + [Segment("body")]
    plan = [Segment("force", "X:1\nT:", "header"), Segment("line")]
    if wanted:
        fields = style.fields()
        last = max(i for i, (_, v) in enumerate(fields) if v)
        for letter, value in fields[: last + 1]:
            if value:
                plan.append(Segment("force", f"{letter}:{value}\n", f"--{_OPTION[letter]}"))
            elif letter not in "RO":  # a rhythm and an origin are optional in ABC; the others the model fills in
                plan += [Segment("force", f"{letter}:", "header"), Segment("line")]
        if last < len(fields) - 1:
            plan.append(Segment("header"))
    else:
        plan.append(Segment("header"))
    if primer:
        plan.append(Segment("force", primer, "--primer"))
    return plan + [Segment("body")]


class AbcWriter(QueuedWriter):
    """One tune being written: its plan, forced symbols, and what it has so far.

    With a `form` (and the rules), the tune is written in it: see `sections.Sections`. With a
    `guard` (and the rules), it copies no more bars in a row of a training tune than the guard allows.
    """

    def __init__(self, plan: deque, newline: int, decode: Callable[[list[int]], str], max_symbols: int,
                 vocab_size: int = 0, rules: MaskCache | None = None, form: Form | None = None,
                 encode: Callable[[str], list[int]] | None = None, rng: np.random.Generator | None = None,
                 guard: CopyGuard | None = None):
        super().__init__(max_symbols)
        self.encode = encode
        self.plan = plan                # (mode, forced ids) pairs still to come
        self.newline = newline          # id of "\n"
        self.decode = decode            # the codec's: lines are judged by their text
        self.vocab_size = vocab_size
        self.rules = rules              # well-formedness constraints (None: free sampling)
        self.mode = "body"
        self.line_start = 0
        self.body_start: int | None = None  # where the music starts, after the K: line
        self.has_music = False              # a line of the body has a note: a blank line may end the tune
        self.node: Node | None = None       # the automaton's state while the body is being written
        self.safe_end: int | None = None    # the last length at which the tune could have ended well-formed
        self.broke_rules = False            # forced text (a primer) broke the constraints: sampled freely after it
        # The header gets a quarter of the cap (the training tunes' headers are a tenth of a 2000-symbol
        # cap); past it, the line ends and a K: line follows, so that the body has room to end well-formed.
        self.header_budget = max_symbols // 4
        self.bar_end: int | None = None     # the last length at which the tune could have ended, mid-line too
        # A tune that could not have ended yet this close to the cap is ended by the writer (MaskCache.finish):
        # closing what is open and a 64-unit bar with rests, a repeat and a second ending takes under 64 symbols.
        self.finish_room = min(FINISH_ROOM, max_symbols // 2)
        self.finishing = False
        self.guard = None if rules is None else guard
        self.sections = None if form is None or rules is None else Sections(self, form, rng or np.random.default_rng())
        self._advance()

    def _advance(self) -> None:
        while self.plan:
            mode, forced = self.plan.popleft()
            if mode == "force":
                self.queue.extend(forced)
            else:
                self.mode = mode
                return
        self.mode = "body"

    def push(self, sampled: int) -> int:
        """As QueuedWriter's, but in a form a bar line where the part is complete closes the part."""
        if self.sections is not None:
            self.sections.before_push(sampled)
        return super().push(sampled)

    def take(self, sym: int, forced: bool) -> None:
        """Step the automaton, follow the form or wrap up a wandering tune, and follow the plan line by line."""
        node = self.node
        if node is not None:
            before = node.state
            node = self.rules.step(node, sym)
            if node is not None and self.guard is not None:
                self.guard.step(before, node.state, self.ids)  # a bar line begun: the bar before it is done
            if node is None:
                self.broke_rules = True
            elif node.state.ctx == "end":
                self.done = True
            else:
                if node.can_end and node.state.linestart:
                    self.safe_end = len(self.ids)
                if node.may_end_now or node.can_end:  # after a bar line, mid-line too
                    self.bar_end = len(self.ids)
            if self.sections is not None and node is not None and not self.done:
                node = self.sections.after_step(before, node)
            # 99 % of training tunes are shorter than a third of the default cap
            # (610 characters of 2000): a tune past that is likely wandering. It
            # opens no new repeat or ending, and ends at the first bar line where it may.
            elif node is not None and len(self.ids) >= self.max_symbols // 3 and not self.done and not self.queue:
                if not node.state.closing:
                    node = self.rules.node(closed(node.state))
                if node.may_end_now:
                    self.queue.extend([self.newline, self.newline])
            self.node = node
        if sym == self.newline:
            line = self.ids[self.line_start:-1]
            self.line_start = len(self.ids)
            if self.body_start is None and self.decode(line).startswith("K:"):
                self.body_start = len(self.ids)
                if self.rules is not None:
                    self.node = self.rules.node(initial_state(self.decode(self.ids)))
                    if self.guard is not None:
                        self.guard.start(len(self.ids))
                    if self.sections is not None:
                        self.node = self.sections.start(self.node, self.decode(self.ids))
            if not forced:
                # A blank line before any music cannot be sampled (see may_not_end_line).
                if self.mode == "line":
                    self._advance()
                elif self.mode == "header" and self.decode(line).startswith("K:"):
                    self._advance()
                elif self.mode == "body" and not line:
                    self.done = True

    def mask(self) -> "np.ndarray | LazyMask | None":
        """What may come next (None: anything).

        In the body, the automaton's; in the header, field lines and values
        tunesmith reads; never a blank line before any music.
        """
        if self.queue:
            return None
        if self.node is not None:
            if (self.safe_end is None and self.bar_end is None and not self.finishing
                    and self.max_symbols - len(self.ids) <= self.finish_room):
                # Near the cap with nowhere to cut back to: the writer ends the tune itself, the shortest way
                # (a form too long for the cap is given up: the ending may close what is open its own way).
                self.finishing = True
                if self.sections is not None:
                    self.sections = None
                    self.node = self.rules.node(self.node.state._with(sectioned=False))
                ending = self.rules.finish(self.node.state, None if self.guard is None else self._copies_nothing)
                if ending:
                    self.queue.extend(ending)
                    return None
            # Checked lazily; at a dead end (none by design) the sampler draws
            # freely and `push` finds the rules broken.
            allowed = self.node if self.sections is None else self.sections.mask(self.node)
            return allowed if self.guard is None else self.guard.mask(self.node, allowed, self.ids)
        if self.rules is not None and self.body_start is None:
            line = self.decode(self.ids[self.line_start:])
            # Before K:, every line the model writes is a field line (else
            # the tune's music would start with no key and no constraints).
            # A header past its share of the length cap ends: its line now, then a K: line.
            long = len(self.ids) >= self.header_budget
            header = self.rules.field_mask(line, key_only=long and not line) if self.mode == "header" else None
            if header is None and line:
                header = self.rules.header_mask(line)
            if header is not None:
                return header
            if long and line:
                return self.rules.newline_mask()
        if not self.may_not_end_line():
            return None
        allowed = np.ones(self.vocab_size, dtype=bool)
        allowed[self.newline] = False
        return allowed

    def _copies_nothing(self, text: str) -> bool:
        """Forced text (a tune's ending) completes no bar the guard forbids."""
        return not self.guard.copies(text, self.ids)

    def may_not_end_line(self) -> bool:
        """A newline now would write a blank line, ending a tune that has no music yet."""
        return not self.queue and self.line_start == len(self.ids) and not self._has_music()

    def _has_music(self) -> bool:
        if not self.has_music and self.body_start is not None:
            body = self.decode(self.ids[self.body_start:])
            self.has_music = any(_MUSIC_LINE.match(line) for line in body.split("\n"))
        return self.has_music

    def tune(self, number: int) -> str:
        """The tune written, numbered X:`number`; a truncated one cut back to where it was last whole."""
        ids = self.ids
        if self.truncated and not self.broke_rules:
            if self.safe_end is not None:
                ids = ids[: self.safe_end]
            elif self.bar_end is not None:  # no line ended where the tune could: cut after the bar line
                ids = ids[: self.bar_end] + [self.newline]
        return finish_tune(self.decode(ids), number, self.truncated)


def abc_writer(ckpt: "Checkpoint", plan: list[Segment], max_symbols: int, free: bool = False,
               form: Form | None = None, rng: np.random.Generator | None = None,
               index: "BarIndex | None" = None, max_copy_bars: int = 0) -> AbcWriter:
    """An ABC writer for one plan; well-formed unless `free`, in `form` when one is given (`rng`: its echoes),
    sharing at most `max_copy_bars` bars in a row with one tune of `index` (0 or no index: no guard)."""
    codec = ckpt.codec
    rules = None if free else mask_cache(codec)
    guard = None if rules is None or index is None or max_copy_bars < 1 else CopyGuard(
        index, max_copy_bars, rules, codec.decode)
    encoded = deque((seg.mode, codec.encode(seg.text, seg.where)) for seg in plan)
    return AbcWriter(encoded, codec.index["\n"], codec.decode, max_symbols, vocab_size=len(codec), rules=rules,
                     form=form, encode=codec.encode, rng=rng, guard=guard)


def check_primer(primer: str, style: Style) -> None:
    """Refuse a primer no well-formed tune can start with, when its meter is known before sampling.

    (When the model picks the meter, a primer that does not fit it is
    continued freely: the constraints step aside for that tune.)
    """
    if primer.startswith("X:"):
        if "\nK:" not in primer:
            return
        head, rest = primer.split("\nK:", 1)
        if "\n" not in rest:
            return
        key_line, body = rest.split("\n", 1)
        header = f"{head}\nK:{key_line}\n"
    elif style.meter:
        header = f"M:{style.meter}\n" + (f"L:{style.length}\n" if style.length else "")
        body = primer
    else:
        return
    if feed_text(initial_state(header), body) is None:
        raise TunesmithError(
            f"--primer {primer!r}: no well-formed tune starts like this (a bar of the wrong length, "
            "or something left open); fix it, or sample freely with --free")


def finish_tune(text: str, number: int, truncated: bool) -> str:
    """The tune with its own X: number, a title, and one trailing newline."""
    if truncated:
        text = text[: text.rfind("\n") + 1] if "\n" in text else text
    lines = text.rstrip("\n").split("\n")
    lines[0] = f"X:{number}"
    titles = [i for i, line in enumerate(lines) if line.startswith("T:")]
    if not titles:
        lines.insert(1, f"T:Untitled {number}")
    elif not lines[titles[0]][2:].strip():
        lines[titles[0]] = f"T:Untitled {number}"
    return "\n".join(lines) + "\n"


def generate_tunes(ckpt: "Checkpoint", n: int, *, seed: int = 0, sampling: Sampling = Sampling(),
                   style: Style = Style(), primer: str | None = None, max_symbols: int = DEFAULT_MAX_LENGTH,
                   free: bool = False, headers: HeaderTable | None = None,
                   forms: FormTable | None = None) -> list[str]:
    """`n` new tunes in ABC, each a complete text numbered X:1..n.

    With a header table (see `headers`), each tune's M:, L:, R: and K: are
    drawn from it, agreeing with the style's fixed fields and the primer;
    each tune has the style's form, or one drawn from `forms` for its meter
    and rhythm (`--free`: neither, the model writes as it likes). Unless
    `--free`, no tune shares more than the style's `max_copy_bars` bars in a
    row with one training tune (`guard.py`; the index is the checkpoint's,
    `originality.index_for`, and a checkpoint without a corpus record has none).
    """
    if n < 1:
        raise TunesmithError(f"-n must be at least 1 (got {n})")
    if max_symbols < MIN_LENGTH:
        raise TunesmithError(f"--max-length must be at least {MIN_LENGTH} symbols (got {max_symbols})")
    sampling.check()
    style = style.checked()
    plan = build_plan(primer, style)
    forced = sum(len(ckpt.codec.encode(seg.text, seg.where)) for seg in plan if seg.mode == "force")
    if forced > max_symbols // 2:
        raise TunesmithError(f"--max-length {max_symbols}: the header and primer asked for take {forced} symbols, "
                             "more than half of it; leave room for the music (a longer --max-length, a shorter --primer)")
    if primer and not free:
        check_primer(primer, style)
    rng = np.random.default_rng(seed)
    if headers is None or (primer or "").startswith("X:"):
        styles = [style] * n
    else:
        fits = None if not primer else (lambda s: feed_text(initial_state(f"M:{s.meter}\nL:{s.length}\n"), primer)
                                        is not None)
        styles = headers.draw_many(style, rng, n, fits)
    asked = style.the_form()
    # A primer that writes its own section lines (or the whole header) keeps the model's form.
    own_sections = bool(primer) and (primer.startswith("X:") or any(b in primer for b in (":", "||", "[|", "|]")))
    if free or asked == "none" or (asked is None and forms is None) or own_sections:
        shapes = [None] * n
    else:
        shapes = [asked if asked is not None else forms.draw(s.meter, s.rhythm, rng) for s in styles]
    jobs = iter([(build_plan(primer, s), shape, np.random.default_rng([seed, i])) for i, (s, shape)
                 in enumerate(zip(styles, shapes))])

    index = None
    if style.max_copy_bars > 0 and not free:
        from .originality import index_for

        index = index_for(ckpt)

    def new_writer() -> AbcWriter:
        plan, shape, echoes = next(jobs)
        return abc_writer(ckpt, plan, max_symbols, free, shape, echoes, index, style.max_copy_bars)

    writers = write_batched(ckpt, n, new_writer, sampling, seed)
    return [w.tune(number) for number, w in enumerate(writers, 1)]
