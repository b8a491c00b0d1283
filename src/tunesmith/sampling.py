"""Draw the next symbol of every stream of a batch: temperature, top-k, top-p, and masks.

A row's mask may be dense (a bool array over the vocabulary) or lazy (a
`LazyMask`, checked symbol by symbol). Either way the draw is the one the
row would get with the mask applied to its logits (-inf where not allowed)
and temperature, top-k and top-p applied to what is left: they keep their
meaning under constraints. A lazy row only has the symbols checked that
could be drawn, which is what makes well-formed ABC sampling cheap: the
ABC automaton is asked about a handful of likely symbols per state, not
the whole vocabulary.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np
import torch

from .options import Sampling

# A lazy row is settled in one vectorised pass over its likeliest symbols
# when they decide the draw; otherwise it is walked one symbol at a time.
_TOP = 24
# The least temperature divided by: below it a float32 logit over it overflows float64 to inf, and inf - inf
# is NaN, which no mask holds back. Any temperature this low is greedy already.
_LEAST_TEMPERATURE = 1e-200


def _temperature(sampling: Sampling) -> float:
    return max(sampling.temperature, _LEAST_TEMPERATURE)


class LazyMask(Protocol):
    """Allowed next symbols, checked one at a time (the ABC mode's masks.Node, masks.StateMask).

    It may also have `source` and `row`: `known` is then source.table[row],
    and the rows of many masks are read together.
    """

    known: np.ndarray  # int8 (V,): 1 allowed, 0 not, -1 not checked yet

    def allows(self, symbol: int) -> bool: ...

    def full(self) -> np.ndarray: ...


def filter_logits(logits: np.ndarray, sampling: Sampling) -> np.ndarray:
    """Tempered logits (float64) with what top-k and top-p drop set to -inf."""
    logits = logits.astype(np.float64) / _temperature(sampling)
    vocab = logits.shape[-1]
    if sampling.top_k is not None and sampling.top_k < vocab:
        kth = np.partition(logits, vocab - sampling.top_k, axis=-1)[:, vocab - sampling.top_k, None]
        logits = np.where(logits < kth, -np.inf, logits)
    if sampling.top_p is not None and sampling.top_p < 1:
        order = np.argsort(-logits, axis=-1)
        rows = np.arange(len(logits))[:, None]  # plain indexing: take/put_along_axis cost ~100 us a call in Python
        ordered = logits[rows, order]
        probs = np.exp(ordered - ordered[:, :1])
        probs /= probs.sum(-1, keepdims=True)
        # Drop a symbol when the ones more likely than it already reach top_p.
        drop = (np.cumsum(probs, -1) - probs) >= sampling.top_p
        logits[rows, order] = np.where(drop, -np.inf, ordered)  # logits is this function's own array
    return logits


def _gumbel(uniform: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -np.log(-np.log(uniform))


def choose(logits: np.ndarray, sampling: Sampling, rng: np.random.Generator,
           lazy: dict[int, LazyMask] | None = None) -> np.ndarray:
    """Next symbol ids (B,) from logits (B, V); rows in `lazy` only among the symbols their mask allows."""
    lazy = lazy or {}
    if sampling.argmax:
        chosen = logits.argmax(-1)
        if lazy:
            rows = list(lazy)
            chosen[rows] = _choose_lazy(logits[rows], None, [lazy[r] for r in rows], sampling)
        return chosen
    # Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits),
    # in fewer and cheaper operations than a softmax and a categorical draw.
    uniform = rng.random(logits.shape)
    if not lazy:
        return (filter_logits(logits, sampling) + _gumbel(uniform)).argmax(-1)
    chosen = np.empty(len(logits), dtype=int)
    dense = [row for row in range(len(logits)) if row not in lazy]
    if dense:
        chosen[dense] = (filter_logits(logits[dense], sampling) + _gumbel(uniform[dense])).argmax(-1)
    rows = list(lazy)
    chosen[rows] = _choose_lazy(logits[rows], uniform[rows], [lazy[r] for r in rows], sampling)
    return chosen


def _choose_lazy(logits: np.ndarray, uniform: np.ndarray | None, masks: list[LazyMask],
                 sampling: Sampling) -> np.ndarray:
    """The draws of rows with lazy masks.

    Rows are settled together from their likeliest symbols (`_TOP` of
    them), once the unchecked ones a nucleus is likely to need are checked,
    where what is known decides the draw (`_settle`); the rest by a walk
    down the whole vocabulary that checks what is unchecked as it goes
    (`_nucleus`). A single row goes straight to the walk: for one stream
    it is cheaper than the batched pass.
    """
    scaled = np.divide(logits, _temperature(sampling), dtype=np.float64)
    rows, vocab = scaled.shape
    top = min(_TOP, vocab)
    everything = np.arange(rows)
    known = _known(masks)
    nucleus = sampling.top_p is not None and sampling.top_p < 1
    top_p = sampling.top_p if nucleus else None
    if sampling.argmax or (sampling.top_k is None and not nucleus):
        # The allowed symbol that ranks first, by logit (argmax) or perturbed logit (a draw).
        key = scaled if uniform is None else scaled + _gumbel(uniform)
        ranked = torch.topk(torch.from_numpy(key), top, dim=-1).indices.numpy()
        chosen = ranked[:, 0].copy()
        whole = []
        for r in np.flatnonzero(known[everything, chosen] != 1).tolist():
            allows = masks[r].allows
            found = next((s for s in ranked[r].tolist() if allows(s)), None)
            if found is None:
                whole.append(r)
            else:
                chosen[r] = found
        if whole:
            chosen[whole] = _choose_whole(logits[whole], None if uniform is None else uniform[whole],
                                          [masks[r] for r in whole], sampling)
        return chosen

    if rows == 1:
        # One stream: the walk settles it in a few steps, cheaper than the ~60 array calls of the batched pass.
        every = np.exp(scaled - scaled.max(-1, keepdims=True))
        return _walk(np.empty(1, dtype=int), everything, scaled, every, uniform, known, logits, masks, sampling, top_p)
    # Likeliest first (ranked on the logits as they come: a temperature keeps the order).
    ranked = torch.topk(torch.from_numpy(np.ascontiguousarray(logits)), top, dim=-1).indices.numpy()
    values = scaled[everything[:, None], ranked]
    every = np.exp(scaled - values[:, :1])                # unnormalised probabilities
    weights = every[everything[:, None], ranked]
    state = known[everything[:, None], ranked]
    if top_p is not None and (state < 0).any():
        # Check first the unchecked symbols a nucleus is likely to need: those
        # ahead of which lies less than halfway from top_p to all the weight.
        ahead = np.cumsum(weights, -1) - weights
        need = (state < 0) & (ahead < (1 + top_p) / 2 * every.sum(-1, keepdims=True))
        if need.any():
            for r, symbol in zip(*(a.tolist() for a in (need.nonzero()[0], ranked[need]))):
                masks[r].allows(symbol)
            known = _known(masks)
            state = known[everything[:, None], ranked]
    allowed, unchecked = (np.where(known == 1, every, 0.0).sum(-1, keepdims=True),
                          np.where(known < 0, every, 0.0).sum(-1, keepdims=True))
    kept, decided = _settle(state, weights, allowed, unchecked, sampling.top_k, top_p, complete=top == vocab)
    # The draw among what is kept: noise only where it is needed.
    perturbed = np.full(kept.shape, -np.inf)
    at = kept.nonzero()
    perturbed[at] = values[at] + _gumbel(uniform[at[0], ranked[at]])
    chosen = ranked[everything, perturbed.argmax(-1)]
    rest = np.flatnonzero(~decided)
    if not len(rest):
        return chosen
    return _walk(chosen, rest, scaled, every, uniform, known, logits, masks, sampling, top_p)


def _walk(chosen: np.ndarray, rest: np.ndarray, scaled: np.ndarray, every: np.ndarray, uniform: np.ndarray,
          known: np.ndarray, logits: np.ndarray, masks: list[LazyMask], sampling: Sampling,
          top_p: float | None) -> np.ndarray:
    """The draws of the rows `rest`, each walked down its whole order, checking what is unchecked as it goes.

    `every` holds the rows' unnormalised probabilities (exp of the scaled logits less the row's largest).
    """
    order = np.argsort(-scaled[rest], axis=-1, kind="stable")
    at = rest[:, None], order
    weights = every[at]
    perturbed = scaled[at] + _gumbel(uniform[at])
    tails = np.concatenate([np.cumsum(weights[:, ::-1], -1)[:, ::-1], np.zeros((len(rest), 1))], -1)
    whole = []
    for r, row_order, w, tail, noisy, row_known in zip(rest.tolist(), order.tolist(), weights.tolist(),
                                                       tails.tolist(), perturbed.tolist(), known[rest].tolist()):
        ranks = _nucleus(row_order, w, tail, row_known, masks[r].allows, sampling.top_k, top_p)
        if ranks:
            chosen[r] = row_order[max(ranks, key=noisy.__getitem__)]
        else:  # every allowed weight underflowed, or nothing is allowed
            whole.append(r)
    if whole:
        chosen[whole] = _choose_whole(logits[whole], uniform[whole], [masks[r] for r in whole], sampling)
    return chosen


def _settle(state: np.ndarray, weights: np.ndarray, allowed_weight: np.ndarray, unchecked_weight: np.ndarray,
            top_k: int | None, top_p: float | None, complete: bool) -> tuple[np.ndarray, np.ndarray]:
    """What top-k and top-p keep of many rows, where what is known of their top ranks decides it.

    `state` (R, T) is what is known of each row's top ranks, likeliest
    first (1 allowed, 0 not, -1 unchecked) and `weights` their unnormalised
    probabilities; `allowed_weight` and `unchecked_weight` (R, 1) sum the
    whole vocabulary. The allowed weight Z lies between the known allowed
    weight and that plus the unchecked weight. A row is decided when every
    known candidate is in or out of the nucleus for any Z in that range,
    and no unchecked symbol ranks early enough to be a candidate (for
    top-k: no unchecked symbol before the k-th candidate, and Z is exact).
    Returns what is kept (R, T) and which rows are decided (R,).
    """
    ranks = np.arange(state.shape[-1])
    allowed, unknown = state == 1, state < 0
    candidate_weight = np.where(allowed, weights, 0.0)
    found = np.cumsum(candidate_weight, -1)               # known allowed weight down to each rank
    before = found - candidate_weight                     # for a candidate: the allowed weight ahead of it
    if top_k is not None:
        hit = allowed & (np.cumsum(allowed, -1) == top_k)
        has_k = hit.any(-1)
        limit = np.where(has_k, hit.argmax(-1), len(ranks) - 1)[:, None]
        in_top = ranks <= limit
        # Without k candidates in the top ranks, every allowed symbol is a candidate.
        decided = (has_k | (complete & ~unknown.any(-1))) & ~(unknown & in_top).any(-1)
        low = high = np.take_along_axis(found, limit, -1)
        kept = allowed & in_top
    else:
        low, high = allowed_weight, allowed_weight + unchecked_weight
        decided, kept = np.ones(len(state), dtype=bool), allowed
    if top_p is not None:
        low, high = top_p * low, top_p * high
        # Past the first rank whose known allowed weight reaches top_p * (the most Z), every candidate is out.
        reach = found >= high
        first = reach.argmax(-1)[:, None]
        decided &= (reach.any(-1) & ~(unknown & (ranks <= first)).any(-1)
                    & ~(allowed & (before >= low) & (before < high)).any(-1) & (low[:, 0] > 0))
        kept = kept & (before < low)
    return kept, decided & kept.any(-1)


def _known(masks: list[LazyMask]) -> np.ndarray:
    """What is known of each row's mask (R, V), in one look-up where they share a table."""
    source = getattr(masks[0], "source", None)
    if source is not None and all([m.source is source for m in masks]):
        return source.table[[m.row for m in masks]]
    return np.stack([m.known for m in masks])


def _choose_whole(logits: np.ndarray, uniform: np.ndarray | None, masks: list[LazyMask],
                  sampling: Sampling) -> np.ndarray:
    """Draws with whole masks: the dense way, for rows a walk cannot settle (a dead end, or underflow)."""
    allowed = np.stack([m.full() for m in masks])
    allowed[~allowed.any(-1)] = True  # a dead end (none by design): the writer goes on freely
    masked = np.where(allowed, logits, -np.inf)
    if uniform is None:
        return masked.argmax(-1)
    return (filter_logits(masked, sampling) + _gumbel(uniform)).argmax(-1)


def _nucleus(order: list[int], weights: list[float], tails: list[float], known: list[int],
             allows: Callable[[int], bool], top_k: int | None, top_p: float | None) -> list[int] | None:
    """The ranks (in `order`) of the allowed symbols that top-k and top-p keep, from the likeliest down.

    None when every allowed weight underflowed, [] when nothing is allowed.
    `known` is what is known of the mask (1 allowed, 0 not, -1 unchecked:
    then `allows` checks it). `weights` are unnormalised probabilities in
    the order `order`, and tails[j] the weight of ranks j and after. The
    allowed weight Z is unknown until every symbol is checked, but lies
    between what has been found allowed (found) and that plus every weight
    not yet checked. A candidate is kept when the allowed weight ahead of
    it is below top_p * Z: surely when below top_p * found, surely not when
    at least top_p * (found + tail). Checking stops when every candidate is
    settled and any later one would be dropped.
    """
    candidates: list[int] = []  # ranks
    before: list[float] = []    # the allowed weight ahead of each candidate
    found = 0.0
    sure = 0                   # candidates[:sure] are surely kept
    for j, symbol in enumerate(order):
        if known[symbol] == 1 or (known[symbol] < 0 and allows(symbol)):
            candidates.append(j)
            before.append(found)
            found += weights[j]
            if top_k is not None and len(candidates) == top_k:
                break
        if top_p is not None and found > 0:
            while sure < len(before) and before[sure] < top_p * found:
                sure += 1
            bound = top_p * (found + tails[j + 1])
            if (before[sure] if sure < len(before) else found) >= bound:
                return candidates[:sure]
    if not candidates:
        return []
    if found == 0.0:
        return None
    if top_p is None:
        return candidates
    return [c for c, b in zip(candidates, before) if b < top_p * found]
