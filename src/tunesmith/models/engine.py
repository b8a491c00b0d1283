"""Which engine steps a batch of streams while sampling: numpy (stepper.py) or torch's kernels.

A sampling step is one tiny matrix product per layer, so what wins depends
on the batch: numpy's calls cost about a microsecond, torch's several, but
torch's CPU kernels (MKL/oneDNN, AVX-512) multiply faster once the matrices
are tall. `benchmarks/sampling_paths.py` measures both engines' steps per
second by batch size in one run; the smallest batch from which torch stays
ahead is recorded here as `TORCH_CPU_FROM`. It is a constant, not measured
at run time, so that the same seed writes the same music on every machine
(the engines agree only up to float rounding, which can tip a draw).

A model moved to a GPU (or Apple's mps) samples there with torch whatever
the batch: the user chose that device, and a GPU's batches are far larger
(`max_batch`). The transformer's key/value cache (kvcache.py) exists in
numpy only, so a transformer samples with it on every device.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from .stepper import TorchStepper

# Measured by `python benchmarks/sampling_paths.py` on an Intel(R) Xeon(R) Processor (AMX, AVX-512;
# 2 cores, loaded by two training runs), shipped `seed` model, one thread: see docs/benchmarks.md.
TORCH_CPU_FROM = 16
# Streams a GPU samples side by side (a CPU's batch is generate.MAX_BATCH): there a step of thousands
# of streams costs little more than a step of one.
GPU_BATCH = 4096
ENGINES = ("auto", "numpy", "torch")
_forced: list[str] = []  # set by `forced` (benchmarks and tests)


def device_of(model: torch.nn.Module) -> torch.device:
    """The device a model's weights are on."""
    return next(model.parameters()).device


def _torch_capable(model) -> bool:
    return model.config.cell in ("lstm", "gru")


def engine_for(model, batch: int) -> str:
    """'numpy' or 'torch': the engine that samples `batch` streams of `model` fastest (see the module doc)."""
    if _forced and (_forced[-1] == "numpy" or _torch_capable(model)):
        return _forced[-1]
    if not _torch_capable(model):
        return "numpy"
    if device_of(model).type != "cpu":
        return "torch"
    return "torch" if batch >= TORCH_CPU_FROM else "numpy"


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
    if engine not in ENGINES[1:]:
        raise ValueError(f"engine {engine!r}: choose numpy or torch")
    _forced.append(engine)
    try:
        yield
    finally:
        _forced.pop()
