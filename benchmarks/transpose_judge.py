"""Transposition judged by abc2midi over a whole corpus (docs/augmentation.md).

For every tune whose keys can move and each k in MOVES, abc2midi's melody
(first MIDI channel, read with mido) of the moved tune must be the
original's with every note exactly +k. Prints the pass rate and the tunes
that fail.

    PYTHONPATH=src python benchmarks/transpose_judge.py [--corpus folk] [--every 1]
"""

from __future__ import annotations

import argparse
import time


from tunesmith.corpus.load import load_corpus
from tunesmith.music.abc.transpose import NotTransposable, transpose_tune
from tunesmith.insight.abc2midi import melody as midi_melody

MOVES = (-5, -2, 2, 5, 7)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="folk")
    parser.add_argument("--every", type=int, default=1, help="judge every N-th tune")
    args = parser.parse_args()
    tunes = load_corpus([args.corpus], None, "abc").tunes[:: args.every]
    start, judged, refused, failed = time.time(), 0, 0, []
    for tune in tunes:
        base = midi_melody(tune.text)
        for k in MOVES:
            try:
                moved = transpose_tune(tune.text, k)
            except NotTransposable:
                refused += 1
                break
            judged += 1
            if midi_melody(moved) != [p + k for p in base]:
                failed.append((tune.number, tune.title, k))
    print(f"{len(tunes)} tunes, {refused} refused (no key), {judged} transpositions: "
          f"{judged - len(failed)} pass ({(judged - len(failed)) / max(judged, 1):.2%}); {time.time() - start:.0f} s")
    for number, title, k in failed:
        print(f"  X:{number} {title}: {k:+d}")


if __name__ == "__main__":
    main()
