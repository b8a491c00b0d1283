"""The originality guard (--max-copy-bars): copies prevented, well-formedness kept, and what it costs.

    python benchmarks/originality.py [-n 200] [--seed 41] [--limits 3,2,1] [--model DIR] [--repeats 2]

For each setting (the defaults, temperature 0.5, --argmax) it writes n
tunes with the guard off (--max-copy-bars 0) and on (each of --limits; 3 is
the default), the same seed and options otherwise, and reports

- how many tunes share more than N bars in a row with one training tune
  (read afterwards from the finished text by the index, the reading
  `generate --json` reports): with the guard off that is the share that
  would have copied; with it on it must be 0;
- how many tunes `tunesmith check` and abc2midi find problems in (the
  well-formed guarantee; abc2midi when installed);
- how many tunes the guard changed (a tune it never had to steer is the
  same tune, the same seed drawing the same symbols);
- the sampling's CPU seconds (this process's, so other work on a shared
  machine counts less than in wall time), best of `repeats` runs taken in
  turns with the guard off and on, and the ratio on/off (the target at the
  default: at most 1.2).

The index is loaded before any timing (its own load time is printed).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from machine import cpu_name  # benchmarks/machine.py

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.insight.abc2midi import available, judge
from tunesmith.modes import GenerateRequest, get_mode
from tunesmith.modes.abc.options import Style
from tunesmith.modes.abc.originality import index_for
from tunesmith.music.abc.check import check_tune
from tunesmith.options import Sampling

SETTINGS = {"defaults (temperature 1.0, top-p 0.95)": Sampling(),
            "temperature 0.5": Sampling(temperature=0.5),
            "--argmax": Sampling(argmax=True)}


def timed_writes(ckpt, n: int, seed: int, sampling: Sampling, limits: list[int],
                 repeats: int) -> dict[int, tuple[list[str], float]]:
    """Per limit (0: the guard off), the tunes and the least CPU seconds of `repeats` runs, the limits taking
    turns within each repeat, so that a change in the machine's load falls on all of them alike."""
    mode, found = get_mode("abc"), {}
    for _ in range(repeats):
        for limit in limits:
            start = time.process_time()
            tunes = mode.write(ckpt, GenerateRequest(n=n, seed=seed, sampling=sampling,
                                                     options=Style(max_copy_bars=limit)))
            seconds = time.process_time() - start
            found[limit] = (tunes, min(seconds, found.get(limit, (None, float("inf")))[1]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=41)
    parser.add_argument("--limits", default="3,2,1", help="the --max-copy-bars values to run with the guard on")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    limits = [int(x) for x in args.limits.split(",")]
    ckpt = load_checkpoint(args.model)
    start = time.process_time()
    index = index_for(ckpt)
    loaded = time.process_time() - start
    tables = []
    for limit in limits:  # what follows each run of N bars: made at a process's first bar line under N
        start = time.process_time()
        index.forbidden([0] * limit, limit)
        tables.append(f"{limit}: {time.process_time() - start:.2f}")
    print(f"{cpu_name()}; model {ckpt.path}; index of {len(index.tunes)} training tunes, {len(index.bars)} "
          f"distinct bars; once per process, CPU s: read {loaded:.2f}, table for N {', '.join(tables)}")
    print(f"-n {args.n} --seed {args.seed}; CPU seconds, best of {args.repeats}\n")
    print("| setting | N | copied > N, guard off | copied > N, guard on | longest run on | tunes the guard changed "
          "| check / abc2midi problems on | CPU s off | CPU s on | on / off |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, sampling in SETTINGS.items():
        found = timed_writes(ckpt, args.n, args.seed, sampling, [0] + limits, args.repeats)
        off, off_s = found[0]
        runs_off = [index.longest_copy(t).bars for t in off]
        for limit in limits:
            on, on_s = found[limit]
            runs_on = [index.longest_copy(t).bars for t in on]
            copied_off = sum(r > limit for r in runs_off)
            copied_on = sum(r > limit for r in runs_on)
            changed = sum(a != b for a, b in zip(off, on))
            checked = sum(bool(check_tune(t)) for t in on)
            judged = sum(not judge(t).ok for t in on) if available() else "n/a"
            print(f"| {name} | {limit} | {copied_off}/{args.n} ({copied_off / args.n:.1%}) | {copied_on}/{args.n} | "
                  f"{max(runs_on)} | {changed} | {checked} / {judged} | {off_s:.1f} | {on_s:.1f} | "
                  f"{on_s / off_s:.2f} |", flush=True)


if __name__ == "__main__":
    main()
