"""The web API of the surprise map and of writing on (/api/surprise, /api/surprise/regenerate, and
/api/generate's primer as the editor's "continue from cursor"), through FastAPI's test client with the
shipped model; abc2midi judges what the model wrote."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tunesmith.insight.abc2midi import judge
from tunesmith.music.abc.check import check_tune
from tunesmith.music.abc.positions import bar_line_after, body_offset, text_notes
from tunesmith.web.app import create_app

JIG = "X:3\nT:Test\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|fdf ecA|d3 d2:|\n"
BEFORE = "% the editor's text may start with a comment\n\n"  # offsets count in the text as sent


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:
    return TestClient(create_app(db=tmp_path_factory.mktemp("surprisedb") / "tunes.db", runs_dir=None))


@pytest.fixture(scope="module")
def jig_map(client) -> dict:
    r = client.post("/api/surprise", json={"abc": BEFORE + JIG})
    assert r.status_code == 200, r.text
    return r.json()


def clean(tune: str) -> bool:
    """abc2midi finds no error and no bar of the wrong length; our checker no problem."""
    verdict = judge(tune)
    return verdict.ok and not verdict.bar_warnings and not check_tune(tune)


def test_the_map_gives_each_notes_characters_bits_and_alternatives(jig_map):
    sent = BEFORE + JIG
    notes = jig_map["notes"]
    assert jig_map["model"] == "default" and jig_map["unit"] == "char" and jig_map["unmapped"] == 0
    assert [sent[n["start"]:n["end"]] for n in notes] == [n.text for n in text_notes(JIG)]
    assert all(n["text"] == sent[n["start"]:n["end"]] and n["bits"] > 0 and n["checked"] for n in notes)
    assert all(1 <= len(n["alternatives"]) <= 5 for n in notes)
    svg = jig_map["svg"]
    assert svg.count(' surprise"') == len(notes) and all(f'id="{n["id"]}"' in svg for n in notes)
    assert jig_map["mean_bits"] == pytest.approx(sum(n["bits"] for n in notes) / len(notes), abs=1e-3)


def test_a_phones_narrower_page_maps_the_same_notes(client, jig_map):
    """`width` engraves the map's score on a narrower page (a phone's, as /api/render does): the same notes,
    characters and figures, on a page whose viewBox is narrower; a width out of range is refused naming it."""
    r = client.post("/api/surprise", json={"abc": BEFORE + JIG, "width": 1050})
    assert r.status_code == 200, r.text
    narrow = r.json()
    assert narrow["unmapped"] == 0
    assert narrow["notes"] == jig_map["notes"]

    def page_width(svg: str) -> float:
        return float(re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+)', svg).group(1))

    assert page_width(narrow["svg"]) < 0.6 * page_width(jig_map["svg"])
    wrong = client.post("/api/surprise", json={"abc": JIG, "width": 100})
    assert wrong.status_code == 422 and "width" in wrong.json()["detail"], wrong.text


def test_writing_the_rest_of_a_bar_again_keeps_the_rest_of_the_tune(client, jig_map):
    assert clean(JIG)
    note = max(jig_map["notes"], key=lambda n: n["bits"])
    symbol = note["alternatives"][0]["symbol"]
    request = {"abc": BEFORE + JIG, "at": note["start"], "symbol": symbol, "scope": "bar", "seed": 5}
    r = client.post("/api/surprise/regenerate", json=request)
    assert r.status_code == 200, r.text
    answer = r.json()
    tune = answer["tunes"][0]
    new, (start, end) = tune["abc"], answer["written"]
    at = note["start"] - len(BEFORE)
    assert new[:at] == JIG[:at] and new[at:at + len(symbol)] == symbol and start == at
    assert new[end:] == JIG[bar_line_after(JIG, at):]  # the tune after the bar is the tune as it was
    assert clean(new), new
    assert tune["svg"].startswith("<svg") and tune["params"]["scope"] == "bar" and tune["params"]["seed"] == 5
    assert client.get(f"/api/tunes/{tune['id']}").json()["abc"] == new
    again = client.post("/api/surprise/regenerate", json=request).json()["tunes"][0]["abc"]
    assert again == new  # the same seed, the same tune


def test_writing_the_rest_of_the_tune_again(client, jig_map):
    note = jig_map["notes"][8]
    symbol = note["alternatives"][1]["symbol"]
    r = client.post("/api/surprise/regenerate", json={"abc": BEFORE + JIG, "at": note["start"], "symbol": symbol,
                                                       "scope": "tune", "seed": 6})
    assert r.status_code == 200, r.text
    new, (start, end) = r.json()["tunes"][0]["abc"], r.json()["written"]
    primer_body = JIG[body_offset(JIG):note["start"] - len(BEFORE)] + symbol
    assert new[body_offset(new):].startswith(primer_body) and end == len(new)
    assert new[start:start + len(symbol)] == symbol and clean(new), new


def test_continue_from_the_cursor_is_generate_with_the_text_before_it(client):
    """What the editor's button sends: the text before the cursor, here in the middle of a bar."""
    primer = JIG[:JIG.index("d2e")]
    r = client.post("/api/generate", json={"n": 1, "seed": 4, "primer": primer})
    assert r.status_code == 200, r.text
    new = r.json()["tunes"][0]["abc"]
    assert new.split("\n", 1)[1].startswith(primer.split("\n", 1)[1]) and len(new) > len(primer) + 10
    assert clean(new), new


@pytest.mark.parametrize("change, status, message", [
    ({"at": 7}, 422, "at 7: no note or rest"),
    ({"symbol": "\u00e9"}, 422, "symbol '\u00e9': not a symbol of model 'default'"),
    ({"symbol": "]"}, 422, "symbol ']': the tune cannot go on with it"),
    # `|` may start a `||` after a short bar, but no bar the model ends there fits where a full one was.
    ({"symbol": "|", "seed": 1}, 422, "the model's bar did not fit back into the tune with seeds 1 to 4"),
    ({"scope": "verse"}, 422, "scope"),
    ({"model": "nope"}, 400, "model 'nope': no such model"),
    ({"abc": JIG + "\n" + JIG}, 422, "2 tunes found"),
])
def test_a_bad_request_to_write_again_is_refused_with_its_reason(client, change, status, message):
    at = len(BEFORE) + JIG.index("dcB")
    r = client.post("/api/surprise/regenerate", json={"abc": BEFORE + JIG, "at": at, "symbol": "e", **change})
    assert r.status_code == status and message in r.json()["detail"], r.text


def test_a_tune_the_model_cannot_read_is_refused_with_its_reason(client):
    r = client.post("/api/surprise", json={"abc": JIG.replace("T:Test", "T:Caf\u00e9")})
    assert r.status_code == 422 and "abc: characters '\u00e9'" in r.json()["detail"]
    r = client.post("/api/surprise", json={"abc": JIG, "model": "nope"})
    assert r.status_code == 400 and "no such model" in r.json()["detail"]
