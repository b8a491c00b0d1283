"""Data-parallel training under torchrun: two gloo processes train what one process trains.

With dropout 0 the only difference between the runs is the order of float
additions (each process's half-batch gradient, then DDP's average, against
one whole-batch gradient), so the per-epoch figures agree to the 1e-5 the
history is rounded to; the test allows 1e-4. With dropout each process draws
its own masks, which a single process cannot reproduce: the figures then
differ by the noise of dropout, so it is turned off here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch.distributed as td
from safetensors.torch import load_file

from tunesmith.accel import Dist
from tunesmith.errors import TunesmithError
from tunesmith.train import check_world

pytestmark = pytest.mark.skipif(not (td.is_available() and td.is_gloo_available()),
                                reason="this torch has no gloo backend for torch.distributed")

TRAIN = ["train", "--corpus", "jigs", "--limit", "16", "--preset", "small", "--batch", "4", "--seq", "32",
         "--epochs", "2", "--threads", "1", "--dropout", "0", "--device", "cpu", "--no-progress"]


def history(run):
    return json.loads((run / "latest" / "config.json").read_text())["progress"]["history"]


def test_two_gloo_processes_match_one_and_only_rank_0_writes(tmp_path):
    single = subprocess.run([sys.executable, "-m", "tunesmith", *TRAIN, "--out", str(tmp_path / "one")],
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "tunesmith",
                          *TRAIN, "--out", str(tmp_path / "two")], capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr
    one, two = history(tmp_path / "one"), history(tmp_path / "two")
    assert len(one) == len(two) == 2
    for a, b in zip(one, two):
        for key in ("train_bits_per_symbol", "held_out_bits_per_symbol"):
            assert abs(a[key] - b[key]) <= 1e-4, (key, one, two)
    # Only rank 0 speaks and writes: one line of each, one run folder with best/ and latest/ and nothing else.
    assert ddp.stderr.count("torchrun: 2 processes on cpu (gloo), 2 streams each") == 1
    assert ddp.stderr.count("best held-out") == 1 and ddp.stderr.count("corpus:") == 1
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["best", "latest"]
    config = json.loads((tmp_path / "two" / "latest" / "config.json").read_text())
    assert config["world_size"] == 2
    state = load_file(str(tmp_path / "two" / "latest" / "training_state.safetensors"))
    assert "rng" in state and "rng.1" in state  # each rank's random state, for an exact resume
    # A run of two processes resumed by one is refused, naming the number to use.
    refused = subprocess.run([sys.executable, "-m", "tunesmith", "train", "--resume", str(tmp_path / "two"),
                              "--epochs", "3", "--device", "cpu"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused.stderr
    assert "trained by 2 processes" in refused.stderr and "--nproc_per_node 2" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_batch_must_divide_among_processes():
    check_world(4, Dist(0, 2, 0))
    check_world(5, Dist())  # a single process takes any batch
    with pytest.raises(TunesmithError, match="multiple of 2"):
        check_world(5, Dist(1, 2, 1))
