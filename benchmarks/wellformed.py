"""Well-formed generation against free sampling: validity by two judges, and what it costs.

    python benchmarks/wellformed.py [-n 200] [--seed 1] [--model DIR] [--runs 10] [--styles 40]

Validity: `tunesmith generate -n N --seed S` with and without `--free`, and
well-formed under other settings (seeds, temperatures, styles, top-k);
a tune counts when our checker finds no problem, and when abc2midi reports
no bar-length warning (outside repeats' second passes, where a pickup
shows up again) and no error about notes, ties, bars or tuplets.

Cost: one batch of 64 streams, each way, on the same seed, in CPU seconds
of the process (one torch thread, one BLAS thread). "Cold" is the first
batch of a fresh process, where every automaton state met is new; "warm" a
second batch, on a new seed, after it. Each of --runs fresh processes
(seeds 101, 102, ... cold; 201, 202, ... warm) measures both ways,
well-formed and free in turn (their order alternates), and the median of
the per-process ratios is reported, per batch and per symbol written:
well-formed tunes are longer (a free one may stop anywhere, a well-formed
one only where its bars and repeats are complete), by 10-25 % depending on
the seed. Timings on a shared machine vary by 10-20 % from run to run; the
ratios much less.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from tunesmith.checkpoint import load_checkpoint
from tunesmith.checkpoint import DEFAULT_MODEL
from tunesmith.generate import sample_streams
from tunesmith.modes.abc import masks
from tunesmith.modes.abc.masks import mask_cache
from tunesmith.modes.abc.writer import abc_writer, build_plan, generate_tunes
from tunesmith.insight.abc2midi import available, judge
from tunesmith.music.abc.check import check_tune
from tunesmith.modes.abc import Style
from tunesmith.options import Sampling


def validity(label: str, tunes: list[str]) -> None:
    ours = sum(not check_tune(t) for t in tunes)
    verdicts = [judge(t) for t in tunes]
    bars = sum(not v.bar_warnings for v in verdicts)
    errors = sum(len(v.errors) for v in verdicts)
    clean = sum(v.ok and not v.bar_warnings for v in verdicts)
    n = len(tunes)
    print(f"{label}: our checker {ours}/{n} = {ours / n:.1%} clean; abc2midi: every bar right in {bars}/{n} "
          f"= {bars / n:.1%}, {errors} errors about notes/ties/bars/tuplets, {clean / n:.1%} fully clean")


def batch_seconds(ckpt, free: bool, seed: int) -> tuple[float, int]:
    streams = [abc_writer(ckpt, build_plan(None, Style()), 2000, free) for _ in range(64)]
    start = time.process_time()
    sample_streams(ckpt, streams, Sampling(), seed)
    return time.process_time() - start, sum(len(s.ids) for s in streams)


def cost_child(model: Path, run: int) -> None:
    """One fresh process: a cold pair of batches, then a warm pair; prints them as JSON."""
    torch.set_num_threads(1)
    ckpt = load_checkpoint(model)
    cache = mask_cache(ckpt.codec)
    asked = count_automaton_calls()
    result, free_first = {}, run % 2 == 1
    for label, seed in (("cold", 101 + run), ("warm", 201 + run)):
        for free in ((True, False) if free_first else (False, True)):
            result[f"{label} {'free' if free else 'well-formed'}"] = batch_seconds(ckpt, free, seed)
        if label == "cold":
            result["cold asked"] = asked[0]
            result["cold whole"] = len(cache.masks) * len(cache.representatives) + len(cache.nodes)
            result["cold states"] = len(cache.nodes)
    print(json.dumps(result))


def count_automaton_calls() -> list[int]:
    """Count what the constraints ask of the automaton (each mask check and each step feeds it text)."""
    asked = [0]
    feed = masks.feed_text

    def counted(state, text):
        asked[0] += 1
        return feed(state, text)

    masks.feed_text = counted
    return asked


def cost(model: Path, runs: int) -> None:
    print(f"cost of well-formed sampling, 64 streams, {runs} fresh processes (CPU seconds; median ratio):")
    results = []
    for run in range(runs):
        child = subprocess.run([sys.executable, __file__, "--cost-child", str(run), "--model", str(model)],
                               capture_output=True, text=True, check=True)
        results.append(json.loads(child.stdout))
    for label in ("cold", "warm"):
        wf = [r[f"{label} well-formed"] for r in results]
        free = [r[f"{label} free"] for r in results]
        per_batch = statistics.median(w[0] / f[0] for w, f in zip(wf, free))
        per_symbol = statistics.median((w[0] / w[1]) / (f[0] / f[1]) for w, f in zip(wf, free))
        print(f"  {label}: well-formed {statistics.median(w[0] for w in wf):.2f} s for "
              f"{statistics.median(w[1] for w in wf):.0f} symbols, free {statistics.median(f[0] for f in free):.2f} s "
              f"for {statistics.median(f[1] for f in free):.0f} (medians); "
              f"per batch {per_batch:.2f}x, per symbol {per_symbol:.2f}x (target <= 1.5x); per batch over the "
              f"runs {min(w[0] / f[0] for w, f in zip(wf, free)):.2f}-{max(w[0] / f[0] for w, f in zip(wf, free)):.2f}x")
    print(f"  first batch: {statistics.median(r['cold states'] for r in results):.0f} automaton states met, "
          f"the automaton asked {statistics.median(r['cold asked'] for r in results):.0f} times (whole masks "
          f"and steps: {statistics.median(r['cold whole'] for r in results):.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--runs", type=int, default=10, help="fresh processes for the cost (0: validity only)")
    parser.add_argument("--styles", type=int, default=40, help="tunes per other setting (0: none)")
    parser.add_argument("--cost-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cost_child is not None:
        return cost_child(args.model, args.cost_child)
    if args.runs:
        cost(args.model, args.runs)

    if not available():
        raise SystemExit("abc2midi is not installed (Debian package abcmidi; `make tools`)")
    ckpt = load_checkpoint(args.model)
    validity(f"well-formed (-n {args.n} --seed {args.seed})", generate_tunes(ckpt, args.n, seed=args.seed))
    validity(f"free        (-n {args.n} --seed {args.seed} --free)",
             generate_tunes(ckpt, args.n, seed=args.seed, free=True))
    if args.styles:
        print(f"other settings, {args.styles} well-formed tunes each:")
        for label, options in OTHER_SETTINGS:
            validity(f"  {label}", generate_tunes(ckpt, args.styles, **options))


OTHER_SETTINGS = [
    ("seed 7", dict(seed=7)),
    ("seed 42, temperature 0.8, top-p 0.95", dict(seed=42, sampling=Sampling(temperature=0.8, top_p=0.95))),
    ("a 3/4 waltz", dict(seed=3, style=Style(meter="3/4", rhythm="waltz"))),
    ("2/4 with L:1/16", dict(seed=4, style=Style(meter="2/4", length="1/16"))),
    ("a C| reel in Ador", dict(seed=5, style=Style(meter="C|", key="Ador", rhythm="reel"))),
    ("9/8", dict(seed=6, style=Style(meter="9/8"))),
    ("top-k 5", dict(seed=8, sampling=Sampling(top_k=5, top_p=None))),
    ("temperature 1.3 without top-p", dict(seed=9, sampling=Sampling(temperature=1.3, top_p=None))),
]


if __name__ == "__main__":
    main()
