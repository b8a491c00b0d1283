"""The sampling loop every mode shares: sample a symbol, feed it back in, many pieces at once.

A mode supplies a *writer* per piece (`Writer`): it says which symbols may
come next (its mask) and takes each sampled symbol, or writes one of its own
(forced text: a header, a primer, a bar line). `write_batched` runs a
request's writers in batches of `MAX_BATCH` parallel streams; nothing here
knows any notation.
"""

from __future__ import annotations

import gc
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from .models.copy import Matcher, mix_logits
from .models.engine import max_batch, stepper_for
from .options import Sampling
from .sampling import LazyMask, choose

if TYPE_CHECKING:
    from .checkpoint import Checkpoint
    from .models.copy import CopyModel

MAX_BATCH = 64


class Writer(Protocol):
    """One piece being written, as the sampler sees it (every mode supplies its own)."""

    ids: list[int]
    done: bool

    def push(self, sampled: int) -> int:
        """Take the sampled id (or the writer's own forced one); return the id written."""

    def mask(self) -> "np.ndarray | LazyMask | None":
        """Which ids may come next (bool, vocabulary-sized, or checked one by one), or None when any may."""


class QueuedWriter:
    """What writers share: forced ids go first, every id is kept, and a piece stops at its length cap.

    A subclass says what a written id means in `take` (and may force ids
    from elsewhere by overriding `forced`); `done` set there ends the piece.
    A piece that reaches `max_symbols` before it is done is `truncated`.
    """

    def __init__(self, max_symbols: int, forced: "deque[int] | None" = None):
        self.max_symbols = max_symbols
        self.queue: deque[int] = deque() if forced is None else forced
        self.ids: list[int] = []
        self.done = False
        self.truncated = False

    def forced(self) -> int | None:
        """The id that must come next whatever is sampled (None: the sampled one is taken)."""
        return self.queue.popleft() if self.queue else None

    def take(self, sym: int, forced: bool) -> None:
        """Read the id just written (`forced`: the writer's own, not sampled)."""

    def push(self, sampled: int) -> int:
        """Take the sampled id (or the next forced one); return what was written."""
        own = self.forced()
        sym = sampled if own is None else own
        self.ids.append(sym)
        self.take(sym, own is not None)
        if len(self.ids) >= self.max_symbols and not self.done:
            self.done = self.truncated = True
        return sym


W = TypeVar("W", bound=Writer)


@dataclass(frozen=True)
class Primed:
    """The model after a beginning every stream shares (the warm-up and a forced text): its next logits and state.

    Streams started from it skip reading that beginning once each: infill's
    candidates share the whole tune before the gap, hundreds of symbols.
    """

    logits: np.ndarray   # (1, V)
    state: Any           # the stepper's state for one stream
    ids: tuple[int, ...] = ()  # the beginning itself (the copy model reads it too)


def prime(ckpt: "Checkpoint", ids: list[int]) -> Primed:
    """The model after the warm-up newlines and `ids`, read once."""
    net = ckpt.model.stepper()
    newline = ckpt.codec.index["\n"]
    state = net.initial_state(1)
    with one_blas_thread():
        for symbol in [newline, newline, *ids]:
            logits, state = net.step(np.array([symbol]), state)
    return Primed(logits, state, tuple(ids))


def write_batched(ckpt: "Checkpoint", n: int, new_writer: Callable[[], W], sampling: Sampling, seed: int,
                  start: Primed | None = None) -> list[W]:
    """`n` writers, run to their ends in batches of at most MAX_BATCH; batch k is seeded `seed + k * MAX_BATCH`.

    A model on a GPU takes batches of `engine.GPU_BATCH` instead (seeded the same way).
    With `start`, every stream begins where the model is after it (see `prime`).
    """
    writers: list[W] = []
    limit = max_batch(ckpt.model, MAX_BATCH)
    for first in range(0, n, limit):
        batch = [new_writer() for _ in range(min(limit, n - first))]
        writers += sample_streams(ckpt, batch, sampling, seed + first, start)
    return writers


def sample_streams(ckpt: "Checkpoint", streams: list, sampling: Sampling, seed: int,
                   start: Primed | None = None) -> list:
    """Run one batch of writers to their ends, feeding each sampled symbol back in; returns them.

    Masked symbols get probability 0 and the rest are renormalised, so
    temperature, top-k and top-p apply to what the constraints allow.
    """
    with one_blas_thread(), _without_cyclic_gc():
        return _sample(ckpt, streams, sampling, seed, start)


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limit = None
_torch_threads = 1


@contextmanager
def one_blas_thread():
    """numpy's BLAS and torch's CPU kernels on one thread while any sampling runs (in any thread of the process).

    One step multiplies (B, 4H) matrices: BLAS threads cost more to wake than
    they save, and on a busy machine they make sampling up to ten times slower
    (measured: 1.3 s against 10.6 s for one tune on a loaded 2-core machine).
    torch's threads likewise, where torch's kernels sample (models/engine.py).
    The limit is process-wide, so it is counted: the first sampler in sets it
    and the last one out restores it (the web app samples in several threads).
    """
    global _blas_users, _blas_limit, _torch_threads
    with _blas_lock:
        if _blas_users == 0:
            _blas_limit = threadpool_limits(limits=1, user_api="blas")
            _torch_threads = torch.get_num_threads()
            torch.set_num_threads(1)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limit.restore_original_limits()
                torch.set_num_threads(_torch_threads)


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


def _sample(ckpt: "Checkpoint", streams: list, sampling: Sampling, seed: int, start: Primed | None = None) -> list:
    # numpy or torch by batch and device (models/engine.py); from a shared beginning, the numpy stepper
    # that `prime` read it with (the two engines keep their state differently)
    net = stepper_for(ckpt.model, len(streams)) if start is None else ckpt.model.stepper()
    codec = ckpt.codec
    newline = codec.index["\n"]
    rng = np.random.default_rng(seed)
    batch = len(streams)
    if start is None:
        state = net.initial_state(batch)
        warmup = np.full(batch, newline)
        for _ in range(2):  # every piece in training follows a blank line
            logits, state = net.step(warmup, state)
    else:  # every stream from the one shared beginning (the stepper copies the rows it selects)
        rows = np.zeros(batch, dtype=int)
        logits, state = start.logits[rows], net.select(start.state, rows)
    live = [i for i in range(batch) if not streams[i].done]  # in the batch's row order
    if len(live) < batch:
        state = net.select(state, np.array(live, dtype=int))
        logits = logits[live]
    copy = ckpt.copy if sampling.copy else None
    matchers = {i: _matcher(copy, start) for i in live} if copy is not None else {}
    while live:
        if matchers:
            _mix_copies(logits, live, matchers, copy)
        masks = [streams[i].mask() for i in live]
        rows = [row for row, m in enumerate(masks) if isinstance(m, np.ndarray)]
        if rows:
            allowed = np.stack([masks[r] for r in rows])
            logits[rows] = np.where(allowed, logits[rows], -np.inf)
        lazy = {row: m for row, m in enumerate(masks) if m is not None and not isinstance(m, np.ndarray)}
        sampled = choose(logits, sampling, rng, lazy).tolist()
        ids = [streams[i].push(s) for i, s in zip(live, sampled)]
        for i, sym in zip(live, ids):
            if i in matchers:
                matchers[i].push(sym)
        keep = [row for row, i in enumerate(live) if not streams[i].done]
        if not keep:
            break
        if len(keep) < len(live):
            state = net.select(state, np.array(keep))
            ids = [ids[r] for r in keep]
            live = [live[r] for r in keep]
        logits, state = net.step(np.array(ids), state)
    return streams


def _matcher(copy: "CopyModel", start: Primed | None) -> Matcher:
    """A stream's copy-model matcher, having read the shared beginning when there is one."""
    matcher = Matcher(copy.min_match)
    for symbol in start.ids if start is not None else ():
        matcher.push(symbol)
    return matcher


def _mix_copies(logits: np.ndarray, live: list[int], matchers: dict, copy: "CopyModel") -> None:
    """Each live stream's logits become the log-probabilities of its copy-model mixture, where it has a match."""
    for row, i in enumerate(live):
        predicted, length = matchers[i].prediction
        weight = copy.weight(length)
        if weight > 0:
            logits[row] = mix_logits(logits[row], predicted, weight)
