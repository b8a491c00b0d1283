"""The blind listening test's API (`web/listen.py`), through FastAPI's test client, with the shipped models.

The truth of each trial is read from the database directly, as only the
server may: what the client gets must never tell it.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import wave
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tunesmith.checkpoint import load_checkpoint
from tunesmith.corpus.load import load_corpus
from tunesmith.render import render_wav
from tunesmith.web.app import SHIPPED_MODELS, create_app
from tunesmith.web.listen import EXCERPT_SECONDS, clean_abc, wilson
from tunesmith.web.store import TuneStore

JIG = "X:1\nT:The Old Jig\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|fdf ecA|d3 d2:|\n"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("listendb") / "tunes.db"


@pytest.fixture(scope="module")
def client(db) -> TestClient:
    return TestClient(create_app(db=db, runs_dir=None))


@pytest.fixture(scope="module")
def session(client) -> dict:
    """Ten trials with the shipped ABC model, seed 11."""
    r = client.post("/api/listen/sessions", json={"model": "default", "trials": 10, "seed": 11})
    assert r.status_code == 201, r.text
    return r.json()


def truth(db: Path, session_id: str) -> list[dict]:
    """The trials of a session as the server keeps them, in order."""
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute("SELECT * FROM listen_trials WHERE session = ? ORDER BY position", (session_id,)).fetchall()
    return [dict(r) for r in rows]


def keys(value) -> set:
    """Every key of a JSON value, however deep."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def frames(data: bytes) -> int:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (44100, 2, 1)
        return w.getnframes()


def test_half_real_from_the_held_out_split_half_generated(db, session):
    trials = truth(db, session["id"])
    assert [t["position"] for t in trials] == list(range(10))
    assert [t["id"] for t in trials] == [t["id"] for t in session["trials"]]
    origins = [t["origin"] for t in trials]
    assert origins.count("human") == origins.count("machine") == 5
    assert origins != sorted(origins) and origins != sorted(origins, reverse=True)  # shuffled, not in blocks
    meta = load_checkpoint(SHIPPED_MODELS / "default").meta["corpus"]
    corpus = load_corpus(meta["sources"], meta["limit"], "abc")
    held_out = {clean_abc(t.text) for t in corpus.held_out}
    train = {clean_abc(t.text) for t in corpus.train}
    for t in trials:
        lines = t["piece"].split("\n")
        assert lines[0] == "X:1" and not any(line[:2] in ("T:", "S:", "Z:", "N:", "H:", "B:", "O:") for line in lines)
        assert any(line.startswith("K:") for line in lines)
        assert frames(render_wav(t["piece"])) >= EXCERPT_SECONDS * 44100  # the whole excerpt is music
        source = json.loads(t["source"])
        if t["origin"] == "human":
            assert t["piece"] in held_out and t["piece"] not in train
            assert corpus.held_out[source["held_out_index"]].title == source["title"]
        else:
            assert t["piece"] not in held_out and "seed" in source


def test_real_tunes_lose_every_revealing_field():
    tune = "X:7\nT:Title\nT:Second title\nS:a book\nZ:me\nN:a note\nH:history\nB:book\nO:Ireland\nC:Trad\n" \
           "% from somewhere\n%%MIDI program 1\nM:6/8\nL:1/8\nR:jig\nK:D\nA|dfe dcB|\nW:words\n"
    assert clean_abc(tune) == "X:1\n%%MIDI program 1\nM:6/8\nL:1/8\nR:jig\nK:D\nA|dfe dcB|\n"


def test_nothing_before_the_answer_tells_the_origin(client, session):
    secret = {"origin", "correct", "source", "piece", "title", "real", "generated", "label"}
    fetched = client.get(session["url"]).json()
    for answer in (session, fetched):
        assert not keys(answer) & secret
        text = json.dumps(answer)
        assert "human" not in text and "machine" not in text
    lengths = set()
    for trial in session["trials"]:
        assert set(trial) == {"id", "position", "audio", "answered"} and trial["answered"] is False
        audio = client.get(trial["audio"])
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
        assert "content-disposition" not in audio.headers
        lengths.add((frames(audio.content), len(audio.content)))
    assert lengths == {(round(EXCERPT_SECONDS * 44100), 44 + 2 * round(EXCERPT_SECONDS * 44100))}  # all alike


def test_an_answer_is_told_and_final(client, db, session):
    first = truth(db, session["id"])[0]
    url = f"/api/listen/trials/{first['id']}/answer"
    r = client.post(url, json={"answer": "human"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["origin"] == first["origin"] and got["correct"] is (first["origin"] == "human")
    assert got["answered"] == 1 and got["done"] is False
    again = client.post(url, json={"answer": "machine"})
    assert again.status_code == 409 and "answered already" in again.json()["detail"]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT answer FROM listen_answers WHERE trial = ?", (first["id"],)).fetchall() == [("human",)]
    shown = client.get(session["url"]).json()["trials"]
    assert shown[0]["origin"] == first["origin"] and "origin" not in shown[1]


def test_same_seed_same_trials(client, db, session):
    again = client.post("/api/listen/sessions", json={"model": "default", "trials": 10, "seed": 11}).json()
    assert again["id"] != session["id"] and again["seed"] == 11
    a, b = truth(db, session["id"]), truth(db, again["id"])
    assert [(t["origin"], t["piece"]) for t in a] == [(t["origin"], t["piece"]) for t in b]
    assert not {t["id"] for t in a} & {t["id"] for t in b}
    assert client.get(again["trials"][3]["audio"]).content == client.get(session["trials"][3]["audio"]).content
    other = client.post("/api/listen/sessions", json={"model": "default", "trials": 10, "seed": 12}).json()
    c = truth(db, other["id"])
    assert [(t["origin"], t["piece"]) for t in c] != [(t["origin"], t["piece"]) for t in a]
    drawn = client.post("/api/listen/sessions", json={"model": "tabla", "trials": 2}).json()
    assert isinstance(drawn["seed"], int)  # none given: the server drew one, and says which


@pytest.mark.parametrize("model", ["tabla", "midi"])
def test_every_modes_model_makes_a_session(client, db, model):
    r = client.post("/api/listen/sessions", json={"model": model, "trials": 4, "seed": 2})
    assert r.status_code == 201, r.text
    assert r.json()["mode"] == model
    excerpt = r.json()["excerpt_seconds"]
    assert excerpt == (8.0 if model == "tabla" else EXCERPT_SECONDS)
    trials = truth(db, r.json()["id"])
    assert sorted(t["origin"] for t in trials) == ["human", "human", "machine", "machine"]
    meta = load_checkpoint(SHIPPED_MODELS / model).meta["corpus"]
    held_out = load_corpus(meta["sources"], meta["limit"], model).held_out
    texts = {p.text for p in held_out}
    for t in trials:
        assert (t["piece"] in texts) == (t["origin"] == "human")
        assert "title:" not in t["piece"] and "tempo:" not in t["piece"]
        assert frames(client.get(f"/api/listen/trials/{t['id']}/audio").content) == round(excerpt * 44100)
    if model == "tabla":  # the generated ones are asked for talas of held-out compositions
        talas = {p.tala for p in held_out}
        assert all(json.loads(t["source"])["tala"] in talas for t in trials if t["origin"] == "machine")


def test_a_session_without_reveal_tells_at_the_end(client, db):
    made = client.post("/api/listen/sessions", json={"model": "tabla", "trials": 2, "seed": 4, "reveal": False}).json()
    first, second = truth(db, made["id"])
    r = client.post(f"/api/listen/trials/{first['id']}/answer", json={"answer": "machine"}).json()
    assert r["correct"] is None and r["origin"] is None and r["done"] is False
    assert "origin" not in client.get(made["url"]).json()["trials"][0]
    r = client.post(f"/api/listen/trials/{second['id']}/answer", json={"answer": "machine"}).json()
    assert r["done"] is True and r["origin"] == second["origin"]
    over = client.get(made["url"]).json()
    assert [t["origin"] for t in over["trials"]] == [first["origin"], second["origin"]]
    assert over["score"] == [first["origin"], second["origin"]].count("machine")


@pytest.mark.parametrize("body, status", [
    ({}, 422), ({"model": "nope"}, 404), ({"model": "runs/nope", "trials": 2}, 404), ({"model": 5}, 422),
    ({"model": "default", "trials": 3}, 422), ({"model": "default", "trials": 0}, 422),
    ({"model": "default", "trials": 42}, 422), ({"model": "default", "trials": -2}, 422),
    ({"model": "default", "trials": "10"}, 422), ({"model": "default", "trials": 10.0}, 422),
    ({"model": "default", "trials": True}, 422), ({"model": "default", "trials": None}, 422),
    ({"model": "default", "seed": -1}, 422), ({"model": "default", "seed": 2**63}, 422),
    ({"model": "default", "seed": "5"}, 422), ({"model": "default", "reveal": "yes"}, 422),
    ({"model": "default", "reveal": 1}, 422), ({"model": "default", "order": "fixed"}, 422),
    ({"model": "\ud800"}, 422), ([], 422), ("default", 422),
])
def test_bad_session_requests_are_refused(client, body, status):
    r = client.post("/api/listen/sessions", content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["detail"]


def test_bad_answers_and_unknown_ids_are_refused(client, session):
    url = session["trials"][-1]["audio"].replace("/audio", "/answer")
    for body in [{}, {"answer": "robot"}, {"answer": "Human"}, {"answer": 1}, {"answer": None},
                 {"answer": "human", "sure": True}, ["human"]]:
        assert client.post(url, json=body).status_code == 422, body
    assert client.post(url, content=b"human", headers={"content-type": "application/json"}).status_code == 422
    assert client.get(session["url"]).json()["trials"][-1]["answered"] is False  # nothing was kept
    for bad in ["nope", "x" * 100, "a.b", "%00", "%ED%A0%80", "1"]:
        assert client.post(f"/api/listen/trials/{bad}/answer", json={"answer": "human"}).status_code == 404, bad
        assert client.get(f"/api/listen/trials/{bad}/audio").status_code == 404, bad
        assert client.get(f"/api/listen/sessions/{bad}").status_code == 404, bad


def test_wilson_interval():
    assert wilson(0, 0) is None
    low, high = wilson(7, 10)
    assert (round(low, 4), round(high, 4)) == (0.3968, 0.8922)
    low, high = wilson(5, 10)
    assert abs((low + high) - 1) < 1e-12  # around one half, an even interval
    assert wilson(10, 10)[1] == 1.0 and wilson(0, 10)[0] == 0.0
    assert wilson(80, 100)[0] > wilson(8, 10)[0]  # more answers, a narrower interval


def test_accuracy_on_seeded_answers_survives_a_restart(tmp_path):
    path = tmp_path / "old.db"
    TuneStore(path).add(JIG, origin="edited")  # a database from before the listening test
    client = TestClient(create_app(db=path, runs_dir=None))
    assert client.get("/api/tunes/1").json()["title"] == "The Old Jig"
    assert client.get("/api/listen/results").json()["models"] == []
    made = client.post("/api/listen/sessions", json={"model": "default", "trials": 10, "seed": 5}).json()
    trials = truth(path, made["id"])
    real = [t for t in trials if t["origin"] == "human"]
    generated = [t for t in trials if t["origin"] == "machine"]
    # Real: 4 taken for human, 1 for machine; generated: 3 for machine, 2 for human. 7 of 10 right.
    script = [(t, "human") for t in real[:4]] + [(real[4], "machine")] + \
             [(t, "machine") for t in generated[:3]] + [(t, "human") for t in generated[3:]]
    for t, answer in sorted(script, key=lambda p: p[0]["position"]):
        assert client.post(f"/api/listen/trials/{t['id']}/answer", json={"answer": answer}).status_code == 200
    results = client.get("/api/listen/results").json()
    assert results["chance"] == 0.5
    [row] = results["models"]
    assert (row["model"], row["mode"], row["sessions"], row["answered"], row["correct"]) == ("default", "abc", 1, 10, 7)
    assert row["accuracy"] == pytest.approx(0.7)
    assert row["interval"] == pytest.approx([0.3968, 0.8922], abs=1e-4)
    assert row["real"] == {"answered": 5, "judged_human": 4, "share": pytest.approx(0.8)}
    assert row["generated"] == {"answered": 5, "judged_human": 2, "share": pytest.approx(0.4)}
    assert client.get(made["url"]).json()["score"] == 7

    exported = list(csv.DictReader(io.StringIO(client.get("/api/listen/answers.csv").text)))
    assert len(exported) == 10 and sum(r["correct"] == "1" for r in exported) == 7
    assert {r["origin"] for r in exported} == {"human", "machine"} and all(r["piece"].startswith("X:1") for r in exported)

    page = client.get("/listen").text
    assert "<td>70 %</td>" in page and "<td>40 % – 89 %</td>" in page and "4 of 5 (80 %)" in page

    restarted = TestClient(create_app(db=path, runs_dir=None))
    assert restarted.get("/api/listen/results").json() == results
    assert restarted.get("/api/tunes/1").status_code == 200
    first = trials[0]["id"]
    assert restarted.post(f"/api/listen/trials/{first}/answer", json={"answer": "human"}).status_code == 409


def test_the_page_and_its_tab(client):
    page = client.get("/listen")
    assert page.status_code == 200
    assert '<a href="/listen" aria-current="page">Listen</a>' in page.text
    for name in ("default", "tabla", "midi"):
        assert f'<option value="{name}"' in page.text
    assert "50 % means" in page.text and 'src="/static/listen.js"' in page.text
    assert client.get("/static/listen.js").status_code == 200
    assert '<a href="/listen" >Listen</a>' in client.get("/archive").text
    models = client.get("/api/listen/models").json()["models"]
    assert [(m["name"], m["mode"]) for m in models] == [("default", "abc"), ("tabla", "tabla"), ("midi", "midi")]
