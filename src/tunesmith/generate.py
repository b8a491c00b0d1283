"""Write new tunes: sample a symbol, feed it back in, many tunes at once.

A tune is produced from a *plan*: forced text (the header the user asked
for, a primer) interleaved with parts the model writes (a title line, a
header field's value, the rest of the header, the body). All tunes of a
request are parallel streams of one batch; a stream stops at the blank line
that ends a tune in ABC, or at the length cap.
"""

from __future__ import annotations

import gc
import re
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from .checkpoint import Checkpoint
from .constraints import MaskCache, Node, mask_cache
from .errors import TunesmithError
from .music.abc.wellformed import closed, feed_text, initial_state
from .options import Sampling, Style
from .sampling import LazyMask, choose

MAX_BATCH = 64
# A line of music: not a field line (K:, M:, P: ...), and with a note in it.
_MUSIC_LINE = re.compile(r"(?![A-Za-z+]:)[^\n]*[A-Ga-g]")
_OPTION = {"M": "meter", "L": "length", "R": "rhythm", "K": "key"}


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
                "drop --meter/--key/--rhythm/--length, or give a primer that starts the music"
            )
        header_done = any(line.startswith("K:") for line in primer.split("\n")[:-1])
        return [Segment("force", primer, "--primer")] + ([] if header_done else [Segment("header")]) + [Segment("body")]
    plan = [Segment("force", "X:1\nT:", "header"), Segment("line")]
    if wanted:
        last = max(i for i, (_, v) in enumerate(style.fields()) if v)
        for letter, value in style.fields()[: last + 1]:
            if value:
                plan.append(Segment("force", f"{letter}:{value}\n", f"--{_OPTION[letter]}"))
            elif letter != "R":  # a rhythm is optional in ABC; the others the model fills in
                plan += [Segment("force", f"{letter}:", "header"), Segment("line")]
        if last < 3:
            plan.append(Segment("header"))
    else:
        plan.append(Segment("header"))
    if primer:
        plan.append(Segment("force", primer, "--primer"))
    return plan + [Segment("body")]


@dataclass
class Stream:
    """One tune being written: its plan, forced symbols, and what it has so far."""

    plan: deque           # (mode, forced ids) pairs still to come
    newline: int          # id of "\n"
    decode: Callable[[list[int]], str]  # the codec's: lines are judged by their text
    max_symbols: int
    vocab_size: int = 0
    rules: "MaskCache | None" = None  # well-formedness constraints (None: free sampling)
    ids: list[int] = field(default_factory=list)
    queue: deque = field(default_factory=deque)
    mode: str = "body"
    line_start: int = 0
    body_start: int | None = None  # where the music starts, after the K: line
    has_music: bool = False        # a line of the body has a note: a blank line may end the tune
    done: bool = False
    truncated: bool = False
    node: "Node | None" = None     # the automaton's state while the body is being written
    safe_end: int | None = None    # the last length at which the tune could have ended well-formed
    broke_rules: bool = False      # forced text (a primer) broke the constraints: sampled freely after it

    def __post_init__(self):
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
        """Take the sampled symbol (or the next forced one); return what was written."""
        forced = bool(self.queue)
        sym = self.queue.popleft() if forced else sampled
        self.ids.append(sym)
        node = self.node
        if node is not None:
            node = self.rules.step(node, sym)
            if node is None:
                self.broke_rules = True
            elif node.state.ctx == "end":
                self.done = True
            elif node.can_end and node.state.linestart:
                self.safe_end = len(self.ids)
            # 99 % of training tunes are shorter than a third of the default cap
            # (610 characters of 2000): a tune past that is likely wandering. It
            # opens no new repeat or ending, and ends at the first bar line where it may.
            if node is not None and len(self.ids) >= self.max_symbols // 3 and not self.done and not self.queue:
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
            if not forced:
                # A blank line before any music cannot be sampled (see may_not_end_line).
                if self.mode == "line":
                    self._advance()
                elif self.mode == "header" and self.decode(line).startswith("K:"):
                    self._advance()
                elif self.mode == "body" and not line:
                    self.done = True
        if len(self.ids) >= self.max_symbols and not self.done:
            self.done = self.truncated = True
        return sym

    def mask(self) -> "np.ndarray | LazyMask | None":
        """What may come next (None: anything).

        In the body, the automaton's; in the header, field lines and values
        tunesmith reads; never a blank line before any music.
        """
        if self.queue:
            return None
        if self.node is not None:
            # Checked lazily; at a dead end (none by design) the sampler draws
            # freely and `push` finds the rules broken.
            return self.node
        if self.rules is not None and self.body_start is None:
            line = self.decode(self.ids[self.line_start:])
            # Before K:, every line the model writes is a field line (else
            # the tune's music would start with no key and no constraints).
            header = self.rules.field_mask(line) if self.mode == "header" else None
            if header is None and line:
                header = self.rules.header_mask(line)
            if header is not None:
                return header
        if not self.may_not_end_line():
            return None
        allowed = np.ones(self.vocab_size, dtype=bool)
        allowed[self.newline] = False
        return allowed

    def may_not_end_line(self) -> bool:
        """A newline now would write a blank line, ending a tune that has no music yet."""
        return not self.queue and self.line_start == len(self.ids) and not self._has_music()

    def _has_music(self) -> bool:
        if not self.has_music and self.body_start is not None:
            body = self.decode(self.ids[self.body_start:])
            self.has_music = any(_MUSIC_LINE.match(line) for line in body.split("\n"))
        return self.has_music


class Writer(Protocol):
    """One piece being written, as the sampler sees it (every mode supplies its own)."""

    ids: list[int]
    done: bool

    def push(self, sampled: int) -> int:
        """Take the sampled id (or the writer's own forced one); return the id written."""

    def mask(self) -> "np.ndarray | LazyMask | None":
        """Which ids may come next (bool, vocabulary-sized, or checked one by one), or None when any may."""


def sample_streams(ckpt: Checkpoint, streams: list, sampling: Sampling, seed: int) -> list:
    """Run one batch of writers to their ends, feeding each sampled symbol back in; returns them.

    Masked symbols get probability 0 and the rest are renormalised, so
    temperature, top-k and top-p apply to what the constraints allow.
    """
    # One step multiplies (B, 4H) matrices: BLAS threads cost more to wake than
    # they save, and on a busy machine they make sampling ten times slower.
    with threadpool_limits(limits=1, user_api="blas"), _without_cyclic_gc():
        return _sample(ckpt, streams, sampling, seed)


@contextmanager
def _without_cyclic_gc():
    """Pause Python's cycle collector (reference counting still frees everything).

    Well-formed sampling makes thousands of small objects per batch (automaton
    states, their steps) and keeps them cached, so the collector would run
    every few hundred steps and walk them all: about a tenth of the time of a
    batch. What the sampling loop throws away holds no reference cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _sample(ckpt: Checkpoint, streams: list, sampling: Sampling, seed: int) -> list:
    codec, net = ckpt.codec, ckpt.model.stepper()
    newline = codec.index["\n"]
    rng = np.random.default_rng(seed)
    batch = len(streams)
    state = net.initial_state(batch)
    warmup = np.full(batch, newline)
    for _ in range(2):  # every piece in training follows a blank line
        logits, state = net.step(warmup, state)
    live = [i for i in range(batch) if not streams[i].done]  # in the batch's row order
    if len(live) < batch:
        state = net.select(state, np.array(live, dtype=int))
        logits = logits[live]
    while live:
        masks = [streams[i].mask() for i in live]
        rows = [row for row, m in enumerate(masks) if isinstance(m, np.ndarray)]
        if rows:
            allowed = np.stack([masks[r] for r in rows])
            logits[rows] = np.where(allowed, logits[rows], -np.inf)
        lazy = {row: m for row, m in enumerate(masks) if m is not None and not isinstance(m, np.ndarray)}
        sampled = choose(logits, sampling, rng, lazy).tolist()
        ids = [streams[i].push(s) for i, s in zip(live, sampled)]
        keep = [row for row, i in enumerate(live) if not streams[i].done]
        if not keep:
            break
        if len(keep) < len(live):
            state = net.select(state, np.array(keep))
            ids = [ids[r] for r in keep]
            live = [live[r] for r in keep]
        logits, state = net.step(np.array(ids), state)
    return streams


def abc_streams(ckpt: Checkpoint, plans: list[list[Segment]], max_symbols: int, free: bool = False) -> list[Stream]:
    """One ABC writer per plan; well-formed unless `free`."""
    codec = ckpt.codec
    newline = codec.index["\n"]
    rules = None if free else mask_cache(codec)
    streams = []
    for plan in plans:
        encoded = deque((seg.mode, codec.encode(seg.text, seg.where)) for seg in plan)
        streams.append(Stream(encoded, newline, codec.decode, max_symbols, vocab_size=len(codec), rules=rules))
    return streams


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


def generate_tunes(ckpt: Checkpoint, n: int, *, seed: int = 0, sampling: Sampling = Sampling(),
                   style: Style = Style(), primer: str | None = None, max_symbols: int = 2000,
                   free: bool = False) -> list[str]:
    """`n` new tunes in ABC, each a complete text numbered X:1..n."""
    if n < 1:
        raise TunesmithError(f"-n must be at least 1 (got {n})")
    if max_symbols < 16:
        raise TunesmithError(f"--max-length must be at least 16 symbols (got {max_symbols})")
    sampling.check()
    style = style.checked()
    plan = build_plan(primer, style)
    if primer and not free:
        check_primer(primer, style)
    tunes: list[str] = []
    for start in range(0, n, MAX_BATCH):
        count = min(MAX_BATCH, n - start)
        streams = abc_streams(ckpt, [list(plan) for _ in range(count)], max_symbols, free)
        sample_streams(ckpt, streams, sampling, seed + start)
        for offset, stream in enumerate(streams):
            ids = stream.ids
            if stream.truncated and stream.safe_end is not None and not stream.broke_rules:
                ids = ids[: stream.safe_end]  # cut back to the last point where the tune was whole
            text = ckpt.codec.decode(ids)
            tunes.append(finish_tune(text, start + offset + 1, stream.truncated))
    return tunes
