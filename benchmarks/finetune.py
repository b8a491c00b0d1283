"""Fine-tuning the shipped model on 50 tunes of a style it never saw: held-out bits before and after.

    python benchmarks/finetune.py [--region essen-china] [--seeds 1 2 3] [--minutes 5] [--tunes 50]
    python benchmarks/finetune.py --sweep --region essen-europe --seeds 101 102 --lr 0.0005 0.001 0.002

For each seed, `--tunes` tunes are drawn (by the seed) from the bundled Essen
region, which the shipped model's `folk` corpus does not hold, and written as
one tunebook; the real command runs on it (`python -m tunesmith finetune
--model M --corpus book --minutes 5 --seed S --threads 1`, in a process of
its own, its whole CPU time measured). The figures: the held-out bits per
character of the tunes `finetune` held out, before and after (from its
report, finetune.json); the CPU time at which they first fell by 10 %; and,
as a check beyond those few tunes, bits per character before and after on
`--rest` other tunes of the same region that the fine-tuning never saw.

`--sweep` tries each `--lr` (and `--patience`) on each seed: how the
defaults were chosen, on a region and seeds the reported figures do not use.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from machine import cpu_name

from tunesmith.atomic import write_text_atomic
from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.load import load_corpus
from tunesmith.insight.evaluate import bits
from tunesmith.music.abc.tunes import join_tunes


def draw(region: str, count: int, seed: int, rest: int) -> tuple[list, list]:
    """(the tunebook's tunes, up to `rest` other tunes of the region), both drawn by `seed`."""
    tunes = load_corpus([region]).tunes
    order = random.Random(seed).sample(range(len(tunes)), len(tunes))
    return [tunes[i] for i in order[:count]], [tunes[i] for i in order[count:count + rest]]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_finetune(model: str, book: Path, out: Path, seed: int, minutes: float, extra: list[str]) -> tuple[dict, float, float]:
    """The real command on the tunebook: (its report, its CPU seconds, its wall seconds)."""
    command = [sys.executable, "-m", "tunesmith", "finetune", "--model", model, "--corpus", str(book),
               "--minutes", str(minutes), "--seed", str(seed), "--out", str(out), "--threads", "1",
               "--progress", "none", *extra]
    cpu, wall = children_cpu(), time.perf_counter()
    done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True)
    cpu, wall = children_cpu() - cpu, time.perf_counter() - wall
    if done.returncode != 0:
        sys.exit(f"finetune failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads((out / "finetune.json").read_text()), cpu, wall


def ten_percent_at(report: dict) -> float | None:
    """Training CPU seconds at the end of the first epoch whose held-out bits were 10 % under the start."""
    before = report["held_out_bits_per_symbol"]["before"]
    spent = 0.0
    for record in report["training"]["history"]:
        spent += record["cpu_seconds"]
        if record["held_out_bits_per_symbol"] <= 0.9 * before:
            return spent
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--region", default="essen-china", help="A bundled corpus the model did not train on.")
    parser.add_argument("--tunes", type=int, default=50)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rest", type=int, default=200, help="Other tunes of the region to score before and after.")
    parser.add_argument("--copy-check", type=int, default=20, help="Tunes finetune generates to measure copying.")
    parser.add_argument("--sweep", action="store_true", help="Try every --lr and --patience (choosing the defaults).")
    parser.add_argument("--lr", type=float, nargs="*", default=[])
    parser.add_argument("--patience", type=int, nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=Path("runs/bench-finetune"))
    args = parser.parse_args()
    base = load_checkpoint(args.model)
    tries = [[]] if not args.sweep else [
        ([f"--lr={lr}"] if lr else []) + ([f"--patience={p}"] if p is not None else [])
        for lr in (args.lr or [None]) for p in (args.patience or [None])]
    print(f"{cpu_name()}; {os.cpu_count()} CPUs; load average at the start {os.getloadavg()[0]:.2f}")
    print(f"model {args.model}; {args.tunes} tunes of {args.region} per seed; --minutes {args.minutes:g}\n")
    print("| seed | settings | held-out tunes | bits/char before | after | change | CPU s to -10 % | training CPU s "
          "| epochs | stopped | command CPU s | wall s | other tunes: before | after | change | copies |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for seed in args.seeds:
        tunebook, rest = draw(args.region, args.tunes, seed, args.rest)
        book = args.out / f"{args.region}-{seed}.abc"
        book.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(book, join_tunes(tunebook))  # another run of this script may be reading it
        rest_texts = [t.text for t in rest]
        rest_before = bits(base, rest_texts)["bits_per_char"] if rest_texts else None
        for extra in tries:
            out = args.out / f"{args.region}-{seed}-{args.minutes:g}min{''.join(extra).replace('--', '-').replace('=', '')}"
            report, cpu, wall = run_finetune(args.model, book, out, seed, args.minutes,
                                             [*extra, f"--copy-check={args.copy_check}"])
            b, t, k = report["held_out_bits_per_char"], report["training"], report["copies"]
            rest_after = bits(load_checkpoint(out), rest_texts)["bits_per_char"] if rest_texts else None
            at = ten_percent_at(report)
            other = (f"{rest_before:.3f} | {rest_after:.3f} | {(rest_after - rest_before) / rest_before:+.1%}"
                     if rest_texts else "- | - | -")
            print(f"| {seed} | {' '.join(extra) or 'defaults'} (lr {t['lr']:g}) | {report['corpus']['held_out']} "
                  f"| {b['before']:.3f} | {b['after']:.3f} | {b['change']:+.1%} | {'-' if at is None else f'{at:.1f}'} "
                  f"| {t['cpu_seconds']:.0f} | {t['epochs']} | {t['stopped']} | {cpu:.0f} | {wall:.0f} | {other} "
                  f"| {k['flagged']}/{k['generated']} (real held-out {k['held_out_flagged']}/{k['held_out']}) |",
                  flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
