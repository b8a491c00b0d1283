"""Same seed, same music: the shipped models' output for fixed requests, byte for byte.

The files under tests/golden/ were written by the code as it stood before a
change that must not alter what is generated (issue 13 moved every mode into
its own package). A difference here means the music changed: if that is
intended, say why in the commit and rewrite the files with

    python tests/test_golden.py --write

The requests go through the command line (whose options are the stable
interface) and through the web API, which must agree with it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

GOLDEN = Path(__file__).parent / "golden"

# name -> `tunesmith generate` arguments (written to stdout)
CASES: dict[str, list[str]] = {
    "abc-default": ["-n", "6", "--seed", "7"],
    "abc-style": ["-n", "4", "--seed", "3", "--meter", "6/8", "--rhythm", "jig", "--key", "D"],
    "abc-primer": ["-n", "3", "--seed", "5", "--primer", r"X:1\nT:Test\nM:6/8\nL:1/8\nK:G\n|:GAB"],
    "abc-free": ["-n", "3", "--seed", "11", "--free", "--temperature", "0.9", "--top-k", "20"],
    "abc-capped": ["-n", "2", "--seed", "2", "--length", "1/16", "--top-p", "1.0", "--max-length", "400"],
    "midi-bars": ["--mode", "midi", "-n", "3", "--seed", "4", "--bars", "8"],
    "midi-seconds": ["--mode", "midi", "-n", "2", "--seed", "9", "--seconds", "10", "--tempo", "100"],
    "midi-capped": ["--mode", "midi", "-n", "2", "--seed", "1", "--max-length", "300"],
    "midi-free": ["--mode", "midi", "-n", "2", "--seed", "6", "--free", "--max-length", "300"],
    "tabla-default": ["--mode", "tabla", "-n", "4", "--seed", "2"],
    "tabla-theka": ["--mode", "tabla", "-n", "3", "--seed", "8", "--tala", "jhaptaal", "--cycles", "2",
                    "--primer", "theka"],
    "tabla-form": ["--mode", "tabla", "-n", "2", "--seed", "12", "--cycles", "3", "--primer", r"form: tihai\n"],
    "tabla-free": ["--mode", "tabla", "-n", "2", "--seed", "5", "--free", "--tala", "rupak", "--cycles", "2",
                   "--max-length", "300"],
}

# name -> (API path, JSON body, field of each returned piece)
WEB_CASES: dict[str, tuple[str, dict, str]] = {
    "web-abc": ("/api/generate", {"n": 3, "seed": 21, "meter": "3/4", "key": "G"}, "abc"),
    "web-tabla": ("/api/tabla/generate", {"n": 2, "seed": 4, "tala": "ektaal", "cycles": 2}, "text"),
}


def cli_output(args: list[str]) -> str:
    """What `tunesmith generate ARGS` writes to stdout."""
    from tunesmith.cli import app

    result = CliRunner().invoke(app, ["generate", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def web_output(tmp: Path, path: str, body: dict, field: str) -> str:
    """The pieces a web API generate request returns, one after another."""
    from fastapi.testclient import TestClient

    from tunesmith.web.app import create_app

    client = TestClient(create_app(db=tmp / "golden.db", runs_dir=None))
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    pieces = response.json()["tunes" if field == "abc" else "compositions"]
    return "\n".join(p[field] for p in pieces)


@pytest.mark.parametrize("name", CASES)
def test_cli_output_is_unchanged(name):
    assert cli_output(CASES[name]) == (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", WEB_CASES)
def test_web_output_is_unchanged(name, tmp_path):
    assert web_output(tmp_path, *WEB_CASES[name]) == (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import tempfile

    GOLDEN.mkdir(exist_ok=True)
    for case, arguments in CASES.items():
        (GOLDEN / f"{case}.txt").write_text(cli_output(arguments), encoding="utf-8")
        print("wrote", case)
    with tempfile.TemporaryDirectory() as folder:
        for case, request in WEB_CASES.items():
            (GOLDEN / f"{case}.txt").write_text(web_output(Path(folder), *request), encoding="utf-8")
            print("wrote", case)
