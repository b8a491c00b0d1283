"""Fuzzed ABC input, and the real CLI run on it under a memory limit: shared by the fuzz test and its benchmark.

`fuzz_input(rng, tunes)` draws one input file (bytes) from a family chosen
by `rng`: a real tune mutated, random bytes, absurd note and rest lengths,
tempos, unit lengths and meters, tuplets, ties, broken rhythm, repeats,
chords, many distinct denominators, and long single lines. `run_cli` runs
`python -m tunesmith.cli ARGS` in a process of its own under an
address-space limit (RLIMIT_AS) and a time limit, and says how it ended,
how long it took and its peak memory.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GIB = 1 << 30
ADDRESS_SPACE = 2 * GIB
# Characters that mean something in an ABC body: lengths, tuplets, ties, chords, bars, repeats, rests.
ABC_ALPHABET = "ABCDEFGabcdefgzxZX,'^_=0123456789/()-<>[]|:.~\"{} \n"
HEADERS = ("X:1\n", "T:fuzz\n", "M:4/4\n", "L:1/8\n", "K:C\n")


def _number(rng: random.Random) -> str:
    """A number of 1 to 25 digits: most lexers cap lengths, a few digits more must not matter."""
    return str(rng.choice([0, 1, 2, 9, 16, 99, 999, 65535, 999999, 10**rng.randint(6, 24) - rng.randint(0, 9)]))


def _absurd_length(rng: random.Random) -> str:
    note = rng.choice(["C", "c", "z", "x", "Z", "X", "[CEG]", "^c'", "_B,,"])
    kind = rng.randrange(5)
    if kind == 0:
        return note + _number(rng)
    if kind == 1:
        return note + "/" * rng.randint(1, 300)
    if kind == 2:
        return note + _number(rng) + "/" + _number(rng)
    if kind == 3:
        return note + "2" * rng.randint(5, 400)
    return note + _number(rng) + "/" * rng.randint(0, 3)


def _absurd_field(rng: random.Random) -> str:
    return rng.choice([
        f"Q:1/4={rng.choice(['0.0001', '0', '9999', '1', '2', '0.5', '1e9', '-5', 'fast'])}",
        f"Q:{_number(rng)}/{_number(rng)}={_number(rng)}",
        f"Q:{rng.randint(1, 9999)}",
        f"L:1/{rng.choice(['0', '1', '999999', '3', _number(rng)])}",
        f"L:{_number(rng)}/1",
        f"M:{rng.choice(['0/0', '999999/1', '1/999999', 'C|', '3+2+3/8', 'none', _number(rng) + '/4'])}",
        f"K:{rng.choice(['', 'C', 'Hp', 'Zz', 'C# locrian', 'none'])}",
    ])


def _figure(rng: random.Random) -> str:
    """One absurd or tricky piece of music."""
    kind = rng.randrange(9)
    if kind == 0:
        return _absurd_length(rng)
    if kind == 1:  # tuplets of absurd sizes
        return f"({_number(rng)}:{_number(rng)}:{rng.randint(0, 9)}" + "CDE" * rng.randint(1, 4)
    if kind == 2:  # tie chains, across bars and chords
        return "-".join(rng.choice(["C8", "C", "[CE]4", "C999", "|C"]) for _ in range(rng.randint(2, 60)))
    if kind == 3:  # broken rhythm of any depth
        return "C" + rng.choice("<>") * rng.randint(1, 50) + "D"
    if kind == 4:  # repeats and endings
        return rng.choice(["|:", ":|", "::", "|1", "[2", ":|2", "|]", "[1,3-5"]) + "CDEF"
    if kind == 5:  # multi-measure rests
        return "Z" + _number(rng)
    if kind == 6:  # many distinct denominators: exact time sums grow
        return " ".join(f"c/{rng.randrange(900_000, 999_999)}" for _ in range(rng.randint(10, 400)))
    if kind == 7:  # inline fields in the body
        return f"[{_absurd_field(rng)}]"
    return rng.choice(["C16", "z8", "[CEGc]2", "{g}A", '"Am"A', "!trill!c", "y", "&", "\\\n"])


def _mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 30)):
        op = rng.randrange(6)
        at = rng.randint(0, len(chars))
        if op == 0 and chars:
            del chars[min(at, len(chars) - 1)]
        elif op == 1:
            chars.insert(at, rng.choice(ABC_ALPHABET))
        elif op == 2:
            chars[at:at] = list(_figure(rng))
        elif op == 3 and chars:  # a slice repeated
            end = min(len(chars), at + rng.randint(1, 80))
            chars[at:at] = chars[at:end] * rng.randint(1, 20)
        elif op == 4:
            chars[at:at] = list("\n" + _absurd_field(rng) + "\n")
        elif chars:
            chars[min(at, len(chars) - 1)] = rng.choice(ABC_ALPHABET)
    return "".join(chars)


FAMILIES = ("mutated", "bytes", "characters", "absurd", "absurd", "absurd", "several", "long line")


def fuzz_input(rng: random.Random, tunes: list[str], family: int | None = None) -> bytes:
    """One fuzzed input file of FAMILIES[family] (default: drawn by `rng`); `tunes`: real tunes' texts to mutate."""
    family = rng.randrange(len(FAMILIES)) if family is None else family
    if family == 0:  # a real tune, mutated
        return _mutate(rng.choice(tunes), rng).encode()
    if family == 1:  # random bytes, with or without a tune's header before them
        noise = bytes(rng.randrange(256) for _ in range(rng.randint(0, 3000)))
        return (b"X:1\nK:C\n" if rng.random() < 0.5 else b"") + noise
    if family == 2:  # random ABC characters after a header
        return ("".join(HEADERS) + "".join(rng.choice(ABC_ALPHABET) for _ in range(rng.randint(1, 3000)))).encode()
    if family in (3, 4, 5):  # a header with absurd fields, then absurd figures
        header = list(HEADERS)
        for _ in range(rng.randint(0, 3)):
            header.insert(rng.randint(1, 4), _absurd_field(rng) + "\n")
        body = " ".join(_figure(rng) for _ in range(rng.randint(1, 12)))
        return ("".join(header) + body + "|\n").encode()
    if family == 6:  # several tunes in a file, some mutated
        parts = [rng.choice(tunes) if rng.random() < 0.5 else _mutate(rng.choice(tunes), rng)
                 for _ in range(rng.randint(2, 5))]
        return "\n".join(parts).encode()
    # one long single line: a real tune's body repeated, or figures
    body = rng.choice(tunes).split("K:", 1)[-1].split("\n", 1)[-1].replace("\n", " ") or "CDEF|"
    size = rng.choice([20_000, 60_000, 120_000, 300_000])
    return ("".join(HEADERS) + (body * (size // len(body) + 1))[:size] + "\n").encode()


@dataclass
class Run:
    """How one CLI process ended."""

    rc: int              # exit status; negative: killed by that signal (e.g. -9 for the time limit)
    stderr: str
    seconds: float
    max_rss_mb: float    # the process's peak resident memory (its reaped children, e.g. verovio's, included)
    timed_out: bool


def _limit_memory(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_cli(args: list[str], cwd: str, timeout: float, limit: int = ADDRESS_SPACE, env: dict | None = None) -> Run:
    """`python -m tunesmith.cli ARGS` in `cwd` under an address-space `limit` and a `timeout` (then killed)."""
    import tunesmith  # the same source as this process runs, wherever the child starts

    source = str(Path(tunesmith.__file__).resolve().parents[1])
    path = os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])
    environ = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tunesmith.cli", *args], cwd=cwd, env=environ,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: _limit_memory(limit), start_new_session=True)
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stderr.read()))
    reader.start()
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        os.killpg(proc.pid, signal.SIGKILL)  # its verovio worker too

    timer = threading.Timer(timeout, kill)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)  # wait4, not Popen.wait: the process's own peak memory
    seconds = time.perf_counter() - start
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if timed_out.is_set() or proc.returncode < 0:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # a worker left behind by a killed process
    reader.join()
    proc.stderr.close()
    return Run(proc.returncode, b"".join(chunks).decode("utf-8", "replace"), seconds, usage.ru_maxrss / 1024,
               timed_out.is_set())
