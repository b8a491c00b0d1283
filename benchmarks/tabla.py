"""Tala-true generation (issue 7 targets): 50 compositions in each of Teentaal, Jhaptaal and Rupak.

    python benchmarks/tabla.py [-n 50] [--cycles 4] [--seed 1] [--model DIR] [--card]

For each tala: the share of cycles that are complete (the tala's matras, its
vibhag marks in place) and of compositions that end on sam (a sounded bol
after the last cycle), with the constraints on and, for comparison, with
--free sampling; how many compositions copy a corpus composition (the same
cycles and landing) and how many cycles are copies of a corpus cycle; and the
share of khali vibhags that leave out the bayan's open strokes, generated vs
corpus. --card also writes the model's MODEL_CARD.md with these figures.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
from pathlib import Path

import torch

from tunesmith.atomic import write_text_atomic
from tunesmith.checkpoint import load_checkpoint
from tunesmith.checkpoint import DEFAULT_MODEL
from tunesmith.corpus.tabla import load_bundled
from tunesmith.modelcard import notes_section
from tunesmith.modes import GenerateRequest
from tunesmith.modes.tabla import TablaOptions
from tunesmith.modes.tabla.writer import generate_compositions
from tunesmith.music.tabla import TALAS, has_bayan_open_matra, read_text

TALA_TARGETS = ("teentaal", "jhaptaal", "rupak")


def khali_quiet(comps) -> tuple[int, int]:
    """(khali vibhags without an open bayan stroke, khali vibhags)."""
    quiet = total = 0
    for comp in comps:
        tala = TALAS[comp.tala]
        starts = (0,) + tala.boundaries
        for cycle in comp.cycles:
            for v in tala.khali_vibhags():
                total += 1
                quiet += not any(has_bayan_open_matra(m) for m in cycle[starts[v]:starts[v] + tala.vibhags[v]])
    return quiet, total


def measure(ckpt, tala: str, n: int, cycles: int, seed: int, free: bool) -> dict:
    """Generate n compositions and judge them with the reader (the same checker as `tunesmith check`)."""
    start = time.perf_counter()
    pieces = generate_compositions(ckpt, GenerateRequest(n=n, seed=seed, options=TablaOptions(tala, cycles=cycles), free=free,
                                                         max_length=2000))
    seconds = time.perf_counter() - start
    texts = [p if isinstance(p, str) else p.file_text() for p in pieces]
    complete = total_cycles = on_sam = 0
    comps = []
    for text in texts:
        [reading] = read_text(text)
        if reading.composition is not None:
            comps.append(reading.composition)
        bad = {p.cycle for p in reading.problems}   # 0: the header or the whole composition
        written = text.count("||")
        complete += sum(1 for c in range(1, written + 1) if c not in bad)
        total_cycles += max(written, cycles)
        comp = reading.composition
        on_sam += comp is not None and comp.landing is not None and (free or len(comp.cycles) == cycles)
    return {"texts": texts, "comps": comps, "complete": complete, "cycles": total_cycles, "on_sam": on_sam,
            "n": n, "seconds": seconds}


def copies(comps, corpus) -> tuple[int, int, int]:
    """(compositions equal to a corpus one, cycles equal to a corpus cycle, cycles)."""
    whole = {(c.tala, c.cycles, c.landing) for c in corpus}
    cycles = {(c.tala, cycle) for c in corpus for cycle in c.cycles}
    same = sum((c.tala, c.cycles, c.landing) in whole for c in comps)
    copied = sum((c.tala, cycle) in cycles for c in comps for cycle in c.cycles)
    return same, copied, sum(len(c.cycles) for c in comps)


def card(ckpt, rows: list[str], command: str, notes: str = "") -> str:
    """The shipped tabla model's card: data, model, training, and the measured targets."""
    meta = ckpt.meta
    corpus, model, train, history = meta["corpus"], meta["model"], meta["train"], meta.get("history", [])
    best = min(history, key=lambda r: r["held_out_bits_per_symbol"])
    epochs = "\n".join(f"| {r['epoch']} | {r['train_bits_per_symbol']:.3f} | {r['held_out_bits_per_symbol']:.3f} "
                       f"| {r['symbols_per_second']:,.0f} |" for r in history)
    minutes = sum(r["seconds"] for r in history) / 60
    return f"""# Model card: tabla

A bol-level {model['cell'].upper()} that writes tabla compositions (thekas, kaidas and relas with
paltas, tihais, tukdas) in tunesmith's tabla notation, one symbol per bol,
trained with `tunesmith train --mode tabla`.

## Data
- corpus: {', '.join(corpus['sources'])} — thekas of 8 talas and compositions written as data in
  `src/tunesmith/corpus/tabla/`, expanded by the documented rules of `expand.py` (paltas, khali halves,
  tihais and tukdas in every tala); exact duplicates removed
- {corpus['tunes']} compositions: {corpus['train_tunes']} for training, {corpus['held_out_tunes']} held out
  (5 %, by composition, by content hash); corpus hash {corpus['hash']}
- vocabulary of {model['vocab_size']} symbols: bols, `-`, `[`, `]`, `|`, `||`, newline, and whole
  `tala:`/`form:` header lines

## Model
- {model['cell'].upper()}: embedding {model['embedding']} -> {model['layers']} x {model['hidden']},
  dropout {model['dropout']} -> linear -> softmax; {sum(p.numel() for p in ckpt.model.parameters()):,} parameters
- trained statefully: batch {train['batch']} contiguous streams, BPTT {train['seq']}, Adam lr {train['lr']},
  clip {train['clip']}, seed {train['seed']}

## Training
- {len(history)} epochs, {minutes:.1f} minutes on a shared 2-core CPU (one torch thread)
- best held-out: **{best['held_out_bits_per_symbol']:.3f} bits per bol** at epoch {best['epoch']} (these weights)
- reproduce with: `{command}`

| epoch | train bits/bol | held-out bits/bol | bols/s |
|---:|---:|---:|---:|
{epochs}

## Tala-true generation (`python benchmarks/tabla.py --card`)
`tunesmith generate --mode tabla --tala T --cycles 4` with the default sampling
(temperature 1.0, top-p 0.8), judged by the same reader as `tunesmith check`:

| tala | compositions | cycles complete | end on sam | --free: cycles complete | --free: end on sam | copies of a corpus composition | cycles copied from the corpus | khali vibhags without open bayan (corpus) |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}
{notes}
Packaged {datetime.date.today().isoformat()}.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL.parent / "tabla")
    parser.add_argument("--card", action="store_true", help="write MODEL_CARD.md into the model folder")
    parser.add_argument("--command", default="make models", help="how the card says to reproduce the model")
    parser.add_argument("--notes", type=Path, default=None, help="a Markdown file added to the card (what was compared)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ckpt = load_checkpoint(args.model)
    corpus = load_bundled("tabla")
    rows = []
    for tala in TALA_TARGETS:
        tala_true = measure(ckpt, tala, args.n, args.cycles, args.seed, free=False)
        free = measure(ckpt, tala, args.n, args.cycles, args.seed, free=True)
        same, copied, cycles = copies(tala_true["comps"], corpus)
        quiet, khalis = khali_quiet(tala_true["comps"])
        c_quiet, c_khalis = khali_quiet([c for c in corpus if c.tala == tala])
        row = (f"| {tala} | {args.n} | {tala_true['complete']}/{tala_true['cycles']} "
               f"({tala_true['complete'] / tala_true['cycles']:.0%}) | {tala_true['on_sam']}/{args.n} "
               f"| {free['complete'] / free['cycles']:.0%} | {free['on_sam'] / args.n:.0%} | {same} "
               f"| {copied}/{cycles} ({copied / max(cycles, 1):.0%}) "
               f"| {quiet / max(khalis, 1):.0%} ({c_quiet / max(c_khalis, 1):.0%}) |")
        rows.append(row)
        print(row, f"  [{tala_true['seconds']:.1f} s tala-true, {free['seconds']:.1f} s free; "
                   f"median {statistics.median(len(t) for t in tala_true['texts'])} chars]", flush=True)
    if args.card:
        path = Path(args.model) / "MODEL_CARD.md"
        write_text_atomic(path, card(ckpt, rows, args.command, notes_section(args.notes)))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
