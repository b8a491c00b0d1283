"""CPU time of `tunesmith generate` in two source trees, alternating, on the same seeds: a refactor's cost.

    python benchmarks/compare_trees.py --base /path/to/old/src --new src [--reps 5]

Each repetition runs each tree once per mode (abc: 64 tunes; midi: 16 pieces
of 8 bars; tabla: 32 compositions) in a fresh process, the trees' order
alternating, and sums the process's user and system CPU seconds. Prints the
median per tree and their ratio (new / base): under 1.05 is within the noise
of a shared machine. For a move that must not change the music, compare the
outputs too (tests/test_golden.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys

CASES = {"abc": "-n 64 --seed 40{}", "midi": "--mode midi -n 16 --bars 8 --seed 50{}",
         "tabla": "--mode tabla -n 32 --seed 60{}"}


def cpu_seconds(src: str, args: str) -> float:
    """User + system CPU seconds of one `tunesmith generate ARGS` run with `src` first on the path."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "tunesmith.cli", "generate", *args.split()],
                   env={**os.environ, "PYTHONPATH": src}, stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="the old tree's src folder")
    parser.add_argument("--new", required=True, help="the new tree's src folder")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    trees = {"base": os.path.abspath(args.base), "new": os.path.abspath(args.new)}
    seconds = {(t, c): [] for t in trees for c in CASES}
    for rep in range(1, args.reps + 1):
        for tree in ("base", "new") if rep % 2 else ("new", "base"):
            for case, line in CASES.items():
                seconds[tree, case].append(cpu_seconds(trees[tree], line.format(rep)))
    for case in CASES:
        base, new = statistics.median(seconds["base", case]), statistics.median(seconds["new", case])
        print(f"{case}: base {base:.2f} s, new {new:.2f} s, new/base {new / base:.3f}")


if __name__ == "__main__":
    main()
