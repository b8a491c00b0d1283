"""`tunesmith check` and `tunesmith render --to midi,wav,svg` on fuzzed input, each a process of its own under a
2 GB address-space limit: they end with exit 0, 1 or 2, never a traceback, within a time bound, and a refused
render leaves no file.

The inputs (`fuzz_tunes.py`): real tunes mutated, random bytes, absurd lengths, tempos, tuplets, ties, rests,
repeats and long single lines. Hypothesis draws them from a fixed seed (`derandomize`), a few per family so
that every family is run; `benchmarks/fuzz_render.py` runs many more and prints the figures.
"""

from __future__ import annotations

import random
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_tunes import FAMILIES, fuzz_input, run_cli
from tunesmith.corpus.bundled import load_bundled

TIMEOUT = 90          # seconds a process may take before it is killed (and the test fails)
BOUND = 30            # seconds a process should take at most, on a slow shared CI machine
EXAMPLES = 3          # per family


@pytest.fixture(scope="module")
def tunes() -> list[str]:
    return [t.text for t in load_bundled("folk")[::20]]


def assert_clean(run, what: str) -> None:
    assert not run.timed_out, f"{what}: killed after {TIMEOUT} s"
    assert run.rc in (0, 1, 2), f"{what}: exit {run.rc}\n{run.stderr[-3000:]}"
    assert "Traceback" not in run.stderr, f"{what}:\n{run.stderr[-3000:]}"
    assert run.seconds < BOUND, f"{what}: {run.seconds:.1f} s"


@pytest.mark.parametrize("family", range(len(FAMILIES)), ids=[f"{i}-{f}" for i, f in enumerate(FAMILIES)])
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False))
def test_check_and_render_end_cleanly_on_fuzzed_input(tunes, family, rng: random.Random):
    data = fuzz_input(rng, tunes, family)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.abc"
        path.write_bytes(data)
        out = Path(folder) / "out"
        commands = {"check": ["check", str(path)],
                    "render": ["render", str(path), "--to", "midi,wav,svg", "-o", str(out)]}
        with ThreadPoolExecutor(2) as pool:  # the two commands side by side: the test's time halves on 2 cores
            runs = dict(zip(commands, pool.map(lambda args: run_cli(args, folder, TIMEOUT), commands.values())))
        what = f"{FAMILIES[family]} input of {len(data)} bytes, starting {data[:120]!r}"
        for name, run in runs.items():
            assert_clean(run, f"{name} on {what}")
        written = sorted(p.name for p in out.iterdir()) if out.exists() else []
        assert not [n for n in written if n.startswith(".")], f"temporary files left: {written}"
        if runs["render"].rc == 2:
            assert written == [], f"render refused ({runs['render'].stderr.strip()}) but wrote {written}"
