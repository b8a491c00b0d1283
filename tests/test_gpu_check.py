"""benchmarks/gpu_check.sh's dry run: every step of the GPU check (torchrun training in fp32 and bf16, sampling
by engine, the CLI, the same checkpoint on two devices) on the CPU, tiny, through the wrapper the GPU machine runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as td

from tunesmith.atomic import write_text_atomic
from tunesmith.corpus.load import export_tunes
from tunesmith.music.abc.tunes import join_tunes

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (td.is_available() and td.is_gloo_available()), reason="this torch has no gloo backend")
def test_the_gpu_check_runs_end_to_end_on_the_cpu(tmp_path):
    corpus = tmp_path / "jigs.abc"  # an exported corpus file, as carried to the GPU machine (no music21 there)
    tunes, _, _ = export_tunes(["jigs"], limit=30)
    write_text_atomic(corpus, join_tunes(tunes))
    env = dict(os.environ, PYTHON=sys.executable, WHEELS=str(tmp_path / "no-wheels"), OMP_NUM_THREADS="1")
    env.pop("OUT", None)
    run = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--corpus", str(corpus),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "installing" not in run.stdout  # every package is here: nothing installed from the (absent) wheels
    results = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert results["failures"] == [] and results["machine"]["device"] == "cpu"
    runs = {r["precision"]: r for r in results["training"]}
    assert set(runs) == {"fp32", "bf16"} and all(r["steps"] > 0 and r["processes"] == 1 for r in runs.values())
    # The same steps in bf16: held-out bits within the 1 % of fp32.
    (compared,) = results["sampling"]["precisions"]
    assert abs(compared["held_out_vs_fp32_percent"]) < 1.0, compared
    steps = results["sampling"]["small"]["steps"]
    assert set(steps) == {"1", "16"} and all(v["numpy"] > 0 and v["torch"] > 0 for v in steps.values())
    devices = results["devices"]
    assert devices["cli"]["pieces"] == 4
    assert devices["devices"]["same_tunes_of_8"] == 8 and devices["devices"]["shipped_model_tunes_ok"]
    assert abs(devices["devices"]["held_out_bits_cpu"] - devices["devices"]["held_out_bits_device"]) < 1e-6
    table = (tmp_path / "out" / "gpu_check.md").read_text()
    assert "| small | bf16 | 1 |" in table and "FAILED" not in table
