"""The search behind a mode's default sampling: fidelity to real tunes over a grid of settings.

    python benchmarks/defaults_search.py [--seeds 1111,2222] [-n 200] [--temperatures 0.9,1.0,1.1]
                                         [--top-p 0.8,0.9,0.95,1.0] [--abc2midi] [--markdown]

For every (temperature, top-p) pair, generates n tunes per seed with the
shipped ABC model (as `tunesmith generate --temperature T --top-p P --seed S`
does) and measures them against the model's real held-out tunes with
`modes.abc.fidelity`: the histogram overlaps (meter, key, unit length,
length in bars, pitch range, interval; their mean and least), the form
figures (repeated bars and 2-bar runs, two or more repeat closes, ending on
the tonic, tunes of 40+ bars, junk) and, with --abc2midi, abc2midi's pass
rate. The figures are averaged over the seeds. Choose the seeds apart from
those the tests use and from those you report the chosen default on: a
default chosen on the seeds it is reported on flatters it.
"""

from __future__ import annotations

import argparse
import statistics

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.load import load_corpus
from tunesmith.modes import GenerateRequest, get_mode
from tunesmith.modes.abc.fidelity import overlaps, summary, tune_form
from tunesmith.options import Sampling

FORM = ("repeated_bars", "repeated_pairs", "two_repeats", "ends_on_tonic", "long_tunes", "junk")


def measure(ckpt, real, n: int, seed: int, sampling: Sampling, judge: bool) -> dict[str, float]:
    """The fidelity figures of n tunes written with `sampling`."""
    tunes = get_mode("abc").write(ckpt, GenerateRequest(n=n, seed=seed, sampling=sampling))
    texts = [t if isinstance(t, str) else t.text for t in tunes]
    mine = [tune_form(t) for t in texts]
    hist = {k: v for k, v in overlaps(mine, real).items() if v is not None}
    out = {f"overlap {k}": v for k, v in hist.items()}
    out["overlap mean"] = statistics.fmean(hist.values())
    out["overlap least"] = min(hist.values())
    out |= {k: v for k, v in summary(mine).items() if k in FORM}
    if judge:
        from tunesmith.insight.abc2midi import pass_rate

        out["abc2midi"] = pass_rate(texts)[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="1111,2222")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--temperatures", default="0.9,1.0,1.1")
    parser.add_argument("--top-p", default="0.8,0.9,0.95,1.0")
    parser.add_argument("--abc2midi", action="store_true", help="also abc2midi's pass rate (slower)")
    parser.add_argument("--markdown", action="store_true", help="print a table for docs/")
    args = parser.parse_args()
    ckpt = load_checkpoint(DEFAULT_MODEL)
    corpus = ckpt.meta["corpus"]
    real = [tune_form(t.text) for t in load_corpus(corpus["sources"], corpus.get("limit"), "abc").held_out]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for temperature in (float(t) for t in args.temperatures.split(",")):
        for top_p in (float(p) for p in args.top_p.split(",")):
            sampling = Sampling(temperature=temperature, top_p=top_p)
            runs = [measure(ckpt, real, args.n, seed, sampling, args.abc2midi) for seed in seeds]
            figures = {k: statistics.fmean(r[k] for r in runs) for k in runs[0]}
            rows.append((temperature, top_p, figures))
            print(f"T={temperature:<4} top-p={top_p:<5} " + " ".join(f"{k}={v:.3f}" for k, v in figures.items()),
                  flush=True)
    if args.markdown:
        keys = ["overlap mean", "overlap least", "overlap interval", "overlap pitch range", "overlap key",
                "repeated_bars", "repeated_pairs", "two_repeats", "ends_on_tonic", "long_tunes", "junk"]
        keys += ["abc2midi"] if args.abc2midi else []
        print("\n| temperature | top-p | " + " | ".join(keys) + " |")
        print("|---|---|" + "---:|" * len(keys))
        for temperature, top_p, figures in rows:
            print(f"| {temperature} | {top_p} | " + " | ".join(f"{figures[k]:.3f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
