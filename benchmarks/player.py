"""The practice player's figures: what `POST /api/player` gives for corpus tunes, and how long it takes.

    python benchmarks/player.py [--corpus folk] [--every 20] [--transpose 0 2 -5]

For every `every`-th tune of the corpus, in each key asked: the tune moved
(`in_key`), engraved (`render_svg`) and its plan worked out
(`render.practice.practice_plan`), as the endpoint does. Reported: tunes
that play, the share of their notes the cursor finds on the score (a note
with no drawn note is played but not lit), where the chords come from
(the tune's symbols, harmonised, none) and the patterns, and the median and
90th percentile of the seconds for the engraving and for the plan.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from machine import cpu_name
from tunesmith.errors import TunesmithError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="folk")
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--transpose", type=int, nargs="+", default=[0, 2, -5])
    args = parser.parse_args()

    from tunesmith.corpus.bundled import load_bundled
    from tunesmith.render import render_svg
    from tunesmith.render.files import in_key
    from tunesmith.render.practice import practice_plan
    from tunesmith.render.tune import check_tune

    print(f"CPU: {cpu_name()}")
    tunes = load_bundled(args.corpus)[::args.every]
    for semitones in args.transpose:
        played, refused, notes, lit, whole = 0, Counter(), 0, 0, 0
        sources, patterns = Counter(), Counter()
        engrave, plan = [], []
        for tune in tunes:
            try:
                text = in_key(tune.text, semitones)
                parts = check_tune(text)  # as the endpoint reads it: within the MIDI file's limits
                started = time.perf_counter()
                svg = render_svg(text)
                engraved = time.perf_counter()
                found = practice_plan(text, svg, parts)
                planned = time.perf_counter()
            except TunesmithError as exc:
                refused[str(exc).split(":")[0][:60]] += 1
                continue
            engrave.append(engraved - started)
            plan.append(planned - engraved)
            played += 1
            ids = sum(n["id"] is not None for n in found["notes"])
            notes, lit, whole = notes + len(found["notes"]), lit + ids, whole + (ids == len(found["notes"]))
            sources[found["chords_from"].split(":")[0]] += 1
            patterns[found["pattern"]] += 1
        print(f"{args.corpus}[::{args.every}] transposed {semitones:+d}: {played} of {len(tunes)} tunes play "
              f"(refused: {dict(refused) or 'none'}); cursor finds {lit:,} of {notes:,} notes "
              f"({lit / max(notes, 1):.3%}), every note in {whole} tunes; chords {dict(sources)}, "
              f"patterns {dict(patterns)}")
        for name, seconds in (("engraving", engrave), ("plan", plan)):
            print(f"    {name}: median {np.median(seconds) * 1000:.0f} ms, "
                  f"90th percentile {np.percentile(seconds, 90) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
