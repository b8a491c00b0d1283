"""Infill and variations for MIDI (bars) and tabla (cycles) on held-out pieces: what ranking gains, validity, shares.

    python benchmarks/infill_modes.py [--mode midi|tabla|both] [--candidates 32] [--seed 101]
                                      [--midi-bars 2] [--vary 0.1,0.3,0.5] [--vary-candidates 8]

The held-out pieces are those of the shipped models' own splits (models/midi:
Bach chorales, models/tabla: the tabla corpus), read again as the models'
config.json records them. In each, a gap is drawn (seeded): --midi-bars bars
of a chorale, or one cycle of a composition of two or more cycles, with at
least one bar or cycle after it. --candidates candidates are sampled for it
(at each mode's default sampling, as the command samples) and each is scored by the bits the model spends on the rest of the piece
after it (the ranking's score); "best of k" keeps the fewest bits of the
first k candidates, "unranked" is the mean over all candidates (what one
sample costs on average), "the piece's own" puts the original music back.
Every candidate is checked: MIDI, the notes outside the gap and the bar lines
unchanged and the text passing the grammar; tabla, the composition passing
the tabla reader's checks (matras per cycle, vibhag marks) with the cycles
outside the gap unchanged.

Variations: `vary` at each --vary amount on every held-out chorale, and on
every held-out composition with two or more cycles: the share of bars
(cycles) changed against the share asked.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_name  # noqa: E402

from tunesmith.checkpoint import load_checkpoint  # noqa: E402
from tunesmith.corpus.load import recorded_corpus  # noqa: E402
from tunesmith.modes.midi import MODE as MIDI  # noqa: E402
from tunesmith.modes.midi import infill as midi_infill  # noqa: E402
from tunesmith.modes.midi.tables import Tables  # noqa: E402
from tunesmith.modes.midi.writer import fit_to_vocabulary  # noqa: E402
from tunesmith.modes.tabla import MODE as TABLA  # noqa: E402
from tunesmith.modes.tabla import infill as tabla_infill  # noqa: E402
from tunesmith.music.midi import text_problem  # noqa: E402
from tunesmith.music.tabla.notation import read_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class Tally:
    """Bits per gap: the best of k, the unranked mean, the piece's own; validity counts; CPU time."""

    def __init__(self, candidates: int):
        self.ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128) if k <= candidates]
        self.best: dict[int, list[float]] = {k: [] for k in self.ks}
        self.unranked, self.own, self.tails, self.per_symbol = [], [], [], []
        self.checked = self.good = self.failed = 0
        self.seconds = 0.0

    def add(self, bits: np.ndarray, own: float, tail: int) -> None:
        for k in self.ks:
            self.best[k].append(float(bits[:k].min()))
        self.unranked.append(float(bits.mean()))
        self.own.append(own)
        self.tails.append(tail)
        self.per_symbol.append((bits.mean() - bits.min()) / tail)

    def report(self, what: str, unit: str) -> None:
        n = len(self.unranked)
        unranked, own, tails = np.array(self.unranked), np.array(self.own), np.array(self.tails)
        print(f"  well formed and the rest unchanged: {self.good}/{self.checked} candidates; "
              f"{self.failed} failed to finish")
        print(f"  CPU seconds per gap (sampling + ranking): {self.seconds / n:.2f}")
        print(f"  continuation: mean {tails.mean():.0f} {unit}s; bits on it (mean per {what}, and per {unit}):")
        print(f"    the piece's own            {own.mean():8.1f}   {own.sum() / tails.sum():.4f}")
        print(f"    unranked (mean candidate)  {unranked.mean():8.1f}   {unranked.sum() / tails.sum():.4f}")
        for k in self.ks:
            chosen = np.array(self.best[k])
            gain = unranked - chosen
            half = 1.96 * gain.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
            print(f"    best of {k:<3}                {chosen.mean():8.1f}   {chosen.sum() / tails.sum():.4f}   "
                  f"gain {gain.mean():6.2f} bits (95% CI +-{half:.2f}), chosen below the piece's own in "
                  f"{(chosen < own).mean():.0%}")
        print(f"  best of {self.ks[-1]} vs unranked, per continuation {unit}: median "
              f"{statistics.median(self.per_symbol):.4f} bits")


def run_midi(args) -> None:
    ckpt = load_checkpoint(ROOT / "models" / "midi")
    held = recorded_corpus(ckpt.meta["corpus"], "midi").held_out
    tables = Tables(ckpt.codec)
    tally = Tally(args.candidates)
    pieces = [p for p in held if midi_infill.last_onset_bar(p) >= args.midi_bars + 2]
    for index, piece in enumerate(pieces):
        rng = np.random.default_rng([args.seed, index])
        # at least one bar with a note of its own after the gap (bars after it only hold its notes)
        first = int(rng.integers(1, midi_infill.last_onset_bar(piece) - args.midi_bars + 1))
        try:
            gap = midi_infill.bar_gap(piece, fit_to_vocabulary(piece, tables), f"{first}-{first + args.midi_bars - 1}")
        except Exception as exc:  # noqa: BLE001 - a meter change inside the gap: the piece is left out, and said
            print(f"  left out: {piece.title}: {exc}")
            continue
        started = time.process_time()
        drawn = midi_infill.sample_candidates(ckpt, gap, args.candidates, MIDI.sampling,
                                              int(rng.integers(2**31)))
        fills = [d for d in drawn if d is not None]
        bits, tail = midi_infill.score(ckpt, gap, fills + [gap.original()])
        tally.seconds += time.process_time() - started
        tally.failed += len(drawn) - len(fills)
        for notes in fills:
            filled = gap.filled(notes)
            tally.checked += 1
            tally.good += text_problem(filled.text)[1] is None and gap.keeps_the_piece(filled)
        tally.add(bits[:-1], float(bits[-1]), tail)
    print(f"MIDI infill: {len(tally.unranked)} held-out chorales, a gap of {args.midi_bars} bars each, "
          f"{args.candidates} candidates, seed {args.seed}")
    tally.report("chorale", "event")
    for amount in args.amounts:
        shares, asked, seconds = [], [], 0.0
        for index, piece in enumerate(p for p in held if len(p.bar_starts) - 1 >= 3):
            started = time.process_time()
            varied = midi_infill.vary(ckpt, piece, amount, args.vary_candidates, MIDI.sampling,
                                      args.seed, index)
            seconds += time.process_time() - started
            shares.append(varied.achieved)
            asked.append(len(varied.rewritten) / varied.bars)
        print(f"MIDI vary --amount {amount}: {len(shares)} chorales, {args.vary_candidates} candidates per run: bars "
              f"changed {np.mean(shares):.1%} on average (min {min(shares):.1%}, max {max(shares):.1%}; the bars "
              f"drawn {np.mean(asked):.1%}); {seconds / len(shares):.1f} CPU s per variation")


def run_tabla(args) -> None:
    ckpt = load_checkpoint(ROOT / "models" / "tabla")
    held = [c for c in recorded_corpus(ckpt.meta["corpus"], "tabla").held_out if len(c.cycles) >= 2]
    tally = Tally(args.candidates)
    sampling = TABLA.sampling
    for index, comp in enumerate(held):
        rng = np.random.default_rng([args.seed, index])
        first = int(rng.integers(1, len(comp.cycles)))  # at least one cycle after the gap
        gap = tabla_infill.cycle_gap(comp, str(first))
        started = time.process_time()
        drawn = tabla_infill.sample_candidates(ckpt, gap, args.candidates, sampling, int(rng.integers(2**31)))
        fills = [d for d in drawn if d is not None]
        bits, tail = tabla_infill.score(ckpt, gap, fills + [gap.original()])
        tally.seconds += time.process_time() - started
        tally.failed += len(drawn) - len(fills)
        for matras in fills:
            filled = gap.filled(matras)
            reading = read_text(filled.text)[0]
            tally.checked += 1
            tally.good += (not reading.problems and reading.composition.cycles[:first - 1] == comp.cycles[:first - 1]
                           and reading.composition.cycles[first:] == comp.cycles[first:]
                           and reading.composition.landing == comp.landing)
        tally.add(bits[:-1], float(bits[-1]), tail)
    print(f"tabla infill: {len(tally.unranked)} held-out compositions of 2 or more cycles, one cycle each, "
          f"{args.candidates} candidates, seed {args.seed}")
    tally.report("composition", "symbol")
    for amount in args.amounts:
        shares, asked, seconds = [], [], 0.0
        for index, comp in enumerate(held):
            started = time.process_time()
            varied = tabla_infill.vary(ckpt, comp, amount, args.vary_candidates, sampling, args.seed, index)
            seconds += time.process_time() - started
            shares.append(varied.achieved)
            asked.append(len(varied.rewritten) / varied.cycles)
        print(f"tabla vary --amount {amount}: {len(shares)} compositions, {args.vary_candidates} candidates per run: "
              f"cycles changed {np.mean(shares):.1%} on average (min {min(shares):.1%}, max {max(shares):.1%}; the "
              f"cycles drawn {np.mean(asked):.1%}); {seconds / len(shares):.2f} CPU s per variation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("midi", "tabla", "both"), default="both")
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--midi-bars", type=int, default=2)
    parser.add_argument("--vary", default="0.1,0.3,0.5", help="amounts, comma-separated ('' skips variations)")
    parser.add_argument("--vary-candidates", type=int, default=8)
    args = parser.parse_args()
    args.amounts = [float(a) for a in args.vary.split(",") if a.strip()]
    import torch

    torch.set_num_threads(1)
    print(cpu_name())
    if args.mode in ("midi", "both"):
        run_midi(args)
    if args.mode in ("tabla", "both"):
        run_tabla(args)


if __name__ == "__main__":
    main()
