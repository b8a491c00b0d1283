"""How close generated tunes come to real ones: form, repetition, endings, headers, histograms.

    python benchmarks/fidelity.py [-n 200] [--seed 1234] [--model DIR] [generate options ...]

Generates n tunes with the model (the same call as `tunesmith generate`,
extra arguments passed on: --meter 3/4 --rhythm waltz, --temperature 1.2,
--free ...), and measures them and the model's real held-out tunes with
`modes.abc.fidelity`: repeated bars and 2-bar runs, two or more repeat
closes, ending on the tonic, median length and tunes of 40+ bars, junk
constructs, distinct keys, meter shares, and the histogram intersection
(1 = identical) of meter, key, unit length, length in bars, pitch range and
melodic interval with the real tunes. Choose seeds your tests do not use.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.load import load_corpus
from tunesmith.modes.abc.fidelity import meter_shares, overlaps, summary, tune_form
from tunesmith.music.abc.check import tune_blocks


def generated(model: Path, n: int, seed: int, extra: list[str]) -> list[str]:
    """The tunes `tunesmith generate` writes (in a fresh process, as a user runs it)."""
    out = subprocess.run([sys.executable, "-m", "tunesmith.cli", "generate", "--model", str(model), "-n", str(n),
                          "--seed", str(seed), *extra], capture_output=True, text=True, check=True).stdout
    return [text for _, text in tune_blocks(out)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args, extra = parser.parse_known_args()
    meta = load_checkpoint(args.model).meta
    corpus = load_corpus(meta["corpus"]["sources"], meta["corpus"].get("limit"), meta.get("mode", "abc"))
    real = [tune_form(t.text) for t in corpus.held_out]
    mine = [tune_form(t) for t in generated(args.model, args.n, args.seed, extra)]
    rows = {"generated": summary(mine), "real held-out": summary(real)}
    hist = {"generated": overlaps(mine, real)}
    meters = {"generated": meter_shares(mine), "real held-out": meter_shares(real)}
    if args.json:
        print(json.dumps({"summary": rows, "overlap": hist, "meters": meters, "args": vars(args) | {"extra": extra}}, default=str))
        return
    print(f"{args.n} tunes of `generate --seed {args.seed} {' '.join(extra)}` against {len(real)} real held-out tunes")
    print(f"{'':24}{'generated':>12}{'real':>12}")
    for key in rows["generated"]:
        g, r = rows["generated"][key], rows["real held-out"][key]
        fmt = (lambda v: f"{v:.1%}") if isinstance(g, float) and key not in ("median_bars",) else str
        print(f"{key:24}{fmt(g):>12}{fmt(r):>12}")
    print("histogram intersection with the real tunes:")
    values = [v for v in hist["generated"].values() if v is not None]
    for key, value in hist["generated"].items():
        print(f"  {key:22}{value:.3f}" if value is not None else f"  {key:22}-")
    print(f"  {'mean':22}{sum(values) / len(values):.3f}")
    top = ", ".join(f"{m} {s:.0%}" for m, s in list(meters["generated"].items())[:6])
    real_top = ", ".join(f"{m} {s:.0%}" for m, s in list(meters["real held-out"].items())[:6])
    print(f"meters: {top}  (real: {real_top})")


if __name__ == "__main__":
    main()
