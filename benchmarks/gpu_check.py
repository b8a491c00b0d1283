"""The GPU path in one run: train, sample and cross devices on a CUDA machine, and print the figures.

    bash benchmarks/gpu_check.sh prepare      # here, where pip works: wheels (.whl/) and the corpus (.gpu/)
    bash benchmarks/gpu_check.sh              # there: installs what is missing from .whl/, runs this script
    python benchmarks/gpu_check.py --dry-run  # the same steps on the CPU, tiny (tests/test_gpu_check.py)

1. Training: the `small` and `large` presets for a fixed number of steps
   (the exported jigs, E epochs) in fp32 and bf16 (and fp16 for `small`, its
   loss scaler), each through `torchrun -m tunesmith train` with one process
   per GPU (DDP over NCCL; one GPU is a world of one). Per run: chars/s, ms
   per step, held-out bits; per preset: bf16 against fp32 (speed, held-out).
2. Sampling: the numpy stepper against torch on the GPU by batch size, up to
   4,096 streams, and whole free generation of 1 and 1,024 streams by engine
   (benchmarks/sampling_paths.py); `tunesmith generate --device cuda`
   writing 4,096 free tunes through the CLI.
3. Device independence: the GPU-trained checkpoint read on the CPU and on the
   GPU (held-out bits, a piece's next-symbol probabilities, tunes of one
   seed), and the shipped CPU-trained model sampled on the GPU.

It needs a CUDA build of PyTorch and tunesmith's own pure-python needs
(typer, rich, safetensors, numpy, threadpoolctl), which the wrapper installs
from wheels carried in .whl/; nothing else (no music21: the corpus is a
file). The figures go to --out as gpu_check.json and gpu_check.md (rows for
docs/benchmarks.md). Exit 0 when every step ran, 1 when one failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from machine import cpu_name  # benchmarks/machine.py

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    """What one check runs: the GPU defaults, or the CPU dry run's tiny ones."""

    device: str = "cuda"
    corpus: str = str(ROOT / ".gpu" / "jigs.abc")
    limit: int | None = None
    epochs: int = 3
    presets: tuple[str, ...] = ("small", "large")
    precisions: tuple[str, ...] = ("fp32", "bf16")
    fp16_preset: str | None = "small"        # also trained in fp16 (CUDA only: its loss scaler)
    processes: int = 0                       # torchrun --nproc_per_node (0: one per GPU)
    batches: tuple[int, ...] = (1, 16, 64, 256, 1024, 4096)
    streams: tuple[int, ...] = (1, 1024)     # whole generation by engine (numpy's 1,024 take ~10 s)
    max_symbols: int = 300
    repeats: int = 1
    cli_pieces: int = 4096
    timeout: int = 900                       # seconds per training run


def dry_run(corpus: str) -> Settings:
    """The same steps on the CPU, small enough for the test suite (gloo, one process)."""
    return Settings(device="cpu", corpus=corpus, limit=24, epochs=1, presets=("small",), fp16_preset=None,
                    processes=1, batches=(1, 16), streams=(1, 4), max_symbols=150, cli_pieces=4, timeout=300)


@dataclass
class Results:
    """Everything measured, for gpu_check.json."""

    machine: dict
    settings: dict
    training: list[dict] = field(default_factory=list)
    sampling: dict = field(default_factory=dict)
    devices: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def child_env() -> dict:
    """The environment of the runs this script starts: tunesmith from this tree, one thread each."""
    paths = [str(ROOT / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)), OMP_NUM_THREADS="1",
                PYTHONUNBUFFERED="1")


def machine(device) -> dict:
    """The GPU(s), torch, CUDA and the CPU, by name."""
    import torch

    info = {"cpu": cpu_name(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "cuda": torch.version.cuda, "device": str(device)}
    if device.type == "cuda":
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)
        info["bf16"] = torch.cuda.is_bf16_supported()
    return info


def steps_of(run: Path, corpus: str, limit: int | None, epochs: int) -> int:
    """Optimizer steps the run took: batches per epoch (the streams `train` makes) times epochs."""
    from tunesmith.checkpoint import load_checkpoint, read_config
    from tunesmith.corpus.load import load_corpus
    from tunesmith.data import encode_tunes, make_streams
    from tunesmith.models import TrainConfig

    config = read_config(run / "latest")
    train = TrainConfig.from_dict(config["train"])
    codec = load_checkpoint(run / "latest").codec
    ids = encode_tunes(codec, load_corpus([corpus], limit).training_set)
    return make_streams(ids, train.batch, train.seq, 0).batches * epochs


def train(s: Settings, preset: str, precision: str, processes: int, out: Path, say) -> dict | None:
    """One `torchrun -m tunesmith train` run; its figures, or None (failure said and recorded by the caller)."""
    run = out / f"{preset}-{precision}"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               "-m", "tunesmith", "train", "--corpus", s.corpus, "--preset", preset, "--epochs", str(s.epochs),
               "--precision", precision, "--device", s.device, "--threads", "1", "--no-progress", "--out", str(run),
               *(["--limit", str(s.limit)] if s.limit else [])]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=child_env(), timeout=s.timeout)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"train {preset} {precision}: exit {done.returncode}\n{done.stderr[-3000:]}")
    history = json.loads((run / "latest" / "config.json").read_text())["progress"]["history"]
    steps = steps_of(run, s.corpus, s.limit, s.epochs)
    seconds = sum(r["seconds"] for r in history)
    last = history[-1]
    figures = {"preset": preset, "precision": precision, "processes": processes, "steps": steps,
               "chars_per_second_last_epoch": last["symbols_per_second"],
               "ms_per_step": round(1000 * seconds / steps, 2), "train_seconds": round(seconds, 2),
               "wall_seconds": round(wall, 1), "held_out_bits": last["held_out_bits_per_symbol"],
               "train_bits": last["train_bits_per_symbol"], "run": str(run)}
    say(f"  {preset:<6} {precision}: {steps} steps, {figures['ms_per_step']:.1f} ms/step, "
        f"{last['symbols_per_second']:,.0f} chars/s (last epoch), held-out {last['held_out_bits_per_symbol']:.4f} "
        f"bits/char ({wall:.0f} s with start-up)")
    return figures


def compare_precisions(runs: list[dict], say) -> list[dict]:
    """bf16 (and fp16) against fp32 of the same preset after the same steps: speed and held-out bits."""
    rows = []
    for run in runs:
        base = next((r for r in runs if r["preset"] == run["preset"] and r["precision"] == "fp32"), None)
        if base is None or run is base:
            continue
        speed = run["chars_per_second_last_epoch"] / base["chars_per_second_last_epoch"]
        held = 100 * (run["held_out_bits"] - base["held_out_bits"]) / base["held_out_bits"]
        rows.append({"preset": run["preset"], "precision": run["precision"], "speed_vs_fp32": round(speed, 3),
                     "held_out_vs_fp32_percent": round(held, 3)})
        say(f"  {run['preset']}: {run['precision']} / fp32 chars/s {speed:.2f}, held-out {held:+.2f} % "
            f"({'within' if abs(held) <= 1 else 'NOT within'} 1 %)")
    return rows


def sample(s: Settings, run: Path, device, say) -> dict:
    """The numpy stepper against torch on `device` by batch size, and whole free generation (sampling_paths.py)."""
    from sampling_paths import Plan, report  # benchmarks/sampling_paths.py

    from tunesmith.checkpoint import load_checkpoint
    from tunesmith.generate import one_blas_thread

    plan = Plan(repeats=s.repeats, batches=s.batches, symbols=max(4 * max(s.batches), 1000), streams=s.streams,
                max_symbols=s.max_symbols)
    with one_blas_thread():
        return report(load_checkpoint(run, device), device, plan, say=lambda line: say("  " + line))


def cli_generate(s: Settings, run: Path, out: Path, say) -> dict:
    """`tunesmith generate --device D -n N --free` through the CLI: pieces/s and chars/s, start-up included."""
    target = out / "cli.abc"
    command = [sys.executable, "-m", "tunesmith", "generate", "--model", str(run), "--device", s.device,
               "-n", str(s.cli_pieces), "--free", "--max-length", str(s.max_symbols), "--seed", "1", "-o", str(target)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=child_env(), timeout=s.timeout)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"generate --device {s.device}: exit {done.returncode}\n{done.stderr[-2000:]}")
    text = target.read_text()
    pieces = text.count("\nX:") + text.startswith("X:")
    say(f"  tunesmith generate --device {s.device} -n {s.cli_pieces} --free --max-length {s.max_symbols}: "
        f"{pieces} tunes, {len(text):,} chars in {wall:.1f} s with start-up ({len(text) / wall:,.0f} chars/s)")
    return {"pieces": pieces, "chars": len(text), "wall_seconds": round(wall, 2)}


def across_devices(run: Path, device, say) -> dict:
    """The same checkpoint on the CPU and on `device`: held-out bits, next-symbol probabilities, tunes."""
    import numpy as np

    from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
    from tunesmith.corpus.load import load_corpus
    from tunesmith.insight.evaluate import bits
    from tunesmith.insight.neurons import piece_ids, read_piece
    from tunesmith.modes.abc.writer import generate_tunes

    here, there = load_checkpoint(run, "cpu"), load_checkpoint(run, device)
    texts = [t.text for t in load_corpus(here.meta["corpus"]["sources"], here.meta["corpus"].get("limit")).held_out[:40]]
    cpu_bits, dev_bits = bits(here, texts)["bits_per_symbol"], bits(there, texts)["bits_per_symbol"]
    ids = piece_ids(here, texts[0])
    probs = float(np.abs(read_piece(here, ids).probs - read_piece(there, ids).probs).max())
    a, b = generate_tunes(here, 8, seed=5, max_symbols=400), generate_tunes(there, 8, seed=5, max_symbols=400)
    same = sum(x == y for x, y in zip(a, b))
    shipped = load_checkpoint(DEFAULT_MODEL, device)
    start = time.perf_counter()
    tunes = generate_tunes(shipped, 64, seed=2, max_symbols=400)
    shipped_seconds = time.perf_counter() - start
    figures = {"held_out_bits_cpu": cpu_bits, "held_out_bits_device": dev_bits, "max_prob_difference": probs,
               "same_tunes_of_8": same, "shipped_model_64_tunes_seconds": round(shipped_seconds, 2),
               "shipped_model_tunes_ok": all(t.startswith("X:") for t in tunes) and len(tunes) == 64}
    say(f"  held-out bits on the CPU {cpu_bits:.5f}, on {device} {dev_bits:.5f}; largest next-symbol probability "
        f"difference {probs:.2e}; {same} of 8 tunes (seed 5) identical; the shipped CPU-trained model wrote 64 "
        f"well-formed tunes on {device} in {shipped_seconds:.1f} s")
    return figures


def markdown(results: Results) -> str:
    """Rows for docs/benchmarks.md."""
    m = results.machine
    where = ", ".join(m.get("gpus", [])) or m["cpu"]
    lines = [f"GPU check on {where} (torch {m['torch']}, CUDA {m['cuda']}; CPU {m['cpu']}, {m['cpus']} CPUs)", "",
             "| preset | precision | processes | steps | ms/step | chars/s | held-out bits/char |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in results.training:
        lines.append(f"| {r['preset']} | {r['precision']} | {r['processes']} | {r['steps']} | {r['ms_per_step']:.1f} | "
                     f"{r['chars_per_second_last_epoch']:,.0f} | {r['held_out_bits']:.4f} |")
    for c in results.sampling.get("precisions", []):
        lines.append(f"\n{c['preset']}: {c['precision']}/fp32 chars/s {c['speed_vs_fp32']:.2f}, "
                     f"held-out {c['held_out_vs_fp32_percent']:+.2f} %")
    for preset, figures in results.sampling.items():
        if preset == "precisions":
            continue
        lines += ["", f"sampling, {preset} preset (numpy on the CPU vs torch on the device, symbols/s):", "",
                  "| batch | numpy | torch | torch/numpy |", "|---:|---:|---:|---:|"]
        for batch, rates in figures["steps"].items():
            lines.append(f"| {batch} | {rates['numpy']:,.0f} | {rates['torch']:,.0f} | "
                         f"{rates['torch'] / rates['numpy']:.2f} |")
        for streams, engines in figures["generation"].items():
            lines.append(f"\nfree generation, {streams} streams: numpy {engines['numpy']:,.0f}, torch "
                         f"{engines['torch']:,.0f}, automatic {engines['auto']:,.0f} chars/s")
    if results.failures:
        lines += ["", "FAILED: " + "; ".join(f.splitlines()[0] for f in results.failures)]
    return "\n".join(lines) + "\n"


def check(s: Settings, out: Path, say=print) -> Results:
    """Every step; a failing step is recorded and the others still run."""
    import torch

    from tunesmith.accel import resolve_device

    device = resolve_device(s.device)
    torch.set_num_threads(1)  # this process's own CPU work (numpy engine, CPU reads): threads only contend
    processes = s.processes or (torch.cuda.device_count() if device.type == "cuda" else 1)
    results = Results(machine(device), asdict(s))
    say(f"machine: {json.dumps(results.machine)}")
    say(f"1. training ({processes} process{'es' if processes > 1 else ''} under torchrun, corpus {s.corpus}"
        f"{f', first {s.limit} tunes' if s.limit else ''}, {s.epochs} epochs):")
    plan = [(p, x) for p in s.presets for x in s.precisions] + ([(s.fp16_preset, "fp16")] if s.fp16_preset else [])
    for preset, precision in plan:
        try:
            results.training.append(train(s, preset, precision, processes, out, say))
        except (RuntimeError, subprocess.TimeoutExpired, OSError, KeyError, ValueError) as exc:
            results.failures.append(str(exc))
            say(f"  FAILED: {exc}")
    results.sampling["precisions"] = compare_precisions(results.training, say)
    fp32 = [r for r in results.training if r["precision"] == "fp32"]
    for r in fp32:
        say(f"2. sampling with the {r['preset']} run:")
        try:
            results.sampling[r["preset"]] = sample(s, Path(r["run"]), device, say)
        except (RuntimeError, ValueError, OSError) as exc:
            results.failures.append(f"sampling {r['preset']}: {exc}")
            say(f"  FAILED: {exc}")
    if fp32:
        run = Path(fp32[0]["run"])
        for step, action in (("cli", lambda: cli_generate(s, run, out, say)),
                             ("devices", lambda: across_devices(run, device, say))):
            say("2b. the CLI on the device:" if step == "cli" else "3. across devices:")
            try:
                results.devices[step] = action()
            except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as exc:
                results.failures.append(f"{step}: {exc}")
                say(f"  FAILED: {exc}")
    else:
        results.failures.append("no fp32 run: nothing to sample")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU, tiny (for the tests)")
    parser.add_argument("--corpus", help="ABC file to train on (default: .gpu/jigs.abc; dry run: jigs)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or ROOT / "out" / "gpu_check"),
                        help="folder for the runs and gpu_check.json / gpu_check.md (default: $OUT or out/gpu_check)")
    parser.add_argument("--epochs", type=int, help="epochs per training run (default 3; dry run 1)")
    parser.add_argument("--processes", type=int, help="torchrun --nproc_per_node (default: one per GPU)")
    args = parser.parse_args()
    settings = dry_run(args.corpus or "jigs") if args.dry_run else Settings(**({"corpus": args.corpus} if args.corpus else {}))
    overrides = {k: v for k, v in (("epochs", args.epochs), ("processes", args.processes)) if v is not None}
    settings = Settings(**(asdict(settings) | overrides))
    if settings.device == "cuda" and not Path(settings.corpus).is_file():
        print(f"--corpus {settings.corpus}: no such file; run `bash benchmarks/gpu_check.sh prepare` first", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT / "src"))
    from tunesmith.errors import TunesmithError

    args.out.mkdir(parents=True, exist_ok=True)
    try:
        results = check(settings, args.out)
    except TunesmithError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from tunesmith.atomic import write_text_atomic

    write_text_atomic(args.out / "gpu_check.json", json.dumps(asdict(results), indent=1, default=str) + "\n")
    write_text_atomic(args.out / "gpu_check.md", markdown(results))
    print(f"\nwrote {args.out / 'gpu_check.json'} and {args.out / 'gpu_check.md'}"
          + (f"; {len(results.failures)} step(s) FAILED" if results.failures else "; every step ran"))
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
