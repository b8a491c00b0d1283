"""Sampling paths by batch size: the numpy stepper against torch's kernels, as ratios measured in one run.

    python benchmarks/sampling_paths.py [--quick] [--device cpu|cuda] [--model DIR]

1. The network's step alone (models/engine.py's two engines on the same
   folded weights; numpy on the CPU, torch on --device): steps x streams per
   second for each batch size, interleaved and the median of the repeats, and
   the crossover: the smallest batch from which torch stays ahead. On a CPU
   that crossover is what `engine.TORCH_CPU_FROM` records.
2. Whole free generation (`generate_tunes --free`, writers and draws
   included) for 1 stream and for a full batch, with each engine forced and
   with the automatic choice: the choice must be at least as fast as the
   faster engine, and one stream must reach 3,000 chars/s (2,000 well-formed).

Everything runs on one thread (as the sampler does: generate.one_blas_thread).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from tunesmith.checkpoint import DEFAULT_MODEL, SHIPPED_MODELS, load_checkpoint
from tunesmith.generate import MAX_BATCH, one_blas_thread
from tunesmith.models.engine import GPU_BATCH, TORCH_CPU_FROM, forced, step_weights, stepper_for, torch_from_batch
from tunesmith.models.stepper import TorchStepper
from tunesmith.modes.abc.writer import generate_tunes
from tunesmith.options import Sampling

from machine import cpu_name  # benchmarks/machine.py

CPU_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
GPU_BATCHES = (1, 16, 64, 256, 1024, 4096)
ONE_STREAM_FREE, ONE_STREAM_WELLFORMED = 3000, 2000  # the targets, chars/s


def step_rate(stepper, batch: int, symbols: int, vocab: int) -> float:
    """Symbols per second of `stepper` stepping `batch` streams on random ids (about `symbols` in all)."""
    steps = max(8, symbols // batch)
    ids = np.random.default_rng(0).integers(0, vocab, (steps, batch))
    state = stepper.initial_state(batch)
    stepper.step(ids[0], state)  # first call: lazy initialisation out of the clock
    start = time.perf_counter()
    for row in ids:
        _, state = stepper.step(row, state)
    return steps * batch / (time.perf_counter() - start)


def crossover(ratios: dict[int, float]) -> int | None:
    """The smallest batch from which torch is at least as fast at every larger batch measured (None: never)."""
    found = None
    for batch in sorted(ratios, reverse=True):
        if ratios[batch] < 1.0:
            break
        found = batch
    return found


def steps_by_batch(ckpt, device: torch.device, batches: tuple[int, ...], repeats: int, symbols: int) -> dict:
    """{batch: (numpy symbols/s, torch symbols/s)}: medians of interleaved repeats."""
    vocab = len(ckpt.codec)
    numpy_engine, torch_engine = ckpt.model.stepper(), TorchStepper(ckpt.model, device)
    rates = {}
    for batch in batches:
        a, b = [], []
        for _ in range(repeats):  # interleaved, so both see the same machine
            a.append(step_rate(numpy_engine, batch, symbols, vocab))
            b.append(step_rate(torch_engine, batch, symbols, vocab))
        rates[batch] = (statistics.median(a), statistics.median(b))
    return rates


def free_rate(ckpt, streams: int, seed: int, free: bool = True, max_symbols: int = 1500) -> float:
    """Chars/s of generate_tunes writing `streams` tunes at once."""
    start = time.perf_counter()
    tunes = generate_tunes(ckpt, streams, seed=seed, sampling=Sampling(), max_symbols=max_symbols, free=free)
    return sum(len(t) for t in tunes) / (time.perf_counter() - start)


def generation_by_engine(ckpt, streams: int, repeats: int, seeds_from: int, max_symbols: int = 1500) -> dict[str, float]:
    """Median chars/s of free generation of `streams` tunes with each engine forced and with the automatic choice."""
    rates: dict[str, list[float]] = {"numpy": [], "torch": [], "auto": []}
    for r in range(repeats):
        for engine in rates:  # interleaved
            if engine == "auto":
                rates[engine].append(free_rate(ckpt, streams, seeds_from + r, max_symbols=max_symbols))
            else:
                with forced(engine):
                    rates[engine].append(free_rate(ckpt, streams, seeds_from + r, max_symbols=max_symbols))
    return {k: statistics.median(v) for k, v in rates.items()}


@dataclass(frozen=True)
class Plan:
    """What to measure: repeats, batch sizes of the step alone, stream counts of whole generation."""

    repeats: int = 3
    batches: tuple[int, ...] = CPU_BATCHES
    symbols: int = 4000                      # per step measurement (batch x steps)
    streams: tuple[int, ...] = (1, MAX_BATCH)
    max_symbols: int = 1500                  # per generated tune


def plan_for(device: torch.device, quick: bool) -> Plan:
    """The default plan on a CPU or a GPU (a GPU: batches up to GPU_BATCH, shorter tunes)."""
    repeats = 1 if quick else 3
    if device.type == "cpu":
        return Plan(repeats, CPU_BATCHES, 1500 if quick else 4000)
    return Plan(repeats, GPU_BATCHES, 8000, (1, GPU_BATCH), 300)


def report(ckpt, device: torch.device, plan: Plan, say=print) -> dict:
    """Measure and print parts 1 and 2 with `ckpt` (its model on `device`); returns the figures."""
    on_gpu = device.type != "cpu"
    with one_blas_thread():
        rates = steps_by_batch(ckpt, device, plan.batches, plan.repeats, plan.symbols)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{device.type}, {torch.get_num_threads()} thread"
    say(f"sampling step alone, by batch (numpy on the CPU vs torch on {where}; symbols/s, median of {plan.repeats}):")
    ratios = {}
    for batch, (a, b) in rates.items():
        ratios[batch] = b / a
        say(f"  batch {batch:>5}: numpy {a:>10,.0f}  torch {b:>10,.0f}  ratio torch/numpy {b / a:5.2f}")
    cross = crossover(ratios)
    weights = step_weights(ckpt.model.config)
    measured = f"batch {cross} ({cross * weights:,} multiply-adds a step)" if cross else \
        f"(never, up to batch {max(plan.batches)})"
    say(f"  crossover: torch from {measured}"
        + ("" if on_gpu else f"; recorded: TORCH_CPU_FROM = {TORCH_CPU_FROM:,}, for this model batch "
                             f"{torch_from_batch(ckpt.model)} ({weights:,} multiply-adds a stream)"))
    figures: dict = {"steps": {b: {"numpy": a, "torch": t} for b, (a, t) in rates.items()}, "crossover": cross,
                     "generation": {}}
    if ckpt.meta.get("mode", "abc") != "abc":
        return figures  # whole generation is measured on an ABC model (generate_tunes)
    for streams in plan.streams:
        engines = generation_by_engine(ckpt, streams, plan.repeats, 100, plan.max_symbols)
        best = max(engines["numpy"], engines["torch"])
        chosen = stepper_for(ckpt.model, streams).__class__.__name__
        say(f"free generation, {streams} stream{'s' if streams > 1 else ''} (tunes of at most {plan.max_symbols} "
            f"symbols): numpy {engines['numpy']:,.0f}, torch {engines['torch']:,.0f}, automatic ({chosen}) "
            f"{engines['auto']:,.0f} chars/s (ratio automatic/faster {engines['auto'] / best:.2f})")
        figures["generation"][streams] = engines
    if 1 in plan.streams:
        wellformed = statistics.median(free_rate(ckpt, 1, 200 + r, False, plan.max_symbols)
                                       for r in range(plan.repeats))
        one = figures["generation"][1]["auto"]
        say(f"one stream: free {one:,.0f} chars/s (target {ONE_STREAM_FREE:,}: "
            f"{'met' if one >= ONE_STREAM_FREE else 'NOT met'}), well-formed {wellformed:,.0f} chars/s "
            f"(target {ONE_STREAM_WELLFORMED:,}: {'met' if wellformed >= ONE_STREAM_WELLFORMED else 'NOT met'})")
        figures["wellformed_1"] = wellformed
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, fewer symbols (a smoke run)")
    parser.add_argument("--device", default="cpu", help="where torch's engine runs: cpu (default) or cuda")
    parser.add_argument("--model", action="append", help="checkpoint (repeat for several; default: the shipped "
                        "ABC model, `seed` preset, and the shipped tabla model, `small` preset: its steps only)")
    args = parser.parse_args()
    from tunesmith.accel import resolve_device

    device = resolve_device(args.device)
    torch.set_num_threads(1)
    print(f"CPU: {cpu_name()}; torch {torch.__version__}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for model in args.model or [str(DEFAULT_MODEL), str(SHIPPED_MODELS / "tabla")]:
        ckpt = load_checkpoint(model, device)
        print(f"\n{model}: {ckpt.model.config.cell} {ckpt.model.config.layers} x {ckpt.model.config.hidden}, "
              f"mode {ckpt.meta.get('mode', 'abc')}")
        report(ckpt, device, plan_for(device, args.quick))


if __name__ == "__main__":
    sys.exit(main())
