"""The surprise map's figures: how much of a corpus the note map ties to its characters, the spread of a
note's bits (which sets the colour scale), and how often a rewritten bar fits back into its tune.

    python benchmarks/surprise_map.py mapping [--corpus folk] [--first 0] [--count 4399]
    python benchmarks/surprise_map.py bits [--model DIR] [--first 100] [--count 100]
    python benchmarks/surprise_map.py bars [--model DIR] [--seed 900] [--tunes 6] [--notes 5]

`mapping` engraves each tune and maps its notes (render/notemap.py): the
share of the text's notes tied to a drawn note, and the tunes where not all
are. `bits` reads held-out tunes `first`..`first+count` of the model's own
split (the tests use others) and gives percentiles of a note's bits:
insight/surprise.py's SCALE_BITS is about the 95th. `bars` writes `tunes`
tunes, then at `notes` random notes of each writes the rest of the bar again
from the model's likeliest alternative, counting the tries (seeds) a bar
needs to fit back (web/surprise.py's BAR_TRIES).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from machine import cpu_name
from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.errors import TunesmithError


def mapping(args) -> None:
    from tunesmith.corpus.bundled import load_bundled
    from tunesmith.music.abc.positions import text_notes
    from tunesmith.render import render_svg
    from tunesmith.render.notemap import note_map

    tunes = load_bundled(args.corpus)[args.first:args.first + args.count]
    written = mapped = whole = 0
    unengraved, partial = [], []
    started = time.perf_counter()
    for tune in tunes:
        try:
            svg = render_svg(tune.text)
        except TunesmithError as exc:
            unengraved.append((tune.title, str(exc)))
            continue
        notes, links = len(text_notes(tune.text)), len(note_map(tune.text, svg))
        written, mapped, whole = written + notes, mapped + links, whole + (links == notes)
        if links != notes:
            partial.append((tune.title, links, notes))
    engraved = len(tunes) - len(unengraved)
    print(f"{args.corpus}[{args.first}:{args.first + len(tunes)}]: {engraved} tunes engraved "
          f"({len(unengraved)} not), {whole} with every note mapped; notes mapped {mapped:,} of {written:,} "
          f"({mapped / written:.4%}); {time.perf_counter() - started:.0f} s")
    for title, links, notes in partial:
        print(f"    {title}: {links} of {notes}")
    for title, why in unengraved:
        print(f"    not engraved: {title}: {why}")


def bits(args) -> None:
    from tunesmith.insight.surprise import note_surprises
    from tunesmith.insight.visualize import held_out_texts
    from tunesmith.music.abc.positions import text_notes
    from tunesmith.render.notemap import NoteLink

    ckpt = load_checkpoint(args.model)
    found, seconds = [], []
    for text in held_out_texts(ckpt, args.first + args.count)[args.first:]:
        links = [NoteLink(str(i), n) for i, n in enumerate(text_notes(text))]
        started = time.perf_counter()
        found += note_surprises(ckpt, text, links)
        seconds.append(time.perf_counter() - started)
    b = np.array([n.bits for n in found])
    checked = sum(n.checked for n in found) / len(found)
    print(f"{len(seconds)} held-out tunes ({args.first}..{args.first + len(seconds) - 1}), {len(b):,} notes: "
          f"mean {b.mean():.2f} bits, median {np.median(b):.2f}, p75 {np.percentile(b, 75):.2f}, "
          f"p90 {np.percentile(b, 90):.2f}, p95 {np.percentile(b, 95):.2f}, p99 {np.percentile(b, 99):.2f}; "
          f"alternatives checked for {checked:.1%} of notes (the rest follow text that is not well-formed)")
    print(f"reading a tune's notes and alternatives: median {np.median(seconds) * 1000:.0f} ms, "
          f"max {max(seconds) * 1000:.0f} ms (no engraving)")


def bars(args) -> None:
    from tunesmith.insight.surprise import note_surprises
    from tunesmith.modes.abc.reprime import primer_at, rest_of_bar
    from tunesmith.modes.abc.writer import generate_tunes
    from tunesmith.music.abc.positions import text_notes
    from tunesmith.render.notemap import NoteLink

    ckpt = load_checkpoint(args.model)
    rng = np.random.default_rng(args.seed)
    tries_needed: list[int | None] = []
    misfits = []
    started = time.perf_counter()
    for tune in generate_tunes(ckpt, args.tunes, seed=args.seed):
        notes = note_surprises(ckpt, tune, [NoteLink(str(i), n) for i, n in enumerate(text_notes(tune))])
        for note in rng.choice(np.array(notes, dtype=object), args.notes, replace=False):
            symbol = note.alternatives[0].symbol
            primer = primer_at(tune, note.note.start, symbol)
            first_seed = int(rng.integers(2**31))
            needed = None
            for k in range(args.tries):
                written = generate_tunes(ckpt, 1, seed=first_seed + k, primer=primer)[0]
                if rest_of_bar(tune, note.note.start, symbol, written) is not None:
                    needed = k + 1
                    break
            tries_needed.append(needed)
            if needed is None:
                bar_end = tune.find("|", note.note.start)
                misfits.append(f"{tune[note.note.start:bar_end + 1]!r} from {symbol!r} (after "
                               f"{tune[max(0, note.note.start - 12):note.note.start]!r})")
    total = len(tries_needed)
    counts = ", ".join(f"{sum(t == k for t in tries_needed)} at try {k}" for k in range(1, args.tries + 1))
    print(f"{total} bars written again ({args.tunes} tunes --seed {args.seed}, {args.notes} notes each): {counts}, "
          f"{sum(t is None for t in tries_needed)} not within {args.tries}; {time.perf_counter() - started:.0f} s")
    for misfit in misfits:
        print(f"    did not fit: {misfit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = parser.add_subparsers(dest="part", required=True)
    m = parts.add_parser("mapping")
    m.add_argument("--corpus", default="folk")
    m.add_argument("--first", type=int, default=0)
    m.add_argument("--count", type=int, default=1_000_000)
    b = parts.add_parser("bits")
    b.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    b.add_argument("--first", type=int, default=100)
    b.add_argument("--count", type=int, default=100)
    r = parts.add_parser("bars")
    r.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    r.add_argument("--seed", type=int, default=900)
    r.add_argument("--tunes", type=int, default=6)
    r.add_argument("--notes", type=int, default=5)
    r.add_argument("--tries", type=int, default=4)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}")
    {"mapping": mapping, "bits": bits, "bars": bars}[args.part](args)


if __name__ == "__main__":
    main()
