"""The web app's Tabla tab: its JSON API through FastAPI's test client, and the page in headless chromium
(its screenshot is kept in out/test-artifacts/web-tabla.png).

Compositions come from the shipped tabla model (`models/tabla`). The talas'
shapes and marks are written out here, not taken from the library, so a
grid with a mark in the wrong place fails.
"""

from __future__ import annotations

import io
import sqlite3
import wave

import mido
import pytest
from fastapi.testclient import TestClient
# The browser fixtures (a `tunesmith serve` subprocess, chromium, a page that may only reach it) are shared.
from test_web_browser import ARTIFACTS, browser, page, server  # noqa: F401

from tunesmith.music.tabla import BOLS, read_text
from tunesmith.web.app import create_app

# tala: (vibhags, marks above them), as the issue gives them: X sam, 0 khali, numbers tali.
SHAPES = {
    "teentaal": ((4, 4, 4, 4), ("X", "2", "0", "3")),
    "jhaptaal": ((2, 3, 2, 3), ("X", "2", "0", "3")),
    "rupak": ((3, 2, 2), ("0", "1", "2")),      # rupak's cycle begins on khali
}
THEKAS = {"teentaal": "Dha Dhin Dhin Dha Dha Dhin Dhin Dha Dha Tin Tin Ta Ta Dhin Dhin Dha",
          "jhaptaal": "Dhi Na Dhi Dhi Na Ti Na Dhi Dhi Na", "rupak": "Tin Tin Na Dhi Na Dhi Na"}
RATE = 44100


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:
    """The app on a fresh database, with only the shipped models."""
    tmp = tmp_path_factory.mktemp("webtabla")
    return TestClient(create_app(db=tmp / "tunes.db", runs_dir=tmp / "no-runs"))


def generate(client: TestClient, **body) -> dict:
    r = client.post("/api/tabla/generate", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def frames_of(wav_bytes: bytes) -> tuple[int, int]:
    """(frames, the loudest sample) of a 44.1 kHz 16-bit mono WAV."""
    with wave.open(io.BytesIO(wav_bytes)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (RATE, 2, 1)
        data = w.readframes(w.getnframes())
    samples = memoryview(data).cast("h")
    return len(samples), max(abs(s) for s in samples[::7])


@pytest.mark.parametrize("tala, cycles, tempo", [("teentaal", 2, 120), ("jhaptaal", 3, 100), ("rupak", 4, 150)])
def test_every_cycle_of_the_grid_is_the_talas_and_the_audio_lasts_the_cycles(client, tala, cycles, tempo):
    vibhags, marks = SHAPES[tala]
    r = generate(client, tala=tala, cycles=cycles, tempo=tempo, seed=4, n=2)
    assert r["seed"] == 4 and len(r["compositions"]) == 2
    for comp in r["compositions"]:
        g = comp["grid"]
        assert (g["tala"], g["matras"], tuple(g["vibhags"]), tuple(g["marks"])) == (tala, sum(vibhags), vibhags, marks)
        assert len(g["cycles"]) == cycles == comp["cycles"]
        for cycle in g["cycles"]:
            assert tuple(v["mark"] for v in cycle) == marks
            assert tuple(len(v["matras"]) for v in cycle) == vibhags
            for matra in (m for v in cycle for m in v["matras"]):
                assert 1 <= len(matra) <= 4 and all(b in BOLS or b == "-" for b in matra)
        assert g["landing"] and "-" not in g["landing"]          # lands on sam, struck
        # The grid is the text's composition, which the tabla checker accepts.
        [reading] = read_text(comp["text"])
        assert reading.problems == [] and reading.composition.tala == tala and reading.composition.tempo == tempo
        assert [[list(m) for m in c] for c in reading.composition.cycles] == \
            [[m for v in c for m in v["matras"]] for c in g["cycles"]]

    comp = r["compositions"][0]
    wav = client.get(comp["files"]["wav"])
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    frames, loudest = frames_of(wav.content)
    matras = cycles * sum(vibhags) + 1                          # the landing sam is one matra more
    assert abs(frames - matras * 60 / tempo * RATE) <= 1
    assert loudest > 3000                                       # not silent
    mid = client.get(comp["files"]["mid"])
    assert mid.headers["content-type"] == "audio/midi"
    midi = mido.MidiFile(file=io.BytesIO(mid.content))
    strokes = [m for t in midi.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert all(m.channel == 9 for m in strokes) and len(strokes) >= cycles * sum(vibhags) // 2
    assert abs(midi.length - matras * 60 / tempo) < 0.01
    txt = client.get(comp["files"]["txt"])
    assert txt.headers["content-type"].startswith("text/plain") and txt.text == comp["text"]


def test_a_stored_composition_has_its_own_page_and_address(client):
    comp = generate(client, tala="jhaptaal", cycles=2, tempo=90, seed=11)["compositions"][0]
    assert comp["url"] == f"/tabla/{comp['id']}"
    assert client.get(f"/api/tabla/{comp['id']}").json() == comp
    shown = client.get(comp["url"])
    assert shown.status_code == 200
    html = shown.text
    assert comp["title"] in html and f'src="{comp["files"]["wav"]}"' in html
    assert html.count('<tr class="cycle">') == 2 and '<tr class="landing">' in html
    assert [html.count(f'scope="colgroup">{m}</th>') for m in ("X", "2", "0", "3")] == [1, 1, 1, 1]
    assert html.count('data-mark="X"') == 3                     # sam of both cycles, and the landing
    assert html.count('data-mark="0"') == 2                     # khali of both cycles
    # The form's parts band the matras, and the legend names them by matra number.
    g = comp["grid"]
    parts = [p for cycle in g["cycles"] for v in cycle for p in v["parts"]] + [g["landing_part"]]
    assert g["in_form"] and all(parts) and html.count("data-part=") == len(parts) == 21
    assert all(f"{s['name']} {s['from']}–{s['to']}</span>" in html for s in g["sections"])
    missing = client.get(f"/tabla/{comp['id'] + 1000}")
    assert missing.status_code == 404 and f"no tabla composition {comp['id'] + 1000}" in missing.text
    assert client.get(f"/api/tabla/{comp['id'] + 1000}.wav").json() == \
        {"detail": f"no tabla composition {comp['id'] + 1000}"}


def test_same_seed_same_compositions_and_the_theka_primer(client):
    body = {"tala": "rupak", "cycles": 3, "tempo": 110, "seed": 9, "primer": "theka", "n": 2}
    first, again = generate(client, **body), generate(client, **body)
    assert [c["text"] for c in first["compositions"]] == [c["text"] for c in again["compositions"]]
    assert first["compositions"][0]["id"] != again["compositions"][0]["id"]   # stored anew
    for comp in first["compositions"]:
        opening = [b for v in comp["grid"]["cycles"][0] for m in v["matras"] for b in m]
        assert " ".join(opening) == THEKAS["rupak"]
    # The theka and drone layers change the sound, not the composition.
    layered = generate(client, **body, theka=True, drone=True)["compositions"][0]
    assert layered["text"] == first["compositions"][0]["text"]
    plain_wav = client.get(first["compositions"][0]["files"]["wav"]).content
    layered_wav = client.get(layered["files"]["wav"]).content
    assert len(plain_wav) == len(layered_wav) and plain_wav != layered_wav


@pytest.mark.parametrize("body, status, message", [
    ({"tala": "teentall"}, 400, "tala: unknown tala 'teentall'; did you mean 'teentaal'?"),
    ({"tempo": 0}, 422, "tempo: Input should be greater than or equal to 1 (got 0)"),
    ({"cycles": 0}, 422, "cycles: Input should be greater than or equal to 1 (got 0)"),
    ({"cycles": 65}, 422, "cycles: Input should be less than or equal to 64 (got 65)"),
    ({"n": 9}, 422, "n: between 1 and 8 compositions per request"),
    ({"tempo": 10, "cycles": 8}, 422, "8 cycles of teentaal at 10 matras per minute last 774 s; at most 300 s"),
    ({"tala": "jhaptaal", "primer": "Dhi Na Dhi | Dhi Na"}, 400, "primer: '|' after matra 3, but jhaptaal"),
    ({"primer": "Dha Dhinn"}, 400, "primer: unknown bol 'Dhinn'; did you mean 'Dhin'?"),
    ({"temperature": -1}, 422, "temperature: Input should be greater than 0"),
    ({"model": "default"}, 400, "model 'default': no such tabla model; choose one of tabla"),
    ({"cycles": "four"}, 422, "cycles: Input should be a valid integer"),
])
def test_bad_input_is_a_4xx_with_a_message_naming_the_field(client, body, status, message):
    r = client.post("/api/tabla/generate", json={"seed": 1, **body})
    assert r.status_code == status and message in r.json()["detail"], r.text


def test_a_database_from_before_the_tabla_tab_keeps_its_tunes(tmp_path):
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as old:   # the store's schema before compositions were kept
        old.executescript("""
            CREATE TABLE tunes (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, abc TEXT NOT NULL,
                origin TEXT NOT NULL, model TEXT, params TEXT NOT NULL, parent INTEGER REFERENCES tunes(id),
                created REAL NOT NULL);
            CREATE TABLE renders (tune INTEGER NOT NULL REFERENCES tunes(id), kind TEXT NOT NULL,
                data BLOB NOT NULL, PRIMARY KEY (tune, kind));
            INSERT INTO tunes (title, abc, origin, params, created)
                VALUES ('Old Jig', 'X:1\nT:Old Jig\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|\n', 'edited', '{}', 1.0);
        """)
    old.close()
    client = TestClient(create_app(db=db, runs_dir=tmp_path / "no-runs"))
    assert client.get("/api/tunes/1").json()["title"] == "Old Jig"
    comp = generate(client, tala="dadra", cycles=1, seed=2)["compositions"][0]
    assert comp["id"] == 1 and client.get("/tabla/1").status_code == 200
    assert client.get("/api/tunes/1").json()["title"] == "Old Jig"


# -- in the browser -------------------------------------------------------------------

def test_the_tabla_tab_shows_a_cycle_grid_with_marks_and_a_player(page):  # noqa: F811
    page.goto("/")
    page.click("nav.top a[href='/tabla']")
    assert page.locator("nav.top a[aria-current=page]").inner_text() == "Tabla"
    page.select_option("select[name=tala]", "jhaptaal")
    page.fill("input[name=cycles]", "3")
    page.fill("input[name=tempo]", "120")
    page.fill("input[name=seed]", "5")
    page.check("input[name=theka]")
    page.click("#go")
    card = page.locator("#results article.composition").first
    card.locator("table.tala-grid tr.landing").wait_for(timeout=30_000)
    assert "1 composition in" in page.locator("#progress").inner_text() and "seed 5" in page.locator("#progress").inner_text()
    grid = card.locator("table.tala-grid")
    assert grid.locator("th.mark").all_inner_texts() == ["X", "2", "0", "3"]
    rows = grid.locator("tr.cycle")
    assert rows.count() == 3
    for i in range(3):
        cells = rows.nth(i).locator("td.matra")
        assert cells.count() == 10
        starts = rows.nth(i).locator("td.vibhag-start")
        assert [starts.nth(j).get_attribute("data-mark") for j in range(4)] == ["X", "2", "0", "3"]
        assert [cells.nth(j).evaluate("td => td.classList.contains('vibhag-start')") for j in range(10)] == \
            [True, False, True, False, False, True, False, True, False, False]
    assert grid.locator("tr.landing td.matra").get_attribute("data-mark") == "X"

    src = card.locator("audio").get_attribute("src")
    comp_id = card.get_attribute("data-id")
    assert src == f"/api/tabla/{comp_id}.wav"
    wav = page.request.get(src)
    assert wav.ok and wav.headers["content-type"] == "audio/wav"
    frames, _ = frames_of(wav.body())
    assert abs(frames - (3 * 10 + 1) * 60 / 120 * RATE) <= 1
    duration = card.locator("audio").evaluate(
        "a => new Promise((ok, fail) => { a.onloadedmetadata = () => ok(a.duration); a.onerror = () => fail(a.error);"
        " a.preload = 'auto'; a.load(); })")
    assert abs(duration - frames / RATE) < 0.01
    assert card.locator("a.dl-mid").get_attribute("href") == f"/api/tabla/{comp_id}.mid"
    built_here = grid.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-tabla.png"), full_page=True)

    # The composition's own page, drawn by the server, shows the same grid.
    page.goto(f"/tabla/{comp_id}")
    assert page.locator("table.tala-grid").inner_text() == built_here
    assert page.locator("audio").get_attribute("src") == src


def test_the_tabla_tab_shows_the_servers_message(page):  # noqa: F811
    page.goto("/tabla")
    page.fill("input[name=tempo]", "0")
    page.click("#go")
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=20_000)
    assert "tempo: Input should be greater than or equal to 1 (got 0)" in error.inner_text()
    assert page.locator("#results article").count() == 0


def test_the_form_offers_the_talas_its_model_knows_and_the_theka_menu_every_tala(client):
    """The shipped model knows 8 talas (its vocabulary's `tala:` headers): the form offers those, each writes,
    the other five are refused; the theka menu has all 13 (a theka needs no model)."""
    from html.parser import HTMLParser

    from tunesmith.checkpoint import SHIPPED_MODELS, load_checkpoint
    from tunesmith.music.tabla.talas import TALAS

    codec = load_checkpoint(SHIPPED_MODELS / "tabla").codec
    known = [name for name in TALAS if f"tala: {name}" in codec.index]
    assert len(known) == 8 and len(TALAS) == 13
    [model] = client.get("/api/tabla/models").json()["models"]
    assert model["name"] == "tabla" and model["talas"] == known

    class Menus(HTMLParser):
        """The options of each <select>, by its name or id."""
        def __init__(self):
            super().__init__()
            self.menus, self.current = {}, None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "select":
                self.current = self.menus.setdefault(attrs.get("name") or attrs.get("id"), [])
            elif tag == "option" and self.current is not None:
                self.current.append(attrs["value"])

        def handle_endtag(self, tag):
            if tag == "select":
                self.current = None

    drawn = Menus()
    drawn.feed(client.get("/tabla").text)
    assert drawn.menus["tala"] == known
    assert drawn.menus["theka-tala"] == list(TALAS)
    for name in known:
        comp = generate(client, tala=name, cycles=1, seed=3)["compositions"][0]
        assert comp["tala"] == name and len(comp["grid"]["cycles"]) == 1
    for name in set(TALAS) - set(known):
        r = client.post("/api/tabla/generate", json={"tala": name, "cycles": 1, "seed": 3})
        assert r.status_code == 400 and f"tala {name}: this model never saw it" in r.json()["detail"], r.text


@pytest.fixture(scope="module")
def two_tala_server(tmp_path_factory):
    """`tunesmith serve` with a second tabla model, `runs/two`: a `small` LSTM trained for one epoch on the
    bundled corpus's rupak and dadra compositions only, so its vocabulary has those two talas."""
    from dataclasses import replace

    from test_web_browser import serving

    from tunesmith.corpus.load import load_corpus
    from tunesmith.models import get_preset
    from tunesmith.train import new_trainer

    tmp = tmp_path_factory.mktemp("twotalas")
    corpus = tmp / "rupak-and-dadra.txt"
    chosen = [c for c in load_corpus(["tabla"], None, "tabla").tunes if c.tala in ("rupak", "dadra")]
    corpus.write_text("\n".join(c.file_text() for c in chosen))
    preset = get_preset("small")
    trainer = new_trainer(tmp / "runs" / "two", [str(corpus)], preset.model, replace(preset.train, epochs=1, seed=1),
                          mode="tabla")
    trainer.run(show_progress=False)
    with serving(tmp, tmp / "runs") as base:
        yield base


def test_choosing_another_model_offers_its_talas(browser, two_tala_server):  # noqa: F811
    context = browser.new_context(base_url=two_tala_server, viewport={"width": 1400, "height": 1000})
    errors = []
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto("/tabla")
    menu = tab.locator("#tabla select[name=tala] option")
    shipped = tab.request.get("/api/tabla/models").json()["models"]
    assert [m["name"] for m in shipped] == ["tabla", "runs/two"] and shipped[1]["talas"] == ["rupak", "dadra"]
    assert [o.get_attribute("value") for o in menu.all()] == shipped[0]["talas"]
    tab.select_option("#tabla select[name=tala]", "rupak")
    tab.select_option("#tabla select[name=model]", "runs/two")
    assert [o.get_attribute("value") for o in menu.all()] == ["rupak", "dadra"]
    assert tab.locator("#tabla select[name=tala]").input_value() == "rupak"     # still offered: kept
    assert tab.locator("#theka-tala option").count() == 13
    tab.select_option("#tabla select[name=tala]", "dadra")
    tab.fill("input[name=cycles]", "2")
    tab.fill("input[name=seed]", "6")
    tab.click("#go")
    card = tab.locator("#results article.composition").first
    card.locator("table.tala-grid tr.landing").wait_for(timeout=60_000)
    assert "dadra, 2 cycles" in card.locator(".meta").inner_text() and "runs/two" in card.locator(".meta").inner_text()
    tab.select_option("#tabla select[name=model]", "tabla")
    assert [o.get_attribute("value") for o in menu.all()] == shipped[0]["talas"]
    assert tab.locator("#tabla select[name=tala]").input_value() == "dadra"
    context.close()
    assert not errors, errors
