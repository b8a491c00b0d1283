"""The web app's JSON API and pages, through FastAPI's test client, with the shipped model."""

from __future__ import annotations

import io
import re
import shutil
import threading
import time
import wave
from pathlib import Path

import mido
import pytest
from fastapi.testclient import TestClient

from tunesmith.web.app import SHIPPED_MODELS, create_app
from tunesmith.web.service import Limits

JIG = "X:1\nT:The Test Jig\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|fdf ecA|d3 d2:|\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A runs folder with one trained run (a copy of the shipped model) and one folder that is no run."""
    folder = tmp_path_factory.mktemp("webruns") / "runs"
    shutil.copytree(SHIPPED_MODELS / "default", folder / "mine" / "best")
    (folder / "notes").mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def client(tmp_path_factory, runs) -> TestClient:
    """The app on a fresh database."""
    db = tmp_path_factory.mktemp("webdb") / "tunes.db"
    return TestClient(create_app(db=db, runs_dir=runs))


@pytest.fixture(scope="module")
def generated(client) -> dict:
    """One generate request of two jigs in D, seed 5."""
    r = client.post("/api/generate", json={"n": 2, "seed": 5, "meter": "6/8", "key": "D", "rhythm": "jig"})
    assert r.status_code == 200, r.text
    return r.json()


def test_generate_gives_stored_tunes_with_sheet_music(client, generated):
    assert generated["seed"] == 5
    tunes = generated["tunes"]
    assert len(tunes) == 2 and tunes[0]["id"] != tunes[1]["id"]
    for tune in tunes:
        assert "\nM:6/8\n" in tune["abc"] and "\nR:jig\n" in tune["abc"] and "\nK:D\n" in tune["abc"]
        assert tune["svg"].startswith("<svg") and tune["svg_error"] is None
        assert tune["title"] in tune["svg"]  # the engraver printed the tune's title
        assert tune["model"] == "default" and tune["params"]["seed"] == 5
        stored = client.get(f"/api/tunes/{tune['id']}").json()
        assert stored["abc"] == tune["abc"] and stored["url"] == f"/tune/{tune['id']}"
    page = client.get(tunes[0]["url"])
    assert page.status_code == 200 and "<svg" in page.text and 'class="abc"' in page.text


def test_same_seed_same_tune(client, generated):
    again = client.post("/api/generate", json={"n": 2, "seed": 5, "meter": "6/8", "key": "D", "rhythm": "jig"}).json()
    assert [t["abc"] for t in again["tunes"]] == [t["abc"] for t in generated["tunes"]]
    assert again["tunes"][0]["id"] != generated["tunes"][0]["id"]  # stored anew, with its own address


def test_downloads_are_real_files(client, generated):
    tune = generated["tunes"][0]
    abc = client.get(tune["files"]["abc"])
    assert abc.text == tune["abc"] and abc.headers["content-type"].startswith("text/vnd.abc")
    mid = client.get(tune["files"]["mid"])
    assert mid.headers["content-type"] == "audio/midi"
    midi = mido.MidiFile(file=io.BytesIO(mid.content))
    notes = [m for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0]
    assert len(notes) >= 8
    wav = client.get(tune["files"]["wav"])
    assert wav.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(wav.content)) as w:
        assert (w.getframerate(), w.getsampwidth()) == (44100, 2)
        frames = w.getnframes()
    assert midi.length > 2 and abs(frames - midi.length * 44100) <= 1  # the recording lasts as long as the MIDI
    svg = client.get(tune["files"]["svg"])
    assert svg.headers["content-type"].startswith("image/svg+xml") and svg.text == tune["svg"]
    assert f'filename="{tune["id"]}-' in wav.headers["content-disposition"]


def test_models_lists_shipped_and_trained_runs(client):
    names = [m["name"] for m in client.get("/api/models").json()["models"]]
    assert names == ["default", "runs/mine"]  # the folder without a checkpoint is not offered
    r = client.post("/api/generate", json={"model": "runs/mine", "n": 1, "seed": 1, "max_length": 300})
    assert r.status_code == 200 and r.json()["tunes"][0]["model"] == "runs/mine"
    assert len(r.json()["tunes"][0]["abc"]) <= 320
    page = client.get("/")
    assert '<option value="runs/mine"' in page.text


def test_render_shows_edits_and_their_problems(client):
    good = client.post("/api/render", json={"abc": JIG}).json()
    assert good["problems"] == [] and good["svg"].startswith("<svg")
    edited = JIG.replace("AFA d2e", "AFA d2ef")  # bar 3 now has 7/8
    bad = client.post("/api/render", json={"abc": edited}).json()
    assert bad["svg"] != good["svg"]
    assert [p["bar"] for p in bad["problems"]] == [3] and "7/8" in bad["problems"][0]["message"]


def test_check_reports_every_tune(client):
    two = JIG + "\n" + JIG.replace("X:1", "X:2").replace("dcB|", "dc|")
    reports = client.post("/api/check", json={"abc": two}).json()["tunes"]
    assert [r["number"] for r in reports] == ["1", "2"]
    assert reports[0]["problems"] == [] and "5/8" in reports[1]["problems"][0]["message"]


def test_saving_an_edit_makes_a_new_tune(client, generated):
    parent = generated["tunes"][1]
    edited = parent["abc"].replace(f"T:{parent['title']}", "T:My Own Version")
    r = client.post("/api/tunes", json={"abc": edited, "parent": parent["id"]})
    assert r.status_code == 201
    saved = r.json()
    assert saved["origin"] == "edited" and saved["parent"] == parent["id"] and saved["title"] == "My Own Version"
    assert client.get(f"/api/tunes/{parent['id']}").json()["abc"] == parent["abc"]  # the original stays
    page = client.get(saved["url"]).text
    assert "My Own Version" in page and f'href="/tune/{parent["id"]}"' in page
    archive = client.get("/archive").text
    assert archive.index("My Own Version") < archive.index(parent["title"])  # newest first
    listed = client.get("/api/tunes", params={"limit": 1}).json()
    assert listed["tunes"][0]["id"] == saved["id"] and listed["total"] >= 4


def test_text_from_a_tune_is_escaped_in_pages(client):
    evil = JIG.replace("T:The Test Jig", 'T:<script>window.hacked=1</script>\nC:<img src=x onerror="alert(1)">')
    saved = client.post("/api/tunes", json={"abc": evil}).json()
    assert saved["title"] == "<script>window.hacked=1</script>"
    for path in (saved["url"], "/archive"):
        html = client.get(path).text
        assert "<script>window.hacked" not in html and "<img src=x" not in html
        assert "&lt;script&gt;window.hacked=1&lt;/script&gt;" in html


ERRORS = [
    ("post", "/api/generate", {"n": 0}, 422, "n: between 1 and 8"),
    ("post", "/api/generate", {"n": 9}, 422, "n: between 1 and 8"),
    ("post", "/api/generate", {"n": "two"}, 422, "n: Input should be a valid integer"),
    ("post", "/api/generate", {"max_length": 9000}, 422, "max_length: between 128 and 8000"),
    ("post", "/api/generate", {"max_length": 100}, 422, "max_length: between 128 and 8000"),
    ("post", "/api/generate", {"temperature": 0}, 422, "temperature: Input should be greater than 0"),
    ("post", "/api/generate", {"temperature": 11}, 422, "temperature: Input should be less than or equal to 10"),
    ("post", "/api/generate", {"top_p": 1.5}, 422, "top_p: Input should be less than or equal to 1"),
    ("post", "/api/generate", {"length": "1/3"}, 400, "length '1/3': not a unit note length"),
    ("post", "/api/generate", {"meter": "7/0"}, 400, "meter '7/0': not a meter"),
    ("post", "/api/generate", {"key": "H"}, 400, "key 'H': not an ABC key"),
    ("post", "/api/generate", {"model": "nope"}, 400, "model 'nope': no such model; choose one of default, runs/mine"),
    ("post", "/api/generate", {"primer": "d2B \u20ac"}, 400, "primer: characters '\u20ac' are not in the model's"),
    ("post", "/api/generate", {"primer": "X:1\nT:a\n", "key": "D"}, 400, "primer starts a whole tune"),
    ("post", "/api/generate", {"primer": "a" * 8001}, 413, "primer: 8001 characters; at most 8000"),
    ("post", "/api/generate", {"seed": -1}, 422, "seed: Input should be greater than or equal to 0"),
    ("post", "/api/render", {}, 422, "abc: Field required"),
    ("post", "/api/render", {"abc": "T:no header\nabc|"}, 422, "abc: no tune found"),
    ("post", "/api/render", {"abc": JIG + "\n" + JIG}, 422, "abc: 2 tunes found"),
    ("post", "/api/render", {"abc": JIG + "|" * 8000}, 413, "a tune may have at most 8000"),
    ("post", "/api/render", {"abc": "X:1\nT:x\nK:D\n"}, 400, "sheet music: not an ABC tune"),
    ("post", "/api/check", {"abc": 5}, 422, "abc: Input should be a valid string"),
    ("post", "/api/tunes", {"abc": JIG, "parent": 99999}, 404, "parent: no tune 99999"),
    ("post", "/api/tunes", {"abc": "K:D\nabc|"}, 422, "abc: no tune found"),
    ("get", "/api/tunes/99999", None, 404, "no tune 99999"),
    ("get", "/api/tunes/99999.wav", None, 404, "no tune 99999"),
    ("get", "/api/tunes/1.mp3", None, 422, "kind: Input should be 'abc', 'mid', 'wav', 'svg', 'musicxml' or 'pdf'"),
    ("get", "/api/tunes", {"limit": 1000}, 422, "limit: Input should be less than or equal to 200"),
]


@pytest.mark.parametrize("method,path,body,status,message", ERRORS, ids=[f"{e[1]}-{e[4][:24]}" for e in ERRORS])
def test_bad_requests_get_a_message(client, method, path, body, status, message):
    r = client.post(path, json=body) if method == "post" else client.get(path, params=body)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


def test_malformed_and_oversized_bodies(client):
    r = client.post("/api/generate", content=b"{n: 1", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith("request body: not valid JSON")
    r = client.post("/api/check", json={"abc": JIG * 900})  # 72 kB of ABC
    assert r.status_code == 413 and "request body over 65536 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the cap must hold while reading
        yield b'{"abc": "'
        for _ in range(80):
            yield b"a" * 1000
        yield b'"}'

    r = client.post("/api/check", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_unknown_tune_page_is_404(client):
    r = client.get("/tune/99999")
    assert r.status_code == 404 and "no tune 99999" in r.text


def test_everything_the_pages_load_is_served_here(client, generated):
    pages = ["/", "/archive", generated["tunes"][0]["url"], "/docs"]
    for page in pages:
        html = client.get(page).text
        assets = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/") and not asset.startswith("//"), f"{page} loads {asset} from elsewhere"
            got = client.get(asset)
            assert got.status_code == 200 and len(got.content) > 100, asset
    docs = client.get("/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    schema = client.get("/openapi.json").json()
    for path in ("/api/generate", "/api/render", "/api/check", "/api/tunes/{tune_id}", "/api/tunes/{tune_id}.{kind}"):
        assert path in schema["paths"], path


def test_generations_beyond_the_limit_wait_then_the_queue_refuses(tmp_path):
    app = create_app(db=tmp_path / "t.db", runs_dir=None, limits=Limits(generations=1, queue=1))
    client = TestClient(app)
    slots = app.state.composer._generations._slots  # hold the only slot, as a long generation would
    slots.acquire()
    results = []
    waiter = threading.Thread(target=lambda: results.append(
        client.post("/api/generate", json={"n": 1, "seed": 2, "max_length": 200})))
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive()  # queued, not refused
    busy = client.post("/api/generate", json={"n": 1, "seed": 3})
    assert busy.status_code == 503 and "busy" in busy.json()["detail"]
    slots.release()
    waiter.join(timeout=30)
    assert results and results[0].status_code == 200


def test_look_inside_shows_the_models_view_of_a_tune(client, monkeypatch):
    import tunesmith.web.inside

    saved = client.post("/api/tunes", json={"abc": JIG.replace("The Test Jig", "<b>Inside</b>")}).json()
    page = client.get(f"/tune/{saved['id']}/inside", params={"layer": 1, "neuron": 5, "view": "full"})
    assert page.status_code == 200 and 'class="tsviz"' in page.text and "neuron 5 of layer 1" in page.text
    assert page.text.count('<span class="col"') == len(saved["abc"]) + 1  # every character, and the blank line ending it
    assert "<b>Inside" not in page.text and "&lt;b&gt;Inside" in page.text
    compact = client.get(f"/tune/{saved['id']}/inside", params={"layer": 1, "neuron": 5})  # the default view
    assert compact.text.count('<span class="ch') == len(saved["abc"]) + 1 and 'class="tsviz"' not in compact.text
    assert "<b>Inside" not in compact.text
    assert f'href="/tune/{saved["id"]}/inside"' in client.get(saved["url"]).text

    monkeypatch.setattr(tunesmith.web.inside, "REFERENCE_TUNES", 4)  # the search itself is tested in test_visualize
    auto = client.get(f"/tune/{saved['id']}/inside", params={"view": "full"})
    assert auto.status_code == 200 and "Neurons that track structure" in auto.text
    assert "auto chose neuron" in client.get(f"/tune/{saved['id']}/inside").text

    for params, status, message in [({"neuron": 999}, 422, "neuron: this model&#39;s layers have neurons 0 to 255"),
                                    ({"layer": 9}, 422, "layer: this model has layers 1 to 3"),
                                    ({"model": "nope"}, 400, "model &#39;nope&#39;: no such model"),
                                    ({"view": "wide"}, 422, "view &#39;wide&#39;: choose compact or full")]:
        r = client.get(f"/tune/{saved['id']}/inside", params=params)
        assert r.status_code == status and message in r.text, r.text[-600:]
    assert client.get("/tune/99999/inside").status_code == 404
