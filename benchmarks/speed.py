"""Training and sampling speed, as ratios measured in this one run.

    python benchmarks/speed.py [--quick] [--scale-only] [--threads N]

1. Training symbols/s of the `seed` preset through tunesmith's Trainer
   against a bare reference loop (plain nn.Embedding + nn.LSTM + nn.Linear,
   Adam, clipping, carried state; nothing around it) on the same data, fp32.
2. Sampling paths by batch size (benchmarks/sampling_paths.py): the numpy
   stepper against torch's kernels for the network's step alone, batch 1 to
   256, and whole free generation of 1 and 64 streams with each engine and
   with the automatic choice; and the usual loop that calls nn.LSTM once per
   symbol, for 1 and 64 streams.
3. Scale (`--scale-only` runs just this): training chars/s of the `seed`
   preset in bf16 against fp32 on the `jigs` corpus (autocast on this CPU;
   and the held-out bits after the same steps, which the issue wants within
   1 %), and of a 2-process gloo torchrun against one process, each with the
   same global batch and the same total threads, all measured in this one
   run, on the CPU it names.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from tunesmith.checkpoint import Checkpoint, load_checkpoint
from tunesmith.checkpoint import DEFAULT_MODEL
from tunesmith.codecs.abc_chars import CharCodec
from tunesmith.corpus.load import load_corpus
from tunesmith.data import encode_tunes, make_streams
from tunesmith.models import build_model, get_preset
from tunesmith.train import Trainer

from machine import cpu_name  # benchmarks/machine.py
from sampling_paths import plan_for, report  # benchmarks/sampling_paths.py


def bare_reference(x_all: torch.Tensor, y_all: torch.Tensor, vocab: int, batches: int, seq: int) -> tuple[float, float]:
    """Symbols per wall-clock second and per CPU second (the process's) of the plainest stateful char-RNN loop."""
    torch.manual_seed(0)
    embed, lstm, head = nn.Embedding(vocab, 512), nn.LSTM(512, 256, 3, dropout=0.2, batch_first=True), nn.Linear(256, vocab)
    drop = nn.Dropout(0.2)
    params = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=2e-3)
    state = None
    start, cpu = time.perf_counter(), time.process_time()
    for k in range(batches):
        x, y = x_all[:, k * seq:(k + 1) * seq], y_all[:, k * seq:(k + 1) * seq]
        out, state = lstm(embed(x), state)
        loss = nn.functional.cross_entropy(head(drop(out)).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        state = tuple(s.detach() for s in state)
    symbols = batches * x_all.shape[0] * seq
    return symbols / (time.perf_counter() - start), symbols / (time.process_time() - cpu)


def per_cpu_second(record: dict) -> float:
    """A history record's symbols per CPU second (the Trainer clocks both, batches only)."""
    return record["symbols_per_second"] * record["seconds"] / record["cpu_seconds"]


def ours(corpus, tmp: Path) -> tuple[float, float]:
    """Symbols per wall-clock second and per CPU second of one epoch of tunesmith's Trainer (batches only)."""
    preset = get_preset("seed")
    codec = CharCodec.fit([t.text for t in corpus.tunes])
    torch.manual_seed(0)
    model = build_model(replace(preset.model, vocab_size=len(codec)))
    trainer = Trainer(tmp / f"run{time.monotonic_ns()}", corpus, codec, model, replace(preset.train, epochs=1))
    trainer.run(show_progress=False)
    record = trainer.progress.history[-1]
    return record["symbols_per_second"], per_cpu_second(record)


def reference_sampler(ckpt: Checkpoint, streams: int, steps: int) -> float:
    """Symbols/s of sampling with one nn.LSTM call per symbol."""
    model, gen = ckpt.model, torch.Generator().manual_seed(0)
    x, state = torch.zeros(streams, 1, dtype=torch.long), None
    start = time.perf_counter()
    with torch.inference_mode():
        for _ in range(steps):
            logits, state = model(x, state)
            x = torch.multinomial(torch.softmax(logits[:, -1], -1), 1, generator=gen)
    return streams * steps / (time.perf_counter() - start)


def trained(precision: str, corpus, tmp: Path, epochs: int = 1) -> dict:
    """One run of the `seed` preset in `precision`: its last history record."""
    preset = get_preset("seed")
    codec = CharCodec.fit([t.text for t in corpus.tunes])
    torch.manual_seed(0)
    model = build_model(replace(preset.model, vocab_size=len(codec)))
    config = replace(preset.train, epochs=epochs, precision=precision)
    trainer = Trainer(tmp / f"run{time.monotonic_ns()}", corpus, codec, model, config)
    trainer.run(show_progress=False)
    return trainer.progress.history[-1]


def cli_run(args: list[str], out: Path, processes: int) -> dict:
    """The CLI's last history record for a run of `processes` (torchrun when more than one)."""
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes)]
                if processes > 1 else [sys.executable])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([*launcher, "-m", "tunesmith", *args, "--out", str(out)], capture_output=True, text=True,
                          env=env)
    if done.returncode:
        raise SystemExit(f"{' '.join(launcher)} failed:\n{done.stderr[-2000:]}")
    return json.loads((out / "latest" / "config.json").read_text())["progress"]["history"][-1]


def scale(quick: bool, repeats: int, threads: int) -> None:
    """bf16 against fp32 on jigs, and two gloo processes against one (`threads` torch threads per process)."""
    from tunesmith.accel import cpu_has_bf16

    torch.set_num_threads(threads)

    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs; torch capability "
          f"{torch.backends.cpu.get_cpu_capability()}, bf16 units: {'yes' if cpu_has_bf16() else 'no'}); "
          f"load average {os.getloadavg()[0]:.1f}")
    corpus = load_corpus(["jigs"], limit=200 if quick else None)
    preset = get_preset("seed")
    codec = CharCodec.fit([t.text for t in corpus.tunes])
    steps = make_streams(encode_tunes(codec, corpus.train), preset.train.batch, preset.train.seq, 0).batches
    fp32, bf16 = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):  # interleaved, so both see the same machine
            fp32.append(trained("fp32", corpus, Path(tmp)))
            bf16.append(trained("bf16", corpus, Path(tmp)))
    f = statistics.median(r["symbols_per_second"] for r in fp32)
    b = statistics.median(r["symbols_per_second"] for r in bf16)
    fc = statistics.median(per_cpu_second(r) for r in fp32)
    bc = statistics.median(per_cpu_second(r) for r in bf16)
    hf, hb = fp32[-1]["held_out_bits_per_symbol"], bf16[-1]["held_out_bits_per_symbol"]
    change = 100 * (hb - hf) / hf
    print(f"training, seed preset, jigs{'' if not quick else ' (first 200)'}, 1 epoch = {steps} steps, "
          f"{torch.get_num_threads()} thread(s): fp32 {f:,.0f} chars/s, bf16 {b:,.0f} chars/s, ratio bf16/fp32 "
          f"{b / f:.2f}; per CPU second {fc:,.0f} vs {bc:,.0f}, ratio {bc / fc:.2f} (median of {repeats}, interleaved)")
    print(f"held-out bits/char after the same {steps} steps: fp32 {hf:.4f}, bf16 {hb:.4f} ({change:+.2f} %; "
          f"target within 1 %: {'met' if abs(change) <= 1 else 'NOT met'})")

    limit = "60" if quick else "150"
    args = ["train", "--corpus", "jigs", "--limit", limit, "--preset", "seed", "--epochs", "1",
            "--device", "cpu", "--no-progress"]
    one, two = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            one.append(cli_run([*args, "--threads", str(threads)], Path(tmp) / f"one{i}", 1))
            two.append(cli_run([*args, "--threads", str(threads)], Path(tmp) / f"two{i}", 2))
    o = statistics.median(r["symbols_per_second"] for r in one)
    t = statistics.median(r["symbols_per_second"] for r in two)
    print(f"training, seed preset (global batch {get_preset('seed').train.batch}), 1 epoch: one process x {threads} thread(s) "
          f"{o:,.0f} chars/s, torchrun 2 gloo processes x {threads} thread(s) {t:,.0f} chars/s (ratio {t / o:.2f}); "
          f"held-out {one[-1]['held_out_bits_per_symbol']:.4f} vs {two[-1]['held_out_bits_per_symbol']:.4f} bits/char")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (for a smoke run)")
    parser.add_argument("--scale-only", action="store_true", help="only part 3: bf16 vs fp32, 2 processes vs 1")
    parser.add_argument("--threads", type=int, default=1, help="part 3: torch threads per process (default 1: on a "
                        "busy machine more threads than free cores spin against each other)")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    print(f"CPU: {cpu_name()}; torch {torch.__version__}, {torch.get_num_threads()} threads; load average "
          f"{os.getloadavg()[0]:.1f}")
    if args.scale_only:
        return scale(args.quick, repeats, args.threads)

    corpus = load_corpus(["oneills1850"], limit=60 if args.quick else 150)
    preset = get_preset("seed")
    codec = CharCodec.fit([t.text for t in corpus.tunes])
    streams = make_streams(encode_tunes(codec, corpus.train), preset.train.batch, preset.train.seq, 0)
    ref, mine = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):  # interleaved, so both see the same machine
            ref.append(bare_reference(streams.x, streams.y, len(codec), streams.batches - 1, preset.train.seq))
            mine.append(ours(corpus, Path(tmp)))
    r, m = statistics.median(w for w, _ in ref), statistics.median(w for w, _ in mine)
    rc, mc = statistics.median(c for _, c in ref), statistics.median(c for _, c in mine)
    print(f"training, seed preset, fp32, {torch.get_num_threads()} threads: tunesmith {m:,.0f} chars/s, "
          f"bare nn.LSTM loop {r:,.0f} chars/s, ratio {m / r:.2f}; per CPU second {mc:,.0f} vs {rc:,.0f}, "
          f"ratio {mc / rc:.2f} (median of {repeats}, interleaved)")

    ckpt = load_checkpoint(DEFAULT_MODEL)
    torch.set_num_threads(1)  # as the sampler runs (generate.one_blas_thread)
    print("sampling with the shipped model:")
    report(ckpt, torch.device("cpu"), plan_for(torch.device("cpu"), args.quick), say=lambda line: print("  " + line))
    for n in (1, 64):
        base = reference_sampler(ckpt, n, 300 if n == 1 else 60)
        print(f"  nn.LSTM called once per symbol (the usual loop), {n} stream{'s' if n > 1 else ''}: "
              f"{base:,.0f} symbols/s (the network and the draw, no writers)")
    scale(args.quick, repeats, args.threads)


if __name__ == "__main__":
    sys.exit(main())
