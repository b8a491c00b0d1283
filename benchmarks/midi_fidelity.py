"""How close generated MIDI pieces come to real chorales: note lengths, rests, phrase endings, voices, cadences, length.

    python benchmarks/midi_fidelity.py [-n 25] [--seed 900] [--model DIR] [--temperature T] [--top-p P]
    python benchmarks/midi_fidelity.py --search [-n 25] [--seed 900]   # the table of settings in docs/midi.md

Generates n pieces of 16 bars (`--bars 16`) and n pieces without --bars
(the model ends them) with the MIDI model's write path, as `tunesmith
generate --mode midi` does, and measures them and the model's real held-out
chorales with `modes.midi.fidelity`: distinct note lengths in 16 bars,
histogram intersections (1 = identical) of note length, rests, bars between
phrase endings (held chords) and the top and bottom voices' pitches, pieces
closing on a held chord and on the tonic, and the length the model chooses.
Sampling left unset is the mode's default (`MODE.sampling`). Choose seeds the
tests do not use.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from tunesmith.checkpoint import load_checkpoint
from tunesmith.corpus.load import load_corpus
from tunesmith.modes.base import GenerateRequest
from tunesmith.modes.midi import MODE, MidiOptions
from tunesmith.modes.midi.fidelity import overlaps, shape, summary
from tunesmith.options import Sampling

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "midi"
GRID = [(t, p) for t in (0.9, 1.0, 1.1) for p in (0.8, 0.9, 0.95, 1.0)]  # --search: temperature x top-p


def measure(ckpt, real, n: int, seed: int, sampling: Sampling) -> dict:
    """Figures of n 16-bar pieces and n pieces the model ends, against the real shapes."""
    request = GenerateRequest(n=n, seed=seed, sampling=sampling, options=MidiOptions(bars=16))
    sixteen = [shape(p) for p in MODE.write(ckpt, request)]
    free = [shape(p) for p in MODE.write(ckpt, GenerateRequest(n=n, seed=seed, sampling=sampling))]
    hist = overlaps(sixteen, real)
    hist["length in bars"] = overlaps(free, real)["length in bars"]
    ended = summary(free)
    return {"16 bars": summary(sixteen), "overlap": hist,
            "no --bars": {k: ended[k] for k in ("median_bars", "bars_range", "final_held", "ends_on_tonic")}}


def row(sampling: Sampling, figures: dict) -> str:
    """One line of the search's Markdown table."""
    s, o, e = figures["16 bars"], figures["overlap"], figures["no --bars"]
    top_p = "off" if sampling.top_p in (None, 1.0) else f"{sampling.top_p:g}"
    return (f"| {sampling.temperature:g} | {top_p} | {s['median_distinct_lengths']:g} ({s['distinct_lengths_range']}) "
            f"| {o['note length']:.3f} | {s['with_rests']:.0%} | {o['rests per piece']:.2f} "
            f"| {o['phrase gap (bars)'] or 0:.2f} | {o['top voice pitch']:.2f} / {o['bottom voice pitch']:.2f} "
            f"| {s['final_held']:.0%} / {e['final_held']:.0%} | {s['ends_on_tonic']:.0%} / {e['ends_on_tonic']:.0%} "
            f"| {e['median_bars']:g} ({e['bars_range']}) |")


HEADER = ("| temperature | top-p | distinct lengths in 16 bars: median (range) | note-length overlap "
          "| pieces with rests | rests-per-piece overlap | phrase-gap overlap | top / bottom voice overlap "
          "| final chord held (16 bars / own end) | bass on the tonic (16 / own) | bars at own end: median (range) |\n"
          "|---:|---:|---|---:|---:|---:|---:|---|---|---|---|")


def real_row(real_summary: dict) -> str:
    """The held-out chorales' own figures, in the table's columns."""
    s = real_summary
    return (f"| real held-out | | {s['median_distinct_lengths']:g} ({s['distinct_lengths_range']}) | 1 "
            f"| {s['with_rests']:.0%} | 1 | 1 | 1 / 1 | {s['final_held']:.0%} | {s['ends_on_tonic']:.0%} "
            f"| {s['median_bars']:g} ({s['bars_range']}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=25)
    parser.add_argument("--seed", type=int, default=900)
    parser.add_argument("--model", type=Path, default=SHIPPED)
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--search", action="store_true", help="measure every setting of the grid, as a table")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    ckpt = load_checkpoint(args.model)
    meta = ckpt.meta
    corpus = load_corpus(meta["corpus"]["sources"], meta["corpus"].get("limit"), meta.get("mode", "midi"))
    real = [shape(p) for p in corpus.held_out]
    default = MODE.sampling
    if args.search:
        settings = [Sampling(temperature=t, top_p=p) for t, p in GRID]
    else:
        settings = [Sampling(temperature=default.temperature if args.temperature is None else args.temperature,
                             top_p=default.top_p if args.top_p is None else args.top_p)]
    results = [(s, measure(ckpt, real, args.n, args.seed, s)) for s in settings]
    if args.json:
        print(json.dumps({"real held-out": summary(real),
                          "settings": [{"temperature": s.temperature, "top_p": s.top_p, **f} for s, f in results]}))
        return
    print(f"{args.n} pieces of 16 bars and {args.n} without --bars, seed {args.seed}, "
          f"against {len(real)} real held-out chorales\n")
    print(HEADER)
    for s, figures in results:
        print(row(s, figures))
    print(real_row(summary(real)))
    if not args.search:
        (s, figures), = results
        print("\nhistogram intersection with the real chorales:")
        for key, value in figures["overlap"].items():
            print(f"  {key:22}{value:.3f}" if value is not None else f"  {key:22}-")
        print("16 bars:", json.dumps(figures["16 bars"]))
        print("real:   ", json.dumps(summary(real)))


if __name__ == "__main__":
    main()
