"""One-stream sampling speed: the transformer's CPU preset (numpy, KV cache) against the LSTM seed preset.

Random weights (speed does not depend on training), a vocabulary of 90
symbols (about abc-chars'), one stream, BLAS on one thread as the sampler
runs it; each model steps `--symbols` symbols (past the transformer's
context, so the cache slides) and the best of `--repeats` runs is printed.

    PYTHONPATH=src python benchmarks/transformer_speed.py
"""

from __future__ import annotations

import argparse
import subprocess
import time
from dataclasses import replace

import numpy as np
import torch

from tunesmith.generate import one_blas_thread
from tunesmith.models import build_model, get_preset


def symbols_per_second(preset: str, symbols: int, repeats: int) -> float:
    torch.manual_seed(0)
    net = build_model(replace(get_preset(preset).model, vocab_size=90)).eval().stepper()
    ids = np.random.default_rng(0).integers(0, 90, symbols)
    best = float("inf")
    with one_blas_thread():
        for _ in range(repeats):
            state = net.initial_state(1)
            start = time.perf_counter()
            for i in ids:
                _, state = net.step(np.array([i]), state)
            best = min(best, time.perf_counter() - start)
    return symbols / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True, text=True)
                .stdout.splitlines() if line.startswith("Model name")), "unknown CPU")
    print(f"CPU: {cpu}")
    for preset in ("transformer", "seed"):
        print(f"{preset:>12}: {symbols_per_second(preset, args.symbols, args.repeats):,.0f} symbols/s, one stream")


if __name__ == "__main__":
    main()
