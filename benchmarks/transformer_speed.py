"""One-stream sampling speed: the transformer's CPU preset (numpy, KV cache) against the LSTM seed preset.

Random weights (speed does not depend on training), a vocabulary of 90
symbols (about abc-chars'), one stream, BLAS on one thread as the sampler
runs it; each model steps `--symbols` symbols (past the transformer's
context, so the cache slides) `--repeats` times, the models taking turns;
the best run is printed, in wall-clock symbols/s and in symbols per CPU
second of this process (the steadier figure when the machine is shared).

`--base REV` also times the key/value stepper of an older commit
(models/kvcache.py as it was at REV, on the same weights) in the same turns,
and prints the median over the repeats of the ratio of the two runs of each
turn: on a loaded machine, whose load drifts within a minute, that ratio is
the figure to trust. The base's logits are compared with today's too.

It also times the step's matrix products alone (the same matrices, one
stream, without anything between them): reading about 9 MB of weights per
symbol from memory, they are the floor of a float32 step on one core.

`--model DIR` (a trained transformer) also times what a user waits for:
well-formed sampling of one tune at a time (`generate -n 1`, seeds 100,
101, ...), characters per second, with today's stepper and the base's, and
says whether the two wrote the same tunes.

    PYTHONPATH=src python benchmarks/transformer_speed.py [--base 5d4a948] [--model runs/tr/latest]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from tunesmith.checkpoint import load_checkpoint
from tunesmith.generate import one_blas_thread
from tunesmith.models import build_model, get_preset
from tunesmith.modes.abc.writer import generate_tunes

from machine import cpu_name  # benchmarks/machine.py

REPO = Path(__file__).resolve().parent.parent


def random_model(preset: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(replace(get_preset(preset).model, vocab_size=90)).eval()


def base_stepper_class(rev: str):
    """KVStepper as models/kvcache.py defined it at git revision `rev` (the rest of the package is today's)."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:src/tunesmith/models/kvcache.py"],
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "kvcache_base.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("tunesmith.models._kvcache_base", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.KVStepper


def timed_run(net, ids: np.ndarray) -> tuple[float, float]:
    """Wall and CPU seconds of stepping one stream through `ids` from an empty state."""
    state = net.initial_state(1)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in ids:
        _, state = net.step(np.array([i]), state)
    return time.perf_counter() - wall, time.process_time() - cpu


def matrix_products_alone(net, steps: int, repeats: int) -> float:
    """Best CPU seconds per step of just the step's matrix-vector products (today's folded matrices)."""
    matrices = [w for block in net.blocks for w in block] + [net.out]
    inputs = {w.shape[0]: np.ones((1, w.shape[0]), np.float32) for w in matrices}
    outputs = [np.empty((1, w.shape[1]), np.float32) for w in matrices]
    best = float("inf")
    with one_blas_thread():
        for _ in range(repeats):
            start = time.process_time()
            for _ in range(steps):
                for w, out in zip(matrices, outputs):
                    np.matmul(inputs[w.shape[0]], w, out=out)
            best = min(best, time.process_time() - start)
    return best / steps


def logits_of(net, ids: np.ndarray) -> np.ndarray:
    state = net.initial_state(1)
    out = []
    for i in ids:
        logits, state = net.step(np.array([i]), state)
        out.append(logits[0])
    return np.stack(out)


def race(steppers: dict, ids: np.ndarray, repeats: int) -> dict[str, np.ndarray]:
    """Wall and CPU seconds (repeats, 2) of each stepper, the steppers taking turns in every repeat."""
    seconds = {name: [] for name in steppers}
    with one_blas_thread():
        for _ in range(repeats):
            for name, net in steppers.items():
                seconds[name].append(timed_run(net, ids))
    return {name: np.array(runs) for name, runs in seconds.items()}


def sampling_race(model_dir: str, steppers: dict, tunes: int, repeats: int) -> None:
    """Well-formed one-stream sampling with each stepper class, taking turns: best chars/s, and whether they agree."""
    ckpt = load_checkpoint(model_dir)
    seconds, written = {name: [] for name in steppers}, {}
    for _ in range(repeats):
        for name, stepper_class in steppers.items():
            ckpt.model.stepper = lambda cls=stepper_class: cls(ckpt.model)  # what generate.py asks for
            wall, cpu = time.perf_counter(), time.process_time()
            written[name] = [generate_tunes(ckpt, 1, seed=100 + k)[0] for k in range(tunes)]
            seconds[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    chars = sum(len(t) for t in written["transformer"])
    for name, runs in seconds.items():
        wall, cpu = chars / np.array(runs).min(0)
        print(f"{name:>24}: {wall:,.0f} chars/s ({cpu:,.0f} per CPU second), well-formed sampling, "
              f"one tune at a time ({tunes} tunes, {chars:,} chars), best of {repeats}")
    if len(written) > 1:
        base, today = (np.array(runs) for runs in seconds.values())
        ratios = np.median(base / today, 0)
        print(f"{'today / base':>24}: {ratios[0]:.2f} (wall), {ratios[1]:.2f} (CPU), median of the turns' ratios")
        same = len({tuple(t) for t in written.values()}) == 1
        print(f"{'same tunes':>24}: {'yes' if same else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--base", metavar="REV", help="also time models/kvcache.py as it was at this git revision")
    parser.add_argument("--model", metavar="DIR", help="a trained transformer: also time well-formed sampling")
    parser.add_argument("--tunes", type=int, default=8, help="tunes per sampling run with --model")
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}; load average {os.getloadavg()[0]:.1f} at the start")
    ids = np.random.default_rng(0).integers(0, 90, args.symbols)
    transformer = random_model("transformer")
    steppers = {"transformer": transformer.stepper()}
    if args.base:
        steppers = {f"transformer @ {args.base}": base_stepper_class(args.base)(transformer), **steppers}
    steppers["seed (LSTM)"] = random_model("seed").stepper()
    seconds = race(steppers, ids, args.repeats)
    for name, runs in seconds.items():
        wall, cpu = len(ids) / runs.min(0)
        print(f"{name:>24}: {wall:,.0f} symbols/s, one stream ({cpu:,.0f} per CPU second), best of {args.repeats}")
    floor = matrix_products_alone(steppers["transformer"], args.symbols, args.repeats)
    step = seconds["transformer"][:, 1].min() / len(ids)
    print(f"{'matrix products alone':>24}: {floor * 1e6:,.0f} us per step ({1 / floor:,.0f} per CPU second), "
          f"{floor / step:.0%} of today's step")
    if args.base:
        ratios = np.median(seconds[f"transformer @ {args.base}"] / seconds["transformer"], 0)
        print(f"{'today / base':>24}: {ratios[0]:.2f} (wall), {ratios[1]:.2f} (CPU), median of the turns' ratios")
        with one_blas_thread():
            gap = np.abs(logits_of(steppers[f"transformer @ {args.base}"], ids) - logits_of(steppers["transformer"], ids))
        print(f"{'largest logit difference':>24}: {gap.max():.1e} over {len(ids)} steps")
    if args.model:
        classes = {"transformer": type(steppers["transformer"])}
        if args.base:
            classes = {f"transformer @ {args.base}": type(steppers[f"transformer @ {args.base}"]), **classes}
        sampling_race(args.model, classes, args.tunes, args.repeats)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
