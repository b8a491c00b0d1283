"""Architectures and training choices compared on the same data and the same CPU budget.

    python benchmarks/compare_models.py --out runs/compare [--minutes 12] [--jobs 2] [--only NAME,...]
                                        [--corpus folk] [--markdown]
    python benchmarks/compare_models.py --mode midi --out runs/compare-midi --minutes 6 --jobs 1 --markdown
    python benchmarks/compare_models.py --mode tabla --out runs/compare-tabla --minutes 3 --jobs 1 --markdown

Trains every entry of RUNS with `tunesmith train --minutes M --threads 1`
(CPU minutes: each run gets the same work however loaded the machine is),
`--jobs` at a time, on the same corpus and held-out split (the split is by
tune, fixed), then reads each run's history: held-out bits per character
(per symbol for the token codec, with its bits per character from
`evaluate` beside it), epochs done, parameters, training symbols/s. A run
already finished in --out is not trained again. `tunesmith evaluate
OUT/*/best` then compares validity, statistics overlap and copying side by
side (docs/benchmarks.md has the table). Names the CPU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from machine import cpu_name  # benchmarks/machine.py

# name -> extra `tunesmith train` arguments
RUNS: dict[str, list[str]] = {
    "lstm-seed": ["--preset", "seed"],
    "lstm-large": ["--preset", "large"],
    "gru": ["--preset", "gru"],
    "transformer": ["--preset", "transformer"],
    "transformer-tokens": ["--preset", "transformer", "--codec", "abc-tokens"],
    "lstm-seed-tokens": ["--preset", "seed", "--codec", "abc-tokens"],
    "lstm-seed-dropout0.3": ["--preset", "seed", "--dropout", "0.3"],
    "lstm-seed-wd0.05": ["--preset", "seed", "--weight-decay", "0.05"],
}

# the shipped MIDI and tabla models' size, in each architecture
SMALL_RUNS: dict[str, list[str]] = {
    "lstm-small": ["--preset", "small"],
    "gru-small": ["--preset", "small", "--arch", "gru"],
    "transformer-small": ["--preset", "transformer-small"],
}
MODE_RUNS = {"abc": RUNS, "midi": SMALL_RUNS, "tabla": SMALL_RUNS}
MODE_CORPUS = {"abc": "folk", "midi": "bach-chorales", "tabla": "tabla"}


def train(name: str, extra: list[str], out: Path, corpus: str, minutes: float, mode: str = "abc",
          seed: int = 0) -> tuple[str, float]:
    run = out / name
    if (run / "latest" / "config.json").exists():
        return name, 0.0
    start = time.time()
    done = subprocess.run([sys.executable, "-m", "tunesmith.cli", "train", "--mode", mode, "--corpus", corpus, "--out", str(run),
                           "--minutes", str(minutes), "--epochs", "1000", "--seed", str(seed), "--threads", "1", "--no-progress", *extra],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name}: train failed\n{done.stderr[-2000:]}")
    return name, time.time() - start


def summary(run: Path) -> dict:
    config = json.loads((run / "latest" / "config.json").read_text())
    history = config["progress"]["history"]
    epochs = sum(r.get("part", 1.0) for r in history)
    symbols = sum(r["symbols_per_second"] * r["seconds"] for r in history)
    return {
        "cell": config["model"]["cell"], "codec": config["codec"]["name"],
        "parameters": None, "epochs": round(epochs, 2),
        "best_held_out": config["progress"]["best_held_out"],
        "last_train": history[-1]["train_bits_per_symbol"],
        "cpu_minutes": round(sum(r.get("cpu_seconds", 0) for r in history) / 60, 2),
        "train_symbols_per_second": round(symbols / max(1e-9, sum(r["seconds"] for r in history))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--mode", default="abc", choices=sorted(MODE_RUNS))
    parser.add_argument("--corpus", default=None, help="default: folk, bach-chorales or tabla by --mode")
    parser.add_argument("--seed", type=int, default=0, help="every run's training seed")
    parser.add_argument("--only", default=None, help="comma-separated names of RUNS")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    args.corpus = args.corpus or MODE_CORPUS[args.mode]
    runs = MODE_RUNS[args.mode]
    chosen = {k: v for k, v in runs.items() if args.only is None or k in args.only.split(",")}
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{cpu_name()}; {args.minutes:g} CPU minutes per run, {args.jobs} at a time, mode {args.mode}, corpus {args.corpus}", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        for name, seconds in pool.map(lambda kv: train(kv[0], kv[1], args.out, args.corpus, args.minutes, args.mode, args.seed),
                                  chosen.items()):
            print(f"{name}: trained ({seconds / 60:.1f} wall minutes)" if seconds else f"{name}: already trained", flush=True)
    rows = {name: summary(args.out / name) for name in chosen}
    from tunesmith.checkpoint import load_checkpoint

    for name, row in rows.items():
        row["parameters"] = sum(p.numel() for p in load_checkpoint(args.out / name / "best").model.parameters())
    (args.out / "summary.json").write_text(json.dumps(rows, indent=1))
    if args.markdown:
        print("\n| run | cell | codec | parameters | epochs in budget | best held-out bits/symbol | last train bits/symbol | training symbols/s |")
        print("|---|---|---|---:|---:|---:|---:|---:|")
        for name, r in rows.items():
            print(f"| {name} | {r['cell']} | {r['codec']} | {r['parameters']:,} | {r['epochs']} | {r['best_held_out']:.3f} "
                  f"| {r['last_train']:.3f} | {r['train_symbols_per_second']:,} |")
    else:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
