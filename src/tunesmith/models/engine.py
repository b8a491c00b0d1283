"""Which engine steps a batch of streams while sampling: numpy (stepper.py) or torch's kernels.

A sampling step is one small matrix product per layer, so what wins depends
on the work of a step: numpy's calls cost about a microsecond, torch's
several, but torch's CPU kernels (MKL/oneDNN, AVX-512) multiply faster once
the matrices are tall. The work is the batch times the weights one stream's
step multiplies (`step_weights`: 1.3 M for the shipped `seed` model, 0.2 M
for `small`), so the choice is made on that product: torch from
`TORCH_CPU_FROM` multiply-adds per step. `benchmarks/sampling_paths.py`
measures both engines by batch size in one run and prints the crossover of
each model it measures; the figure here was read off that output. It is a
constant, not measured at run time, so that the same seed writes the same
music on every machine (the engines agree only up to float rounding, which
can tip a draw).

A model moved to a GPU (or Apple's mps) samples there with torch whatever
the batch: the user chose that device, and a GPU's batches are far larger
(`max_batch`). The transformer's key/value cache (kvcache.py) exists in
numpy only, so a transformer samples with it on every device.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from .stepper import TorchStepper

# Multiply-adds per step from which torch's CPU kernels step faster than numpy: batch 16 of the shipped
# `seed` model (1,334,784 a stream), the crossover `python benchmarks/sampling_paths.py` measured on an
# Intel(R) Xeon(R) Processor (AVX-512, AMX), one thread, by CPU time (docs/benchmarks.md, "Sampling paths").
# For a `small` model (0.2 M a stream) that is batch 107, where it measured the engines level (0.95-1.00).
TORCH_CPU_FROM = 16 * 1_334_784
# Streams a GPU samples side by side (a CPU's batch is generate.MAX_BATCH): there a step of thousands
# of streams costs little more than a step of one.
GPU_BATCH = 4096
ENGINES = ("numpy", "torch")
_forced: list[str] = []  # set by `forced` (benchmarks and tests)


def device_of(model: torch.nn.Module) -> torch.device:
    """The device a model's weights are on."""
    return next(model.parameters()).device


def _torch_capable(model) -> bool:
    return model.config.cell in ("lstm", "gru")


def step_weights(config) -> int:
    """Multiply-adds of one stream's step of an RNN: layer 0's recurrent matrix, the deeper layers' input and
    recurrent matrices, the output layer (layer 0's input is a table lookup: free)."""
    gates = (4 if config.cell == "lstm" else 3) * config.hidden
    return config.hidden * gates * (1 + 2 * (config.layers - 1)) + config.hidden * config.vocab_size


def engine_for(model, batch: int) -> str:
    """'numpy' or 'torch': the engine that samples `batch` streams of `model` fastest (see the module doc)."""
    if _forced and (_forced[-1] == "numpy" or _torch_capable(model)):
        return _forced[-1]
    if not _torch_capable(model) or model.__dict__.get("int8"):  # the 8-bit stepper is a numpy one
        return "numpy"
    if device_of(model).type != "cpu":
        return "torch"
    return "torch" if batch >= torch_from_batch(model) else "numpy"


def torch_from_batch(model) -> int:
    """The smallest batch whose streams torch samples on a CPU (TORCH_CPU_FROM over one stream's step)."""
    return -(-TORCH_CPU_FROM // step_weights(model.config))


def stepper_for(model, batch: int):
    """The stepper that samples `batch` streams: `model.stepper()` (numpy) or a `TorchStepper` on its device."""
    if engine_for(model, batch) == "numpy":
        return model.stepper()
    return TorchStepper(model, device_of(model))


def max_batch(model, cpu_batch: int) -> int:
    """How many streams are sampled side by side: GPU_BATCH where torch samples on a GPU, else `cpu_batch`."""
    on_gpu = device_of(model).type != "cpu" and _torch_capable(model)
    return GPU_BATCH if on_gpu and _forced[-1:] != ["numpy"] else cpu_batch


@contextmanager
def forced(engine: str):
    """Sample with `engine` ('numpy' or 'torch') whatever the batch, inside the block (benchmarks, tests).

    'torch' is ignored for a transformer, which has no torch stepper.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}: choose numpy or torch")
    _forced.append(engine)
    try:
        yield
    finally:
        _forced.pop()
