"""Infill and vary for tabla and MIDI through the web: `/api/infill` and `/api/vary` with the shipped `models/tabla`
and `models/midi` on held-out pieces, and "Rewrite cycles" on the Tabla tab in headless chromium.

What is checked: the cycles (bars) outside the range as they were (tabla: the
lines of the text; MIDI: every note outside the gap, the bar lines, the
meters), every version passing the mode's checker, the ranking's pick the
fewest bits of its group, same seed same answer, and bad input one message
naming the field with its status (400, 413, 422).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
# The browser fixtures (a `tunesmith serve` subprocess, chromium, a page that may only reach it) are shared.
from test_web_browser import ARTIFACTS, browser, page, server  # noqa: F401

from tunesmith.checkpoint import load_checkpoint
from tunesmith.corpus.load import recorded_corpus
from tunesmith.modes.midi import infill as midi_infill
from tunesmith.modes.midi.tables import Tables
from tunesmith.modes.midi.writer import fit_to_vocabulary
from tunesmith.music.midi import piece_from_text
from tunesmith.music.tabla.notation import TALAS, read_text
from tunesmith.web.app import create_app

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:
    """The app on a fresh database, with only the shipped models."""
    tmp = tmp_path_factory.mktemp("webinfill")
    return TestClient(create_app(db=tmp / "tunes.db", runs_dir=tmp / "no-runs"))


@pytest.fixture(scope="module")
def tabla_held() -> list:
    ckpt = load_checkpoint(ROOT / "models" / "tabla")
    held = recorded_corpus(ckpt.meta["corpus"], "tabla").held_out
    return sorted((c for c in held if len(c.cycles) >= 3), key=lambda c: -len(c.cycles))  # the 4-cycle one first


@pytest.fixture(scope="module")
def midi_held():
    ckpt = load_checkpoint(ROOT / "models" / "midi")
    held = recorded_corpus(ckpt.meta["corpus"], "midi").held_out
    return ckpt, [p for p in held if len(p.bar_starts) - 1 >= 12 and len(p.meters) == 1]


def post(client: TestClient, path: str, **body) -> dict:
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def the_composition(text: str):
    [reading] = read_text(text)
    assert reading.problems == [], reading.problems
    return reading.composition


# -- tabla ----------------------------------------------------------------------------------------
def test_tabla_infill_rewrites_the_cycles_asked_and_keeps_every_other_line(client, tabla_held):
    comp = tabla_held[0]
    text = comp.file_text()
    answer = post(client, "/api/infill", model="tabla", text=text, cycles="2-3", n=2, seed=5, candidates=4)
    assert (answer["mode"], answer["model"], answer["seed"], answer["cycles"]) == ("tabla", "tabla", 5, [2, 3])
    assert answer["candidates"] == 4 and answer["tail_symbols"] > 0 and answer["original_bits"] > 0
    old_lines = text.split("\n")
    header = len(old_lines) - 1 - len(comp.cycles) - 1          # title, tala, tempo, form lines before cycle 1
    tala = TALAS[comp.tala]
    assert len(answer["pieces"]) == 2
    for piece in answer["pieces"]:
        new = the_composition(piece["text"])                    # the tabla checker: matras per cycle, marks
        lines = piece["text"].split("\n")
        changed = [i for i, (a, b) in enumerate(zip(old_lines, lines)) if a != b]
        assert len(lines) == len(old_lines) and changed
        assert all(header + 1 <= i <= header + 2 for i in changed)   # only the lines of cycles 2 and 3
        assert new.landing == comp.landing and new.cycles[0] == comp.cycles[0] and new.cycles[3:] == comp.cycles[3:]
        assert all(len(cycle) == tala.matras for cycle in new.cycles)
        assert piece["bits"] == min(piece["candidate_bits"]) and len(piece["candidate_bits"]) == 4
        # the grid the tab draws its card from is the text's
        assert [[m for v in c for m in v["matras"]] for c in piece["grid"]["cycles"]] == \
            [[list(m) for m in c] for c in new.cycles]
    again = post(client, "/api/infill", model="tabla", text=text, cycles="2-3", n=2, seed=5, candidates=4)
    assert again == answer
    other = post(client, "/api/infill", model="tabla", text=text, cycles="2-3", n=2, seed=6, candidates=4)
    assert [p["text"] for p in other["pieces"]] != [p["text"] for p in answer["pieces"]]


def test_tabla_vary_keeps_the_first_cycle_and_the_landing(client, tabla_held):
    comp = tabla_held[1]
    answer = post(client, "/api/vary", model="tabla", text=comp.file_text(), amount=0.5, n=2, seed=2, candidates=4)
    assert answer["mode"] == "tabla" and answer["amount"] == 0.5 and len(answer["pieces"]) == 2
    for piece in answer["pieces"]:
        new = the_composition(piece["text"])
        assert piece["cycles"] == len(comp.cycles) == len(new.cycles)
        assert set(piece["changed"]) <= set(piece["rewritten"]) and 1 not in piece["rewritten"]
        assert piece["changed"] == [i for i, (a, b) in enumerate(zip(comp.cycles, new.cycles), 1) if a != b]
        assert piece["achieved"] == len(piece["changed"]) / len(comp.cycles)
        assert new.cycles[0] == comp.cycles[0] and new.landing == comp.landing
    assert post(client, "/api/vary", model="tabla", text=comp.file_text(), amount=0.5, n=2, seed=2,
                candidates=4) == answer


# -- MIDI -----------------------------------------------------------------------------------------
def test_midi_infill_keeps_every_note_outside_the_bars(client, midi_held):
    ckpt, held = midi_held
    piece = held[0]
    gap = midi_infill.bar_gap(piece, fit_to_vocabulary(piece, Tables(ckpt.codec)), "5-6")
    answer = post(client, "/api/infill", model="midi", text=piece.text, bars="5-6", n=2, seed=3, candidates=4)
    assert (answer["mode"], answer["bars"], answer["candidates"]) == ("midi", [5, 6], 4)
    for version in answer["pieces"]:
        new = piece_from_text(version["text"])                  # the event grammar's reader
        assert gap.keeps_the_piece(new)                         # bar lines, meters, every note outside the gap
        inside = [n for n in new.notes if gap.inside(n)]
        assert inside and all(n.start + n.duration <= gap.end for n in inside)
        assert version["bits"] == min(version["candidate_bits"]) and len(version["candidate_bits"]) == 4
    assert post(client, "/api/infill", model="midi", text=piece.text, bars="5-6", n=2, seed=3, candidates=4) == answer


def test_midi_vary_changes_bars_and_keeps_the_bar_lines(client, midi_held):
    _, held = midi_held
    piece = held[1]
    answer = post(client, "/api/vary", model="midi", text=piece.text, amount=0.2, seed=4, candidates=2)
    [version] = answer["pieces"]
    new = piece_from_text(version["text"])
    assert new.bar_starts == piece.bar_starts and new.meters == piece.meters
    assert version["bars"] == len(piece.bar_starts) - 1 and version["changed"]
    assert set(version["changed"]) <= set(version["rewritten"])
    assert post(client, "/api/vary", model="midi", text=piece.text, amount=0.2, seed=4, candidates=2) == answer


# -- bad input ------------------------------------------------------------------------------------
def test_bad_requests_are_one_message_naming_the_field(client, tabla_held, midi_held):
    comp, piece = tabla_held[0].file_text(), midi_held[1][0].text
    cycles = len(tabla_held[0].cycles)
    for path, body, status, words in [
        ("/api/infill", {"model": "tabla", "text": comp, "bars": "2"}, 422, "bars: model 'tabla' writes tabla"),
        ("/api/infill", {"model": "tabla", "text": comp}, 422, "infill needs the cycles to rewrite: cycles"),
        ("/api/infill", {"model": "midi", "text": piece, "cycles": "2"}, 422, "give bars"),
        ("/api/infill", {"model": "tabla", "abc": comp, "cycles": "2"}, 422, "send its composition as text"),
        ("/api/vary", {"model": "midi", "amount": 0.3}, 422, "text: missing"),
        ("/api/infill", {"model": "tabla", "text": comp, "cycles": str(cycles + 1)}, 400,
         f"cycles {cycles + 1}: the composition has {cycles} cycles"),
        ("/api/infill", {"model": "tabla", "text": "tala: teentaal\nDha Dha |\n", "cycles": "1"}, 400,
         "text:2:"),
        ("/api/infill", {"model": "tabla", "text": comp + "\n" + comp, "cycles": "1"}, 400, "2 compositions found"),
        ("/api/infill", {"model": "midi", "text": "a note to myself", "bars": "1"}, 400, "text: no piece found"),
        ("/api/infill", {"model": "tabla", "text": "Dha " * 8001, "cycles": "1"}, 413, "text: 8001 bols"),
        ("/api/infill", {"model": "tabla", "text": comp, "cycles": "2", "n": 9}, 422, "n: between 1 and 8"),
        ("/api/infill", {"model": "tabla", "text": comp, "cycles": "2", "candidates": 33}, 422,
         "candidates: between 1 and 32"),
        ("/api/vary", {"model": "tabla", "text": comp, "amount": 0}, 422, "amount"),
        ("/api/vary", {"model": "nope", "text": comp}, 400, "model 'nope': no such model"),
    ]:
        r = client.post(path, json=body)
        assert r.status_code == status and words in r.json()["detail"], (body, r.text)
        assert "Traceback" not in r.text


# -- the Tabla tab, in a real browser -------------------------------------------------------------
def test_rewrite_cycles_on_the_tabla_tab(page):  # noqa: F811
    page.goto("/tabla")
    page.select_option("select[name=tala]", "teentaal")
    page.fill("input[name=cycles]", "3")
    page.fill("input[name=seed]", "8")
    page.click("#go")
    card = page.locator("#results article.composition").first
    card.locator("table.tala-grid tr.landing").wait_for(timeout=30_000)
    original = card.locator("pre.text").text_content()
    card.locator("form.rewrite input.cycles").fill("2")
    card.locator("form.rewrite input.versions").fill("2")
    card.locator("form.rewrite button.rewrite").click()
    status = card.locator("form.rewrite .rewrite-status")
    page.wait_for_function("el => el.textContent.includes('rewritten')", arg=status.element_handle(), timeout=60_000)
    assert "Cycle 2 rewritten: 2 versions below, each the best of 16 candidates" in status.inner_text()
    versions = page.locator("#results article.composition.rewritten")
    assert versions.count() == 2
    old = the_composition(original)
    texts = []
    for i in range(2):
        version = versions.nth(i)
        text = version.locator("pre.text").text_content()
        new = the_composition(text)
        assert new.cycles[0] == old.cycles[0] and new.cycles[2] == old.cycles[2] and new.landing == old.landing
        rows = version.locator("table.tala-grid tr.cycle")
        assert rows.count() == 3
        assert [rows.nth(j).evaluate("tr => tr.classList.contains('rewritten')") for j in range(3)] == \
            [False, True, False]
        assert "cycle 2 of #" in version.locator(".meta").inner_text()
        texts.append(text)
    assert any(the_composition(t).cycles[1] != old.cycles[1] for t in texts)
    # The card the versions came from is unchanged, and sits above them.
    assert card.locator("pre.text").text_content() == original
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-tabla-rewrite.png"), full_page=True)
    # A version can be rewritten in turn; a range it does not have is the server's message, nothing added.
    version = versions.first
    version.locator("form.rewrite input.cycles").fill("7")
    version.locator("form.rewrite button.rewrite").click()
    error = version.locator("form.rewrite .rewrite-status")
    page.wait_for_function("el => el.classList.contains('error')", arg=error.element_handle(), timeout=20_000)
    assert "cycles 7: the composition has 3 cycles" in error.inner_text()
    assert versions.count() == 2
