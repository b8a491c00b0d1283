"""`generate --int8`: what 8-bit recurrent weights buy on one stream, and what they cost in held-out bits.

    python benchmarks/int8.py [--model models/default] [--seeds 9100] [--tunes 3] [--turns 3]

1. Held-out bits per character of the model's own held-out tunes, read as
   one stream through the numpy stepper in float32 and through the 8-bit
   stepper (models/stepper.py `Int8Stepper`): the network alone, the same
   figure as the model card's copy-model table.
2. One stream, free and well-formed (the default: copy model and originality
   guard), float32 and 8-bit taking turns, `--tunes` tunes of up to 1,500
   characters from seeds `--seeds` on: chars per CPU second of the process
   (the VM's wall clock varies more than its CPU time), and how many of the
   tunes came out the same (the draws follow the logits, which differ
   slightly). Names the CPU.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import numpy as np

from machine import cpu_name  # benchmarks/machine.py

from tunesmith.checkpoint import load_checkpoint
from tunesmith.corpus.load import recorded_corpus
from tunesmith.generate import one_blas_thread
from tunesmith.modes.abc.writer import generate_tunes
from tunesmith.modes import mode_name
from tunesmith.options import Sampling


def stream_bits(ckpt, texts: list[str]) -> float:
    """Bits per symbol of the texts read one after another as one stream (after two newlines), by the stepper."""
    net = ckpt.model.stepper()
    ids = [ckpt.codec.index["\n"]] * 2 + [i for t in texts for i in ckpt.codec.encode(t + "\n")]
    state = net.initial_state(1)
    total = 0.0
    with one_blas_thread():
        for now, nxt in zip(ids[:-1], ids[1:]):
            logits, state = net.step(np.array([now]), state)
            row = logits[0].astype(np.float64)
            top = row.max()
            total += (top + math.log(np.exp(row - top).sum()) - row[nxt]) / math.log(2)
    return total / (len(ids) - 1)


def rate(ckpt, seed: int, tunes: int, free: bool) -> tuple[float, list[str]]:
    """Chars per CPU second of writing `tunes` tunes one at a time, and the tunes."""
    written: list[str] = []
    cpu = time.process_time()
    for s in range(seed, seed + tunes):
        written += generate_tunes(ckpt, 1, seed=s, sampling=Sampling(), max_symbols=1500, free=free)
    return sum(map(len, written)) / max(time.process_time() - cpu, 1e-9), written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--seeds", type=int, default=9100)
    parser.add_argument("--tunes", type=int, default=3)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--no-bits", action="store_true", help="skip the held-out reading (a minute or two)")
    args = parser.parse_args()
    ckpt = load_checkpoint(args.model)
    print(f"{cpu_name()}; model {args.model}")
    if not args.no_bits:
        corpus = recorded_corpus(ckpt.meta["corpus"], mode_name(ckpt.meta), ckpt.codec)
        held = [p.text for p in corpus.held_out]
        for on in (False, True):
            ckpt.model.sample_in_int8(on)
            print(f"held-out, {len(held)} tunes as one stream, {'8-bit' if on else 'float32'}: "
                  f"{stream_bits(ckpt, held):.4f} bits per character", flush=True)
    for free in (True, False):
        rates: dict[bool, list[float]] = {False: [], True: []}
        same = 0
        for turn in range(args.turns):
            tunes = {}
            for on in (False, True) if turn % 2 == 0 else (True, False):
                ckpt.model.sample_in_int8(on)
                r, tunes[on] = rate(ckpt, args.seeds, args.tunes, free)
                rates[on].append(r)
            same = sum(a == b for a, b in zip(tunes[False], tunes[True]))
        fp, q = statistics.median(rates[False]), statistics.median(rates[True])
        print(f"one stream, {'free' if free else 'well-formed'}: float32 {fp:,.0f}, 8-bit {q:,.0f} chars per CPU "
              f"second (x{q / fp:.2f}; medians of {args.turns} turns: {', '.join(f'{x:,.0f}' for x in rates[False])} "
              f"/ {', '.join(f'{x:,.0f}' for x in rates[True])}); the same tunes: {same} of {args.tunes}", flush=True)


if __name__ == "__main__":
    main()
