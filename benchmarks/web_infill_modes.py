"""How long `/api/infill` and `/api/vary` take for tabla and MIDI through the web app (FastAPI's test client,
the shipped models, the default 16 candidates), on held-out pieces; and that every answer keeps the rest.

    python benchmarks/web_infill_modes.py --seed 901 --pieces 8

Tabla: each held-out composition with 2 or more cycles, its last cycle
rewritten (`cycles`), then a variation (amount 0.5). MIDI: each held-out
piece with 12 bars or more, bars 5-8, then a variation (amount 0.2). Prints
the median and the slowest seconds per request, after one warm-up request
(the models loaded), and how many answers kept everything outside the range.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fastapi.testclient import TestClient  # noqa: E402

from machine import cpu_name  # noqa: E402
from tunesmith.checkpoint import load_checkpoint  # noqa: E402
from tunesmith.corpus.load import recorded_corpus  # noqa: E402
from tunesmith.music.midi import piece_from_text  # noqa: E402
from tunesmith.music.tabla.notation import read_text  # noqa: E402
from tunesmith.web.app import create_app  # noqa: E402


def held_out(mode: str):
    ckpt = load_checkpoint(ROOT / "models" / mode)
    return recorded_corpus(ckpt.meta["corpus"], mode).held_out


def timed(client: TestClient, path: str, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    r = client.post(path, json=body)
    seconds = time.perf_counter() - started
    if r.status_code != 200:
        raise SystemExit(f"{path} {body.get('cycles') or body.get('bars') or body.get('amount')}: {r.status_code} {r.text}")
    return seconds, r.json()


def report(name: str, seconds: list[float], kept: int, what: str = "everything outside the range") -> None:
    print(f"{name}: {len(seconds)} requests, median {statistics.median(seconds):.2f} s, slowest {max(seconds):.2f} s; "
          f"{kept} of {len(seconds)} kept {what}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=901)
    ap.add_argument("--pieces", type=int, default=8, help="held-out pieces per mode")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp())
    client = TestClient(create_app(db=folder / "tunes.db", runs_dir=folder / "no-runs"))
    print(f"CPU: {cpu_name()}")

    comps = [c for c in held_out("tabla") if len(c.cycles) >= 2][:args.pieces]
    timed(client, "/api/infill", {"model": "tabla", "text": comps[0].file_text(), "cycles": "2", "seed": args.seed})
    infill_s, vary_s, infill_kept, vary_kept = [], [], 0, 0
    for i, comp in enumerate(comps):
        last = len(comp.cycles)
        s, r = timed(client, "/api/infill", {"model": "tabla", "text": comp.file_text(), "cycles": str(last),
                                             "seed": args.seed + i})
        infill_s.append(s)
        [new] = [read_text(p["text"])[0].composition for p in r["pieces"]]
        infill_kept += new.cycles[:last - 1] == comp.cycles[:last - 1] and new.landing == comp.landing
        s, r = timed(client, "/api/vary", {"model": "tabla", "text": comp.file_text(), "amount": 0.5,
                                           "seed": args.seed + i})
        vary_s.append(s)
        [new] = [read_text(p["text"])[0].composition for p in r["pieces"]]
        vary_kept += new.cycles[0] == comp.cycles[0] and new.landing == comp.landing
    report("tabla infill (last cycle)", infill_s, infill_kept)
    report("tabla vary (amount 0.5)", vary_s, vary_kept, "the first cycle and the landing")

    pieces = [p for p in held_out("midi") if len(p.bar_starts) - 1 >= 12 and len(p.meters) == 1][:args.pieces]
    timed(client, "/api/infill", {"model": "midi", "text": pieces[0].text, "bars": "5", "seed": args.seed})
    infill_s, vary_s, infill_kept, vary_kept = [], [], 0, 0
    for i, piece in enumerate(pieces):
        start, end = piece.bar_starts[4], piece.bar_starts[8]
        outside = [n for n in piece.notes if not start <= n.start < end]
        s, r = timed(client, "/api/infill", {"model": "midi", "text": piece.text, "bars": "5-8", "seed": args.seed + i})
        infill_s.append(s)
        new = piece_from_text(r["pieces"][0]["text"])
        infill_kept += [n for n in new.notes if not start <= n.start < end] == outside
        s, r = timed(client, "/api/vary", {"model": "midi", "text": piece.text, "amount": 0.2, "seed": args.seed + i})
        vary_s.append(s)
        vary_kept += piece_from_text(r["pieces"][0]["text"]).bar_starts == piece.bar_starts
    report("MIDI infill (bars 5-8)", infill_s, infill_kept)
    report("MIDI vary (amount 0.2)", vary_s, vary_kept, "the bar lines")


if __name__ == "__main__":
    main()
