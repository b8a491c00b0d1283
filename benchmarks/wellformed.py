"""Well-formed generation against free sampling: validity by two judges, and what it costs.

    python benchmarks/wellformed.py [-n 200] [--seed 1] [--model DIR]

Validity: `tunesmith generate -n N --seed S` with and without `--free`;
a tune counts when our checker finds no problem, and when abc2midi reports
no bar-length warning (outside repeats' second passes, where a pickup
shows up again) and no error about notes, ties, bars or tuplets.

Cost: one batch of 64 streams, each way, on the same seed, in this process
(one torch thread, one BLAS thread). Reported per symbol written (the fair
figure: well-formed tunes are longer, and a batch lasts as long as its
longest tune) and per batch; "cold" is the first batch of a process (every
automaton mask computed for the first time), "warm" a second batch on a
new seed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from tunesmith.checkpoint import load_checkpoint
from tunesmith.cli import DEFAULT_MODEL
from tunesmith.constraints import mask_cache
from tunesmith.generate import abc_streams, build_plan, generate_tunes, sample_streams
from tunesmith.insight.abc2midi import available, judge
from tunesmith.music.abc.check import check_tune
from tunesmith.options import Sampling, Style


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
    streams = abc_streams(ckpt, [build_plan(None, Style()) for _ in range(64)], 2000, free)
    start = time.process_time()
    sample_streams(ckpt, streams, Sampling(), seed)
    return time.process_time() - start, sum(len(s.ids) for s in streams)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ckpt = load_checkpoint(args.model)

    print("cost of well-formed sampling, 64 streams (CPU seconds of this process):")
    for label, seed in (("cold", 101), ("warm", 102)):
        wf, wf_symbols = batch_seconds(ckpt, False, seed)
        free, free_symbols = batch_seconds(ckpt, True, seed)
        print(f"  {label}: well-formed {wf:.2f} s for {wf_symbols} symbols, free {free:.2f} s for {free_symbols}; "
              f"per symbol {wf / wf_symbols / (free / free_symbols):.2f}x, per batch {wf / free:.2f}x "
              f"(target per symbol <= 1.5x); {len(mask_cache(ckpt.codec).masks)} masks cached")

    if not available():
        raise SystemExit("abc2midi is not installed (Debian package abcmidi; `make tools`)")
    validity(f"well-formed (-n {args.n} --seed {args.seed})", generate_tunes(ckpt, args.n, seed=args.seed))
    validity(f"free        (-n {args.n} --seed {args.seed} --free)",
             generate_tunes(ckpt, args.n, seed=args.seed, free=True))


if __name__ == "__main__":
    main()
