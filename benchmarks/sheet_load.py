"""Renders that hang verovio, sent at once, against the requests beside them: what they delay, and by how much.

    python benchmarks/sheet_load.py [--deadline 15]

The web app runs in its own process (a temporary database, the shipped
model, the default limits but for the render deadline), as `tunesmith
serve` runs it. Each scenario sends N renders of tunes that hang verovio at
once, and while they hang times a normal render (`/api/render`), a
`/api/generate {"n": 1}`, `/api/models` and the page `/`, against the same
requests on the idle server. It prints each hung render's answer time against
its deadline, and a stored hanging tune's first and second view.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

JIG = "X:1\nT:The Test Jig\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|fdf ecA|d3 d2:|\n"
# verovio 6.4.1 takes minutes: its time grows faster than the square of a tied run inside a tuplet.
HANGS = "X:1\nT:Hangs verovio {i}\nM:4/4\nL:1/8\nK:D\n(3" + "A-" * 600 + "A|\n"
SERVER = """
import sys, uvicorn
from tunesmith.web.app import create_app
from tunesmith.web.service import Limits
app = create_app(db=sys.argv[1], runs_dir=None, limits=Limits(render_timeout=float(sys.argv[3])))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def start_server(db: Path, deadline: float) -> tuple[subprocess.Popen, str]:
    """The app on a free local port, in its own process (so that this script's threads time the server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(db), str(port), str(deadline)])
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/api/models", timeout=2).read()
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def ask(base: str, method: str, path: str, body: dict | None = None) -> tuple[float, int, dict]:
    """(seconds, status, headers) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            r.read()
            status, headers = r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        e.read()
        status, headers = e.code, dict(e.headers)
    return time.perf_counter() - start, status, headers


def probes(base: str) -> dict[str, float]:
    """Seconds of each ordinary request, one after another."""
    return {
        "render": ask(base, "POST", "/api/render", {"abc": JIG})[0],
        "generate": ask(base, "POST", "/api/generate", {"n": 1, "seed": 1})[0],
        "models": ask(base, "GET", "/api/models")[0],
        "page": ask(base, "GET", "/")[0],
    }


def scenario(base: str, name: str, tunes: list[str], idle: dict[str, float], deadline: float) -> None:
    answers: list = []
    threads = [threading.Thread(target=lambda t=t: answers.append(ask(base, "POST", "/api/render", {"abc": t})))
               for t in tunes]
    for t in threads:
        t.start()
    time.sleep(0.3)
    busy = probes(base)
    for t in threads:
        t.join()
    seconds = [s for s, _, _ in answers]
    statuses = {code: sum(1 for _, c, _ in answers if c == code) for code in sorted({c for _, c, _ in answers})}
    print(f"\n{name}: {len(tunes)} renders that hang, sent at once")
    for probe, took in busy.items():
        print(f"  {probe:9s} {took:6.2f} s   idle {idle[probe]:5.2f} s   delay {took - idle[probe]:+6.2f} s")
    print(f"  hung renders answered in {min(seconds):.2f}..{max(seconds):.2f} s (deadline {deadline:g} s, "
          f"latest {max(seconds) - deadline:+.2f} s past it); statuses {statuses}")
    retry = sorted({int(h.get("retry-after") or h.get("Retry-After")) for _, c, h in answers if c == 503})
    if retry:
        print(f"  Retry-After given: {retry} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deadline", type=float, default=15.0, help="the render timeout (default: the app's 15 s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(Path(tmp) / "tunes.db", args.deadline)
        try:
            probes(base)  # the model loaded, the engravers started
            runs = [probes(base) for _ in range(3)]
            idle = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print("idle: " + ", ".join(f"{k} {v:.2f} s" for k, v in idle.items()))
            scenario(base, "the issue's case", [HANGS.format(i=0)] * 4, idle, args.deadline)
            scenario(base, "different tunes", [HANGS.format(i=i) for i in range(6)], idle, args.deadline)
            scenario(base, "more than the server's 40 threads", [HANGS.format(i=i) for i in range(41)], idle,
                     args.deadline)
            saved = json.loads(urllib.request.urlopen(urllib.request.Request(
                base + "/api/tunes", data=json.dumps({"abc": HANGS.format(i="stored")}).encode(),
                headers={"Content-Type": "application/json"})).read())
            first = ask(base, "GET", f"/api/tunes/{saved['id']}.svg")
            second = ask(base, "GET", f"/api/tunes/{saved['id']}.svg")
            page = ask(base, "GET", f"/tune/{saved['id']}")
            print(f"\na stored tune that hangs: first view {first[0]:.2f} s ({first[1]}), "
                  f"again {second[0]:.3f} s ({second[1]}), its page {page[0]:.3f} s ({page[1]})")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
