"""Drawing the next symbols: lazy masks draw exactly what whole masks would, checking far less."""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.checkpoint import load_checkpoint
from tunesmith.checkpoint import DEFAULT_MODEL
from tunesmith.generate import sample_streams
from tunesmith.modes.abc.masks import mask_cache
from tunesmith.modes.abc.writer import abc_writer, build_plan
from tunesmith.modes.abc import Style
from tunesmith.options import Sampling
from tunesmith.sampling import choose


class Revealed:
    """A lazy mask over a known answer, of which only some symbols are known at first."""

    source = None

    def __init__(self, allowed: np.ndarray, known_at_first: np.ndarray):
        self.allowed = allowed
        self.known = np.where(known_at_first, allowed, -1).astype(np.int8)
        self.asked = 0

    def allows(self, symbol: int) -> bool:
        if self.known[symbol] < 0:
            self.asked += 1
            self.known[symbol] = self.allowed[symbol]
        return bool(self.known[symbol])

    def full(self) -> np.ndarray:
        return self.allowed


SETTINGS = [Sampling(), Sampling(top_p=None), Sampling(top_k=5, top_p=None), Sampling(top_k=5, top_p=0.9),
            Sampling(temperature=1.3, top_p=0.5), Sampling(top_p=0.99), Sampling(temperature=0.01),
            Sampling(argmax=True), Sampling(top_k=1, top_p=None)]


@pytest.mark.parametrize("sampling", SETTINGS, ids=str)
@pytest.mark.parametrize("vocab, spread", [(90, 1.0), (90, 4.0), (12, 2.0)])
def test_lazy_masks_draw_exactly_what_whole_masks_draw(sampling, vocab, spread):
    rng = np.random.default_rng(vocab + int(spread * 10))
    rows = 1500
    logits = (rng.normal(size=(rows, vocab)) * spread).astype(np.float32)
    allowed = rng.random((rows, vocab)) < rng.uniform(0.05, 1.0, (rows, 1))
    allowed[np.arange(rows), rng.integers(0, vocab, rows)] = True  # at least one
    known_at_first = rng.random((rows, vocab)) < rng.uniform(0.0, 1.0, (rows, 1))
    lazy = {r: Revealed(allowed[r], known_at_first[r]) for r in range(rows) if r % 3}
    dense = np.where(allowed, logits, -np.inf)
    mixed = np.where((np.arange(rows) % 3 == 0)[:, None], dense, logits)  # every third row masked densely
    expected = choose(dense, sampling, np.random.default_rng(5))
    drawn = choose(mixed, sampling, np.random.default_rng(5), lazy)
    assert np.array_equal(drawn, expected)
    assert allowed[np.arange(rows), drawn].all()
    if vocab > 20 and not sampling.argmax:
        # Only a part of each mask is ever checked.
        assert np.mean([m.asked for m in lazy.values()]) < 0.6 * vocab


def test_a_lazy_row_with_nothing_allowed_is_drawn_freely():
    logits = np.array([[3.0, 1.0, 0.0, -1.0]] * 200)
    nothing = {r: Revealed(np.zeros(4, dtype=bool), np.zeros(4, dtype=bool)) for r in range(200)}
    free = choose(logits, Sampling(top_p=None), np.random.default_rng(1))
    assert np.array_equal(choose(logits, Sampling(top_p=None), np.random.default_rng(1), nothing), free)


def test_top_p_applies_to_what_the_mask_leaves():
    # Allowed: symbols 1..4 with probabilities 0.64, 0.24, 0.09, 0.03 of what is left;
    # top-p 0.7 keeps the first two of those, whatever the disallowed symbol 0 had.
    logits = np.tile([[9.0, 4.0, 3.0, 2.0, 1.0 - np.log(3)]], (400, 1))
    mask = np.array([False, True, True, True, True])
    lazy = {r: Revealed(mask, np.zeros(5, dtype=bool)) for r in range(400)}
    drawn = choose(logits, Sampling(top_p=0.7), np.random.default_rng(0), lazy)
    assert set(drawn.tolist()) == {1, 2}


def test_well_formed_sampling_checks_a_small_part_of_each_mask():
    """The point of lazy masks: a batch of the shipped model checks few symbols per automaton state."""
    ckpt = load_checkpoint(DEFAULT_MODEL)
    cache = mask_cache(ckpt.codec)
    streams = [abc_writer(ckpt, build_plan(None, Style()), 2000) for _ in range(16)]
    sample_streams(ckpt, streams, Sampling(), 3)
    assert all(not s.broke_rules and not s.truncated for s in streams)
    checked = sum(int((m.known >= 0).sum()) for m in cache.masks.values())
    assert checked < 0.3 * len(cache.masks) * len(cache.symbols)
