"""How long `tunesmith evaluate` takes for 200 tunes of the shipped model, against its 2-minute target.

    python benchmarks/evaluate_speed.py [-n 200] [--seed 1] [--model DIR]

Prints the seconds of each stage, the total against the 120 s target, and
two ratios measured in this one run: the whole evaluation over the
generation it cannot avoid (what the measuring adds), and the time spent
waiting for the second process (training corpus, held-out bits) over the
time its work takes alone (0 when it all overlapped with generating). The load average
is printed too: on a shared machine other work slows every stage.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from tunesmith.checkpoint import DEFAULT_MODEL
from tunesmith.corpus.load import load_corpus
from tunesmith.insight.evaluate import Settings, evaluate, heldout_bits
from tunesmith.insight.reference import build_reference
from tunesmith.insight.report import write_report

TARGET_SECONDS = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the second core measures the training corpus
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    data = evaluate([args.model], Settings(n=args.n, seed=args.seed))
    with tempfile.TemporaryDirectory() as tmp:
        write_report(data, Path(tmp) / "report")
    total = time.perf_counter() - start
    load_after = os.getloadavg()[0]
    stages = data["models"][0]["seconds"]
    print(f"evaluate -n {args.n} --seed {args.seed} on {args.model} ({os.cpu_count()} CPUs; "
          f"load average {load_before:.1f} before, {load_after:.1f} after):")
    for stage, seconds in stages.items():
        if stage != "total":
            print(f"    {stage:<34} {seconds:7.1f} s")
    print(f"    {'writing the report':<34} {total - data['seconds']:7.1f} s")
    verdict = "within" if total < TARGET_SECONDS else "OVER"
    print(f"total {total:.1f} s: {verdict} the {TARGET_SECONDS:.0f} s target ({total / TARGET_SECONDS:.2f} of it)")
    print(f"evaluation / its generation: {total / stages['generating']:.2f}")
    # What the second process did, timed again here alone: what the overlap saved.
    model = data["models"][0]
    corpus = model["corpus"]
    clock = time.perf_counter()
    build_reference(corpus["sources"], corpus.get("limit"), model["mode"])
    held_out = [p.text for p in load_corpus(corpus["sources"], corpus.get("limit"), model["mode"]).held_out]
    heldout_bits(model["checkpoint"], held_out, None)
    alone = time.perf_counter() - clock
    waited = stages["waiting for the training corpus"] + stages["waiting for the held-out bits"]
    print(f"second process's work (training corpus, held-out bits) timed alone: {alone:.1f} s; "
          f"the evaluation waited for it {waited:.1f} s (ratio {waited / alone:.2f})")

if __name__ == "__main__":
    main()
