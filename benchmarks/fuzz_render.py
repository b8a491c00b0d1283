"""Fuzzed ABC through `tunesmith check` and `tunesmith render`, and memory at the render limits, CLI and web.

    python benchmarks/fuzz_render.py [--cases 200] [--seed 0] [--jobs 2]

1. The issue's tunes, each rendered to MIDI, WAV and SVG by the real command
   under a 2 GB address-space limit: exit status, time, peak memory.
2. `--cases` fuzzed inputs (tests/fuzz_tunes.py: real tunes mutated, random
   bytes, absurd lengths, tempos, tuplets, ties, rests, repeats, several
   tunes, long single lines), each through `tunesmith check` and
   `tunesmith render --to midi,wav,svg`, every run a process of its own under
   the same limit and a 120 s timeout: exit statuses, tracebacks, time and
   peak memory, the worst case of each. An input that fails (exit other
   than 0/1/2, a traceback, the timeout) is kept in out/fuzz-failures/.
3. The slowest renders the limits let through (50,000 notes to MIDI and
   WAV, 20,000 characters to sheet music, chords of many lengths to WAV),
   and tunes just past them.
4. The heaviest render the limits allow (a tune of exactly 20 minutes, to
   WAV) by the command, and by `tunesmith serve` with the issue's request
   before it: the server's peak resident memory (VmHWM) after each request.

Figures go to stdout as Markdown, for docs/robustness.md.
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fuzz_tunes import ADDRESS_SPACE, FAMILIES, fuzz_input, run_cli  # noqa: E402

from tunesmith.corpus.bundled import load_bundled  # noqa: E402
from tunesmith.render.limits import RenderLimits  # noqa: E402

TIMEOUT = 120
ISSUE = {
    "C16 at L:1/1, Q:1/4=2": "X:1\nT:long\nM:4/4\nL:1/1\nQ:1/4=2\nK:C\nC16|\n",
    "C and 400 nines": "X:1\nT:nines\nK:C\nC" + "9" * 400 + "\n",
    "rest z222222": "X:1\nT:rest\nL:1/8\nK:C\nz222222 C|\n",
    "c2222222222222222222": "X:1\nT:twos\nK:C\nc2222222222222222222\n",
    "Q:1/4=0.0001": "X:1\nT:slow\nQ:1/4=0.0001\nK:C\nCDEF|\n",
    "500 KB single line": None,  # made from a real tune below
}


def limit_tune(seconds: int) -> str:
    """A tune of `seconds` quarter notes at 60 a minute: it lasts exactly that long."""
    return "X:1\nT:limit\nL:1/4\nQ:1/4=60\nK:C\n" + " ".join("CDEFGAB"[i % 7] for i in range(seconds)) + "|\n"


def issue_runs(folder: Path, tunes: list[str]) -> None:
    body = tunes[0].split("K:", 1)[1].split("\n", 1)[1].replace("\n", " ")
    ISSUE["500 KB single line"] = "X:1\nT:big\nM:4/4\nL:1/8\nK:D\n" + (body * (500_000 // len(body) + 1))[:500_000]
    print("## The issue's tunes: `tunesmith render FILE --to midi,wav,svg`, 2 GB address space\n")
    print("| tune | exit | time | peak RSS | message |")
    print("|---|---|---|---|---|")
    for name, text in ISSUE.items():
        path = folder / "issue.abc"
        path.write_text(text + "\n")
        run = run_cli(["render", str(path), "--to", "midi,wav,svg", "-o", str(folder / "issue-out")], str(folder),
                      TIMEOUT)
        message = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else ""
        print(f"| {name} | {run.rc} | {run.seconds:.2f} s | {run.max_rss_mb:.0f} MB | {message[:150]} |")
    print()


def one_case(index: int, data: bytes, folder: Path) -> dict:
    """check and render of one input, each its own process: their Runs, and whether a refusal left files."""
    case = folder / f"case-{index}"
    case.mkdir()
    path = case / "fuzz.abc"
    path.write_bytes(data)
    runs = {"check": run_cli(["check", str(path)], str(case), TIMEOUT),
            "render": run_cli(["render", str(path), "--to", "midi,wav,svg", "-o", str(case / "out")], str(case),
                              TIMEOUT)}
    left = runs["render"].rc == 2 and (case / "out").exists() and any((case / "out").iterdir())
    shutil.rmtree(case, ignore_errors=True)
    return {"runs": runs, "left files on a refusal": left}


def fuzz_runs(folder: Path, tunes: list[str], cases: int, seed: int, jobs: int) -> None:
    rng = random.Random(seed)
    inputs = []
    for _ in range(cases):
        family = rng.randrange(len(FAMILIES))
        inputs.append((FAMILIES[family], fuzz_input(rng, tunes, family)))
    start = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda item: one_case(item[0], item[1][1], folder), enumerate(inputs)))
    wall = time.perf_counter() - start
    codes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    worst_time: dict[str, tuple[float, int]] = {}
    worst_rss: dict[str, tuple[float, int]] = {}
    bad = []
    for index, result in enumerate(results):
        for name, run in result["runs"].items():
            codes[name][run.rc] += 1
            if run.seconds > worst_time.get(name, (0.0, 0))[0]:
                worst_time[name] = (run.seconds, index)
            if run.max_rss_mb > worst_rss.get(name, (0.0, 0))[0]:
                worst_rss[name] = (run.max_rss_mb, index)
            if run.rc not in (0, 1, 2) or "Traceback" in run.stderr or run.timed_out:
                bad.append((index, name, run))
        if result["left files on a refusal"]:
            bad.append((index, "render left files on a refusal", result["runs"]["render"]))
    sizes = [len(data) for _, data in inputs]
    families = collections.Counter(family for family, _ in inputs)
    print(f"## Fuzz: {cases} inputs (seed {seed}), each through check and render, "
          f"{ADDRESS_SPACE >> 30} GB address space, {TIMEOUT} s timeout\n")
    print(f"Inputs of {min(sizes)} to {max(sizes)} bytes: " + ", ".join(f"{n} {f}" for f, n in families.items())
          + f"; {jobs} processes at a time, {wall:.0f} s in all.\n")
    print("| command | runs | exit 0 | exit 1 | exit 2 | other | worst time | worst peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("check", "render"):
        c = codes[name]
        other = sum(v for k, v in c.items() if k not in (0, 1, 2))
        (t, ti), (m, mi) = worst_time[name], worst_rss[name]
        print(f"| {name} | {sum(c.values())} | {c[0]} | {c[1]} | {c[2]} | {other} | {t:.2f} s ({inputs[ti][0]}, "
              f"{sizes[ti]} bytes) | {m:.0f} MB ({inputs[mi][0]}, {sizes[mi]} bytes) |")
    print(f"\nFailures (exit not 0/1/2, traceback, timeout, files left on a refusal): {len(bad)}\n")
    if bad:
        failures = ROOT / "out" / "fuzz-failures"
        failures.mkdir(parents=True, exist_ok=True)
        for index, name, run in bad:
            (failures / f"input-{seed}-{index}.abc").write_bytes(inputs[index][1])
            print(f"- input {index} ({name}): exit {run.rc}, {run.seconds:.1f} s: {run.stderr.strip()[-300:]}")
        print(f"\nkept in {failures}\n")


def edge_runs(folder: Path, tunes: list[str]) -> None:
    """The slowest inputs the limits let through, and the ones just past them."""
    limits = RenderLimits.from_env()
    rng = random.Random(1)
    notes = "".join(rng.choice("CDEFGABcdefgab") for _ in range(limits.max_events - 10))
    dense = "X:1\nT:dense\nL:1/16\nQ:1/4=2000\nK:C\n" + "\n".join(notes[i:i + 64] for i in range(0, len(notes), 64))
    body = "".join(t.split("K:", 1)[1].split("\n", 1)[1] for t in tunes[:200]).replace("\n", " ")
    engraved = "X:1\nT:engraved\nM:4/4\nL:1/8\nK:D\n" + body[: limits.max_svg_chars - 40]
    primes = [p for p in range(100_000, 1_000_000) if all(p % d for d in range(2, 1000))][:11_000]
    odd = "X:1\nT:odd\nL:1/8\nK:C\n" + " ".join(f"c/{p}" for p in primes)
    chord = "[C,D,E,F,G,A,B,CDEFGABcdefgab]"  # 21 notes
    lengths = int(limits.max_voice_seconds // (21 * 14.6))  # chords of about 14.5 s, each of another length
    chords = "X:1\nT:chords\nL:1/64\nQ:1/4=60\nK:C\n" + " ".join(f"{chord}{200 + k}" for k in range(lengths))
    too_many = "X:1\nT:chords\nL:1/64\nQ:1/4=60\nK:C\n" + " ".join(f"{chord}{200 + k}" for k in range(80))
    cases = [
        (f"{limits.max_events - 10} notes in {len(dense) // 1000} KB at 2000 qpm", dense, "midi"),
        ("the same", dense, "wav"),
        (f"{len(engraved)} characters of real tunes", engraved, "svg"),
        (f"{len(primes)} notes of distinct odd lengths ({len(odd) // 1000} KB)", odd, "midi"),
        (f"21-note chords of {lengths} lengths (just under {limits.max_voice_seconds:.0f} s of notes added up)",
         chords, "wav"),
        ("21-note chords of 80 lengths (25,000 s of notes added up; 154 s to render before the limit)", too_many,
         "wav"),
    ]
    print("## At the edges of the limits\n")
    print("| input | render | exit | time | peak RSS | message |")
    print("|---|---|---|---|---|---|")
    for name, text, kind in cases:
        path = folder / "edge.abc"
        path.write_text(text + "|\n")
        run = run_cli(["render", str(path), "--to", kind, "-o", str(folder / "edge-out")], str(folder), 300)
        message = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else ""
        print(f"| {name} | {kind} | {run.rc} | {run.seconds:.1f} s | {run.max_rss_mb:.0f} MB | {message[-110:]} |")
    print()


def heaviest_cli(folder: Path) -> None:
    limits = RenderLimits.from_env()
    seconds = int(limits.max_seconds)
    path = folder / "limit.abc"
    path.write_text(limit_tune(seconds))
    run = run_cli(["render", str(path), "--to", "wav", "-o", str(folder / "limit-out")], str(folder), 300)
    size = sum(p.stat().st_size for p in (folder / "limit-out").glob("*.wav")) if run.rc == 0 else 0
    print("## The heaviest render the limits allow\n")
    print("| what | exit | time | peak RSS | WAV |")
    print("|---|---|---|---|---|")
    print(f"| CLI: a tune of exactly {seconds} s to WAV | {run.rc} | {run.seconds:.1f} s | {run.max_rss_mb:.0f} MB "
          f"| {size / 1e6:.0f} MB |")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _request(base: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def heaviest_web(folder: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tunesmith.cli", "serve", "--port", str(port),
                             "--db", str(folder / "tunes.db"), "--models-dir", str(folder / "no-runs")],
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _request(base, "/api/models")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("tunesmith serve did not start")
                time.sleep(0.2)
        print(f"| server started, /api/models answered | - | - | {_peak_rss_mb(proc.pid):.0f} MB | - |")
        seconds = int(RenderLimits.from_env().max_seconds)
        for name, abc, kinds in (("the issue's tune", ISSUE["C16 at L:1/1, Q:1/4=2"], ("wav", "mid")),
                                 (f"a tune of exactly {seconds} s", limit_tune(seconds), ("mid", "wav"))):
            status, body = _request(base, "/api/tunes", {"abc": abc})
            tune = json.loads(body)["id"]
            for kind in kinds:
                start = time.perf_counter()
                status, body = _request(base, f"/api/tunes/{tune}.{kind}")
                took = time.perf_counter() - start
                detail = json.loads(body)["detail"][:80] if status >= 400 else f"{len(body) / 1e6:.1f} MB"
                print(f"| web: GET {kind} of {name} | {status} | {took:.1f} s | {_peak_rss_mb(proc.pid):.0f} MB "
                      f"| {detail} |")
    finally:
        proc.terminate()
        proc.wait()
    print("\n(peak RSS of the server: its VmHWM after each request, the highest so far)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"# Fuzz and limits, {time.strftime('%Y-%m-%d')}, {cpu}, Python {platform.python_version()}\n")
    print(f"Command: `python benchmarks/fuzz_render.py --cases {args.cases} --seed {args.seed} --jobs {args.jobs}`; "
          f"address space {ADDRESS_SPACE >> 30} GB; limits {RenderLimits.from_env()}\n")
    tunes = [t.text for t in load_bundled("folk")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        issue_runs(folder, tunes)
        fuzz_runs(folder, tunes[::7], args.cases, args.seed, args.jobs)
        edge_runs(folder, tunes)
        heaviest_cli(folder)
        heaviest_web(folder)


if __name__ == "__main__":
    main()
