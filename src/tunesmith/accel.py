"""Where training runs: the device (--device), the arithmetic (--precision) and the processes (torchrun).

Weights and checkpoints stay fp32 and device-independent whatever is chosen
here: autocast only changes the arithmetic of the forward pass and the loss.

Under `torchrun` every process reads RANK, WORLD_SIZE and LOCAL_RANK from its
environment; `Dist` holds them. A world of one is a plain run.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import TunesmithError

DEVICES = ("auto", "cpu", "cuda", "mps")
_warned: list[bool] = []  # the bf16-on-this-CPU warning is given once
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """--device as a torch device: auto is cuda when there is one, else mps when there is one, else cpu.

    Under torchrun each process on a node takes the GPU of its LOCAL_RANK.
    """
    if name not in DEVICES:
        raise TunesmithError(f"--device {name}: choose one of {', '.join(DEVICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise TunesmithError("--device cuda: no CUDA GPU is available to this torch "
                                 f"(torch {torch.__version__}, built {'with' if torch.version.cuda else 'without'} CUDA); "
                                 "use --device cpu or auto")
        if local_rank >= torch.cuda.device_count():
            raise TunesmithError(f"--device cuda: LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} GPUs; "
                                 "give torchrun --nproc_per_node at most the number of GPUs")
        return torch.device("cuda", local_rank)
    if name == "mps" and not _mps_available():
        raise TunesmithError("--device mps: Apple's Metal backend is not available here; use --device cpu or auto")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic units (AVX512-BF16 or AMX); without them bf16 is emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        return True
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None and not flags else False
    except RuntimeError:
        return False


def check_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of --precision on `device` (None: plain fp32), or a clear error.

    fp16 needs a loss scaler and is only worth it on CUDA: on other devices it
    is refused. bf16 needs no scaler; on a CPU without bf16 units it still
    runs (emulated, usually slower than fp32) after a warning.
    """
    if precision not in PRECISIONS:
        raise TunesmithError(f"--precision {precision}: choose one of {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    if dtype is torch.float16 and device.type != "cuda":
        raise TunesmithError(f"--precision fp16 on {device.type}: fp16 training needs a CUDA GPU (its loss scaler "
                             "and fast fp16 arithmetic); use --precision bf16 or fp32 here")
    if dtype is torch.bfloat16:
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise TunesmithError("--precision bf16: this GPU has no bf16 arithmetic; use fp16 or fp32")
        if device.type == "cpu" and not cpu_has_bf16() and not _warned:
            _warned.append(True)
            warnings.warn("--precision bf16: this CPU has no bf16 units (AVX512-BF16/AMX); bf16 is emulated and "
                          "usually slower than fp32 here", stacklevel=2)
    return dtype


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Autocast around forward + loss, or nothing for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@dataclass(frozen=True)
class Dist:
    """This process's place among torchrun's processes (rank 0 of 1 when run plainly)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, history and messages."""
        return self.rank == 0


def dist_from_env() -> Dist:
    """RANK / WORLD_SIZE / LOCAL_RANK as torchrun sets them (a plain run when they are absent)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise TunesmithError(f"RANK/WORLD_SIZE/LOCAL_RANK: not numbers ({exc})") from None
    if world < 1 or not 0 <= rank < world:
        raise TunesmithError(f"RANK {rank} of WORLD_SIZE {world}: not a valid torchrun process")
    return Dist(rank, world, local)


def init_process_group(dist: Dist, device: torch.device) -> None:
    """Join torchrun's process group: NCCL between GPUs, gloo between CPU processes."""
    import torch.distributed as td

    if not dist.active or td.is_initialized():
        return
    if device.type == "mps":
        raise TunesmithError("--device mps: multi-process training on mps is not supported; use one process")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    td.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def close_process_group() -> None:
    import torch.distributed as td

    if td.is_available() and td.is_initialized():
        td.destroy_process_group()


class Comm:
    """The few collectives training needs, on the device the backend wants (NCCL: the GPU)."""

    def __init__(self, dist: Dist, device: torch.device):
        self.dist = dist
        self.device = device if device.type == "cuda" else torch.device("cpu")

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sums over all processes."""
        if not self.dist.active:
            return list(values)
        import torch.distributed as td

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        td.all_reduce(t)
        return t.tolist()

    def from_main(self, values: list[float]) -> list[float]:
        """Rank 0's values, on every process."""
        if not self.dist.active:
            return list(values)
        import torch.distributed as td

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        td.broadcast(t, 0)
        return t.tolist()

    def gather(self, t: torch.Tensor) -> list[torch.Tensor]:
        """Every process's tensor (all the same shape), in rank order, on the CPU."""
        if not self.dist.active:
            return [t.detach().cpu()]
        import torch.distributed as td

        local = t.detach().to(self.device).contiguous()
        parts = [torch.empty_like(local) for _ in range(self.dist.world)]
        td.all_gather(parts, local)
        return [p.cpu() for p in parts]

    def barrier(self) -> None:
        if self.dist.active:
            import torch.distributed as td

            td.barrier()
