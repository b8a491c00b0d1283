"""Infill and variations on held-out tunes of the folk corpus: what ranking gains, validity, and achieved shares.

    python benchmarks/infill.py [--tunes 60] [--bars 4] [--candidates 32] [--seed 1] [--model DIR]
                                [--vary 0.1,0.3,0.5] [--vary-tunes 20] [--vary-candidates 16]

Infill: in each of the first --tunes held-out folk tunes (those the checker
and abc2midi pass, with at least --bars + 4 bars) a gap of --bars bars is
drawn (seeded), with at least one bar after it, and --candidates candidates
are sampled for it. Each candidate is scored by the bits the model spends on
the rest of the tune after it (the ranking's score); "best of k" keeps the
fewest bits of the first k candidates, "unranked" is the mean over all
candidates (what one sample costs on average), "the tune's own" puts the
original bars back. Every candidate is checked: `tunesmith check`, abc2midi,
the bars outside the gap byte for byte, the bar lengths inside.

Variations: `vary` at each --vary amount on the first --vary-tunes of those
tunes, its share of bars changed against the share asked, and the same
checks (same bar count and form).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_name  # noqa: E402

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint  # noqa: E402
from tunesmith.corpus.bundled import load_bundled  # noqa: E402
from tunesmith.corpus.split import split_tunes  # noqa: E402
from tunesmith.insight import abc2midi  # noqa: E402
from tunesmith.modes.abc.forms import form_of  # noqa: E402
from tunesmith.modes.abc.infill import Gap, keeps_the_tune, sample_candidates, score  # noqa: E402
from tunesmith.modes.abc.vary import vary  # noqa: E402
from tunesmith.music.abc.bar_spans import tune_bars  # noqa: E402
from tunesmith.music.abc.check import check_tune  # noqa: E402
from tunesmith.options import Sampling  # noqa: E402


def heldout_tunes(min_bars: int) -> list[str]:
    """Held-out folk tunes the checker and abc2midi pass, with at least `min_bars` bars, in corpus order."""
    _, held = split_tunes(load_bundled("folk"))
    out = []
    for tune in held:
        text = tune.text
        if check_tune(text) or not abc2midi.judge(text).ok:
            continue
        try:
            bars = tune_bars(text).bars
        except Exception:  # noqa: BLE001 - a tune the rewriter refuses (voices) is left out
            continue
        if len(bars) >= min_bars:
            out.append(text)
    return out


def valid(gap: Gap, text: str) -> bool:
    """The filled tune passes the checker and abc2midi, with the bars outside the gap unchanged."""
    return not check_tune(text) and abc2midi.judge(text).ok and keeps_the_tune(gap, text)


def draw_gap(text: str, length: int, rng: np.random.Generator) -> Gap | None:
    """A gap of `length` rewritable bars with at least one bar after it (None: the tune has none)."""
    tune = tune_bars(text)
    bars = tune.bars
    starts = [i for i in range(1, len(bars) - length + 1)  # 1-based first bars; the last bar stays after the gap
              if all(b.steps is not None for b in bars[i - 1:i - 1 + length])]
    if not starts:
        return None
    first = int(rng.choice(starts))
    return Gap(tune, first, first + length - 1)


def run_infill(ckpt, tunes: list[str], args) -> None:
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128) if k <= args.candidates]
    best = {k: [] for k in ks}
    unranked, own, tails, per_symbol_gain = [], [], [], []
    checked = good = failed = 0
    seconds = 0.0
    for index, text in enumerate(tunes):
        rng = np.random.default_rng([args.seed, index])
        gap = draw_gap(text, args.bars, rng)
        if gap is None:
            continue
        started = time.process_time()
        drawn = sample_candidates(ckpt, gap, args.candidates, Sampling(), int(rng.integers(2**31)))
        fills = [m for m in drawn if m is not None]
        bits, tail = score(ckpt, gap, fills + [gap.original()])
        seconds += time.process_time() - started
        failed += len(drawn) - len(fills)
        for music in fills:
            checked += 1
            good += valid(gap, gap.fill(music))
        bits, original = bits[:-1], bits[-1]
        for k in ks:
            best[k].append(bits[:k].min())
        unranked.append(bits.mean())
        own.append(original)
        tails.append(tail)
        per_symbol_gain.append((bits.mean() - bits.min()) / tail)
    n = len(unranked)
    unranked, own, tails = np.array(unranked), np.array(own), np.array(tails)
    print(f"infill: {n} held-out folk tunes, a gap of {args.bars} bars each, {args.candidates} candidates, "
          f"seed {args.seed}")
    print(f"  well formed (check + abc2midi + bars outside unchanged): {good}/{checked} candidates; "
          f"{failed} failed to finish")
    print(f"  CPU seconds per gap (sampling {args.candidates} + ranking): {seconds / n:.2f}")
    print(f"  continuation: mean {tails.mean():.0f} symbols; bits on it (mean per tune, and per symbol):")
    print(f"    the tune's own bars        {own.mean():8.1f}   {own.sum() / tails.sum():.4f}")
    print(f"    unranked (mean candidate)  {unranked.mean():8.1f}   {unranked.sum() / tails.sum():.4f}")
    for k in ks:
        chosen = np.array(best[k])
        gain = unranked - chosen
        half = 1.96 * gain.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
        print(f"    best of {k:<3}                {chosen.mean():8.1f}   {chosen.sum() / tails.sum():.4f}   "
              f"gain {gain.mean():5.2f} bits (95% CI +-{half:.2f}), chosen below own bars in "
              f"{(chosen < own).mean():.0%} of tunes")
    print(f"  best of {args.candidates} vs unranked, per continuation symbol: median "
          f"{statistics.median(per_symbol_gain):.4f} bits")


def run_vary(ckpt, tunes: list[str], args) -> None:
    amounts = [float(a) for a in args.vary.split(",") if a.strip()]
    for amount in amounts:
        shares, asked, ok, same_form, seconds = [], [], 0, 0, 0.0
        for index, text in enumerate(tunes[:args.vary_tunes]):
            started = time.process_time()
            varied = vary(ckpt, text, amount, args.vary_candidates, Sampling(), args.seed, index)
            seconds += time.process_time() - started
            shares.append(varied.achieved)
            asked.append(round(amount * varied.bars) / varied.bars)
            ok += not check_tune(varied.text) and abc2midi.judge(varied.text).ok and len(
                tune_bars(varied.text).bars) == varied.bars
            same_form += form_of(varied.text) == form_of(text)
        shares = np.array(shares)
        print(f"vary --amount {amount}: {len(shares)} tunes, {args.vary_candidates} candidates per run, "
              f"seed {args.seed}: bars changed {shares.mean():.1%} on average (min {shares.min():.1%}, max "
              f"{shares.max():.1%}; round(amount x bars) asks {np.mean(asked):.1%}); well formed {ok}/{len(shares)}, "
              f"same form {same_form}/{len(shares)}; {seconds / len(shares):.1f} CPU s per variation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tunes", type=int, default=60)
    parser.add_argument("--bars", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--vary", default="0.1,0.3,0.5", help="amounts, comma-separated ('' skips variations)")
    parser.add_argument("--vary-tunes", type=int, default=20)
    parser.add_argument("--vary-candidates", type=int, default=16)
    args = parser.parse_args()
    if not abc2midi.available():
        raise SystemExit("abc2midi is not installed (Debian package abcmidi; `make tools`)")
    import torch

    torch.set_num_threads(1)
    print(f"{cpu_name()}; model {args.model}")
    ckpt = load_checkpoint(args.model)
    tunes = heldout_tunes(args.bars + 4)
    run_infill(ckpt, tunes[:args.tunes], args)
    if args.vary:
        run_vary(ckpt, tunes, args)


if __name__ == "__main__":
    main()
