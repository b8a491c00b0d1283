"""What the API page (`/docs`) says above the schema: what the API is for, and one worked example.

The example's answer is the real one: `python -m tunesmith.web.apidoc` asks a
fresh app (an empty database, the shipped model) the documented request and
writes what it answered to `api_example.json`; `tests/test_front.py` runs the
documented curl command against a live server and checks that it still gets
that answer. So a retrained shipped model shows as a failing test, not as a
page that quietly lies; rerun the command then.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from ..atomic import write_text_atomic

EXAMPLE_FILE = Path(__file__).parent / "api_example.json"
EXAMPLE_REQUEST = {"n": 1, "seed": 7, "rhythm": "reel", "meter": "C|", "key": "G"}
# What the page shows of a tune (the rest: `params`, the request that made it; `originality`, its nearest training
# tune in full; `parent`; `created`): enough to see what comes back, short enough to read.
SHOWN_FIELDS = ("id", "title", "abc", "origin", "model", "url", "files", "problems", "originality_note",
                "svg", "svg_error")
SVG_SHOWN = 60  # characters of the SVG kept, the rest counted


def curl_command(base: str = "http://127.0.0.1:8000") -> str:
    """The documented request as one shell command against the server at `base`."""
    return (f"curl -s {base}/api/generate -H 'Content-Type: application/json' "
            f"-d '{json.dumps(EXAMPLE_REQUEST)}'")


def shown(answer: dict) -> dict:
    """An answer of POST /api/generate as the page shows it: the fields above, the SVG cut short."""
    tunes = []
    for tune in answer["tunes"]:
        kept = {k: tune[k] for k in SHOWN_FIELDS}
        if kept["svg"]:
            kept["svg"] = f"{kept['svg'][:SVG_SHOWN]}… ({len(kept['svg']):,} characters)"
        tunes.append(kept)
    return {"seed": answer["seed"], "tunes": tunes}


def description() -> str:
    """The API page's introduction (Markdown, as swagger-ui shows an OpenAPI description)."""
    example = json.loads(EXAMPLE_FILE.read_text())
    return f"""\
**What it is for.** Everything the pages do, from a script: compose tunes (`POST /api/generate`) and tabla
(`POST /api/tabla/generate`), check and engrave ABC you bring (`/api/check`, `/api/render`), rewrite bars of a tune, a MIDI piece or
cycles of a tabla composition (`/api/infill`, `/api/vary`: the model's mode decides), and fetch any stored tune as ABC, MIDI, WAV, SVG, MusicXML or PDF
(`GET /api/tunes/<id>.mid` …). Requests and answers are JSON; bad input gets a 4xx answer
`{{"detail": "..."}}` that names the field. Every tune written is stored and has a page, `/tune/<id>`.

**A worked example.** A reel in G from the shipped model, with a seed (the same seed, the same tune):

```
{curl_command()}
```

answers (the `id` is the store's next free one; here with `svg` cut short and `params`, `originality`,
`parent` and `created` left out):

```json
{json.dumps(example["answer"], indent=2, ensure_ascii=False)}
```

Then `curl -s -o reel.mid http://127.0.0.1:8000{example["answer"]["tunes"][0]["files"]["mid"]}` saves it as MIDI.
Each request below has its fields, their limits and a *Try it out* button.
"""


def write_example(path: Path = EXAMPLE_FILE) -> dict:
    """Ask a fresh app (empty database, the shipped models only) the documented request; keep what it answers."""
    from fastapi.testclient import TestClient

    from .app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        client = TestClient(create_app(db=Path(tmp) / "tunes.db", runs_dir=None))
        answer = client.post("/api/generate", json=EXAMPLE_REQUEST)
        answer.raise_for_status()
    example = {"request": EXAMPLE_REQUEST, "answer": shown(answer.json())}
    write_text_atomic(path, json.dumps(example, indent=2, ensure_ascii=False) + "\n")
    return example


if __name__ == "__main__":
    written = write_example()
    print(f"{EXAMPLE_FILE}: {written['answer']['tunes'][0]['title']!r}, seed {written['answer']['seed']}",
          file=sys.stderr)
