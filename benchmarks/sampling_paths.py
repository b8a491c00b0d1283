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


def step_rate(stepper, batch: int, symbols: int, vocab: int) -> tuple[float, float]:
    """Symbols per wall-clock second and per CPU second of this thread, of `stepper` stepping `batch` streams
    on random ids (about `symbols` in all)."""
    steps = max(8, symbols // batch)
    ids = np.random.default_rng(0).integers(0, vocab, (steps, batch))
    state = stepper.initial_state(batch)
    stepper.step(ids[0], state)  # first call: lazy initialisation out of the clock
    start, cpu = time.perf_counter(), time.thread_time()
    for row in ids:
        _, state = stepper.step(row, state)
    return steps * batch / (time.perf_counter() - start), steps * batch / max(time.thread_time() - cpu, 1e-9)


LEVEL = 0.97  # torch "keeps up" at a batch when its rate is at least this share of numpy's (measurement noise)


def crossover(ratios: dict[int, float]) -> int | None:
    """The smallest batch from which torch keeps up (ratio >= LEVEL) at every larger batch measured and is
    ahead at the largest (None: never)."""
    order = sorted(ratios, reverse=True)
    if not order or ratios[order[0]] < 1.0:
        return None
    found = None
    for batch in order:
        if ratios[batch] < LEVEL:
            break
        found = batch
    return found


def steps_by_batch(ckpt, device: torch.device, batches: tuple[int, ...], repeats: int, symbols: int) -> dict:
    """{batch: rates}: numpy's and torch's symbols/s, by wall clock and (on a CPU) by the thread's CPU time,
    medians of interleaved repeats. "numpy"/"torch" are the ones the choice is made on: CPU time on a CPU
    (steadier on a shared machine: time waiting for a core is not the engine's), wall clock on a GPU."""
    vocab = len(ckpt.codec)
    engines = {"numpy": ckpt.model.stepper(), "torch": TorchStepper(ckpt.model, device)}
    rates = {}
    for batch in batches:
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in engines}
        for _ in range(repeats):  # interleaved, so both see the same machine
            for name, engine in engines.items():
                runs[name].append(step_rate(engine, batch, symbols, vocab))
        figures = {}
        for name, measured in runs.items():
            figures[f"{name}_wall"] = statistics.median(w for w, _ in measured)
            figures[f"{name}_cpu"] = statistics.median(c for _, c in measured)
            figures[name] = figures[f"{name}_cpu" if device.type == "cpu" else f"{name}_wall"]
        rates[batch] = figures
    return rates


def free_rate(ckpt, streams: int, seed: int, free: bool = True, max_symbols: int = 1500) -> tuple[float, float]:
    """Chars per wall-clock second and per CPU second of this thread, of generate_tunes writing `streams` tunes."""
    start, cpu = time.perf_counter(), time.thread_time()
    tunes = generate_tunes(ckpt, streams, seed=seed, sampling=Sampling(), max_symbols=max_symbols, free=free)
    chars = sum(len(t) for t in tunes)
    return chars / (time.perf_counter() - start), chars / max(time.thread_time() - cpu, 1e-9)


def generation_by_engine(ckpt, streams: int, repeats: int, seeds_from: int, max_symbols: int = 1500,
                         by_cpu: bool = True) -> dict[str, float]:
    """Chars/s of free generation of `streams` tunes with each engine forced and with the automatic choice,
    medians of interleaved repeats: "numpy", "torch", "auto" by CPU time (`by_cpu`) or wall clock, and
    the wall-clock figures as "<engine>_wall"."""
    runs: dict[str, list[tuple[float, float]]] = {"numpy": [], "torch": [], "auto": []}
    for r in range(repeats):
        for engine in runs:  # interleaved
            if engine == "auto":
                runs[engine].append(free_rate(ckpt, streams, seeds_from + r, max_symbols=max_symbols))
            else:
                with forced(engine):
                    runs[engine].append(free_rate(ckpt, streams, seeds_from + r, max_symbols=max_symbols))
    figures = {}
    for engine, measured in runs.items():
        figures[f"{engine}_wall"] = statistics.median(w for w, _ in measured)
        figures[engine] = statistics.median(c if by_cpu else w for w, c in measured)
    return figures


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
    if on_gpu:
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
        say(f"sampling step alone, by batch (numpy on the CPU vs torch on {where}; symbols per wall-clock second, "
            f"median of {plan.repeats}):")
    else:
        say(f"sampling step alone, by batch (numpy vs torch on the CPU, 1 thread; symbols per CPU second of the "
            f"thread, wall-clock in brackets; median of {plan.repeats} interleaved):")
    ratios = {}
    for batch, r in rates.items():
        ratios[batch] = r["torch"] / r["numpy"]
        walls = "" if on_gpu else f"  (wall {r['numpy_wall']:,.0f} / {r['torch_wall']:,.0f}: " \
                                  f"{r['torch_wall'] / r['numpy_wall']:.2f})"
        say(f"  batch {batch:>5}: numpy {r['numpy']:>10,.0f}  torch {r['torch']:>10,.0f}  "
            f"ratio torch/numpy {ratios[batch]:5.2f}{walls}")
    cross = crossover(ratios)
    weights = step_weights(ckpt.model.config)
    measured = f"batch {cross} ({cross * weights:,} multiply-adds a step)" if cross else \
        f"(never, up to batch {max(plan.batches)})"
    say(f"  crossover: torch from {measured}"
        + ("" if on_gpu else f"; recorded: TORCH_CPU_FROM = {TORCH_CPU_FROM:,}, for this model batch "
                             f"{torch_from_batch(ckpt.model)} ({weights:,} multiply-adds a stream)"))
    figures: dict = {"steps": rates, "crossover": cross,
                     "generation": {}}
    if ckpt.meta.get("mode", "abc") != "abc":
        return figures  # whole generation is measured on an ABC model (generate_tunes)
    for streams in plan.streams:
        engines = generation_by_engine(ckpt, streams, plan.repeats, 100, plan.max_symbols, by_cpu=not on_gpu)
        best = max(engines["numpy"], engines["torch"])
        chosen = stepper_for(ckpt.model, streams).__class__.__name__
        clock = "wall clock" if on_gpu else "CPU time"
        say(f"free generation, {streams} stream{'s' if streams > 1 else ''} (tunes of at most {plan.max_symbols} "
            f"symbols; chars/s by {clock}): numpy {engines['numpy']:,.0f}, torch {engines['torch']:,.0f}, "
            f"automatic ({chosen}) {engines['auto']:,.0f} (ratio automatic/faster {engines['auto'] / best:.2f}); "
            f"wall clock {engines['numpy_wall']:,.0f} / {engines['torch_wall']:,.0f} / {engines['auto_wall']:,.0f}")
        figures["generation"][streams] = engines
    if 1 in plan.streams:
        measured = [free_rate(ckpt, 1, 200 + r, False, plan.max_symbols) for r in range(plan.repeats)]
        wellformed = statistics.median(w if on_gpu else c for w, c in measured)
        one = figures["generation"][1]["auto"]
        say(f"one stream ({'wall clock' if on_gpu else 'per CPU second'}): free {one:,.0f} chars/s (target "
            f"{ONE_STREAM_FREE:,}: {'met' if one >= ONE_STREAM_FREE else 'NOT met'}), well-formed {wellformed:,.0f} "
            f"chars/s (target {ONE_STREAM_WELLFORMED:,}: {'met' if wellformed >= ONE_STREAM_WELLFORMED else 'NOT met'})"
            f"; wall clock {figures['generation'][1]['auto_wall']:,.0f} and "
            f"{statistics.median(w for w, _ in measured):,.0f}")
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
