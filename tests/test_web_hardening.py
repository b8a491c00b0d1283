"""Issue 14's examples, one test each: what gave a 500 is a 4xx naming the field, what was let through is
refused, and what is accepted at its extremes still gives well-formed music.

(`test_web_fuzz.py` sends random requests of every kind; these are the cases the issue names, kept.)
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tunesmith.music.abc.check import check_text
from tunesmith.music.tabla import read_text
from tunesmith.web.app import create_app

JIG = "X:1\nT:The Test Jig\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|fdf ecA|d3 d2:|\n"
BIG = [2**63, 2**63 + 1, 2**64, 10**30]


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:
    """The app on a fresh database with the shipped models, one tune and one composition stored."""
    client = TestClient(create_app(db=tmp_path_factory.mktemp("hard") / "tunes.db", runs_dir=None),
                        raise_server_exceptions=False)
    assert client.post("/api/tunes", json={"abc": JIG}).status_code == 201
    assert client.post("/api/tabla/generate", json={"n": 1, "seed": 1, "cycles": 1}).status_code == 200
    return client


def post_raw(client: TestClient, path: str, text: str):
    return client.post(path, content=text, headers={"content-type": "application/json"})


def refused(response, status: int, *words: str) -> str:
    """The JSON error's message, checked: the status, and the words (the field) in it."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, (word, detail)
    return detail


# -- 3. ids past SQLite's 64-bit integers ----------------------------------------------

@pytest.mark.parametrize("number", BIG)
@pytest.mark.parametrize("path", ["/api/tunes/{}", "/api/tunes/{}.mid", "/api/tunes/{}.abc", "/api/tabla/{}",
                                  "/api/tabla/{}.mid", "/api/tabla/{}.txt"])
def test_a_huge_id_is_not_found(client, path, number):
    refused(client.get(path.format(number)), 404, str(number))


@pytest.mark.parametrize("number", BIG)
@pytest.mark.parametrize("path", ["/tune/{}", "/tune/{}/inside", "/tabla/{}"])
def test_a_huge_id_page_is_not_found(client, path, number):
    page = client.get(path.format(number))
    assert page.status_code == 404 and "<html" in page.text


def test_the_largest_id_is_just_missing(client):
    refused(client.get(f"/api/tunes/{2**63 - 1}"), 404, "no tune")


def test_a_huge_offset_names_offset(client):
    refused(client.get(f"/api/tunes?offset={2**63}"), 422, "offset")
    answer = client.get(f"/api/tunes?offset={2**63 - 1}")
    assert answer.status_code == 200 and answer.json()["tunes"] == []


@pytest.mark.parametrize("page", [9223372036854775807, 2**63, -(2**63) - 5, 0, 10**40])
def test_any_archive_page_shows_the_nearest(client, page):
    answer = client.get(f"/archive?page={page}")
    assert answer.status_code == 200 and "The Test Jig" in answer.text


@pytest.mark.parametrize("parent", [2**63, 10**30, -(2**63) - 1])
def test_a_huge_parent_is_not_found(client, parent):
    refused(post_raw(client, "/api/tunes", json.dumps({"abc": JIG, "parent": parent})), 404, "parent", str(parent))


@pytest.mark.parametrize("layer", [2**63, -(2**63) - 1])
def test_a_huge_layer_is_refused(client, layer):
    page = client.get(f"/tune/1/inside?layer={layer}")
    assert 400 <= page.status_code < 500 and "layer" in page.text


# -- 3. numbers JSON writes but Python cannot keep -------------------------------------------

@pytest.mark.parametrize("path", ["/api/generate", "/api/tabla/generate"])
@pytest.mark.parametrize("field, spelled", [("n", "1e309"), ("seed", "1e400"), ("n", "NaN"), ("seed", "-Infinity"),
                                            ("temperature", "Infinity"), ("temperature", "NaN"),
                                            ("top_p", "1e309"), ("top_k", "Infinity"), ("max_length", "1e309")])
def test_a_non_finite_number_names_its_field(client, path, field, spelled):
    detail = refused(post_raw(client, path, f'{{"{field}": {spelled}}}'), 422, field)
    assert "\\u" not in detail


@pytest.mark.parametrize("field, spelled", [("tempo", "Infinity"), ("tempo", "NaN"), ("cycles", "1e309")])
def test_a_non_finite_tabla_option_names_it(client, field, spelled):
    refused(post_raw(client, "/api/tabla/generate", f'{{"{field}": {spelled}}}'), 422, field)


def test_the_error_list_holds_only_json(client):
    answer = post_raw(client, "/api/generate", '{"n": 1e309, "seed": NaN, "model": "\\ud800", "top_k": ' + "9" * 300 + "}")
    assert answer.status_code == 422
    json.loads(answer.text, parse_constant=lambda c: pytest.fail(f"{c} in the answer"))
    assert {tuple(e["loc"]) for e in answer.json()["errors"]} >= {("body", "n"), ("body", "seed"), ("body", "model")}


# -- 3. lone surrogates -------------------------------------------------------------------

SURROGATE = {"/api/check": "abc", "/api/tunes": "abc", "/api/render": "abc", "/api/generate": "primer",
             "/api/tabla/generate": "tala"}


@pytest.mark.parametrize("path, field", SURROGATE.items())
@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\udc00x"])
def test_a_lone_surrogate_names_its_field(client, path, field, escape):
    text = '{"%s": "X:1\\nT:%s\\nK:D\\nabc|\\n"}' % (field, escape)
    refused(post_raw(client, path, text), 422, field, "not Unicode text")


@pytest.mark.parametrize("field", ["model", "meter", "key", "rhythm", "length"])
def test_every_text_field_refuses_a_surrogate(client, field):
    refused(post_raw(client, "/api/generate", '{"%s": "a\\ud800"}' % field), 422, field, "not Unicode text")


def test_a_surrogate_in_a_field_name_is_refused(client):
    refused(post_raw(client, "/api/check", '{"abc": "X:1\\nK:D\\nabc|\\n", "\\ud800": 1}'), 422)


def test_a_real_astral_character_is_text(client):
    answer = post_raw(client, "/api/check", '{"abc": "X:1\\nT:\\ud83c\\udfb5 tune\\nK:D\\nabc|\\n"}')
    assert answer.status_code == 200, answer.text


# -- 4. strict types, sane ranges -----------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({"n": "1"}, "n"), ({"n": True}, "n"), ({"n": 1.0}, "n"), ({"n": 1.5}, "n"), ({"seed": "5"}, "seed"),
    ({"seed": -1}, "seed"), ({"seed": 2**63}, "seed"), ({"temperature": "1"}, "temperature"),
    ({"temperature": True}, "temperature"), ({"temperature": 0}, "temperature"), ({"temperature": -1}, "temperature"),
    ({"temperature": 10.5}, "temperature"), ({"temperature": 1e308}, "temperature"), ({"top_p": 0}, "top_p"),
    ({"top_p": 1.01}, "top_p"), ({"top_k": 0}, "top_k"), ({"top_k": 10**9}, "top_k"), ({"top_k": 2.0}, "top_k"),
    ({"max_length": 127}, "max_length"), ({"max_length": "200"}, "max_length"), ({"meter": 68}, "meter"),
    ({"primer": ["a"]}, "primer"), ({"model": {}}, "model"), ({"nn": 1}, "nn"), ({"n": 1, "temprature": 2}, "temprature"),
])
def test_generate_refuses_loose_values(client, body, field):
    refused(client.post("/api/generate", json=body), 422, field)


@pytest.mark.parametrize("body, field", [
    ({"cycles": "2"}, "cycles"), ({"cycles": 0}, "cycles"), ({"cycles": 65}, "cycles"), ({"cycles": 2.0}, "cycles"),
    ({"tempo": "90"}, "tempo"), ({"tempo": 0}, "tempo"), ({"tempo": 1001}, "tempo"), ({"theka": "yes"}, "theka"),
    ({"drone": 1}, "drone"), ({"tala": 16}, "tala"), ({"temperature": 11}, "temperature"), ({"meter": "6/8"}, "meter"),
])
def test_tabla_generate_refuses_loose_values(client, body, field):
    refused(client.post("/api/tabla/generate", json=body), 422, field)


@pytest.mark.parametrize("path", ["/api/check", "/api/tunes", "/api/render"])
@pytest.mark.parametrize("body", [{"abc": 5}, {"abc": None}, {"abc": ["X:1"]}, {"abc": JIG, "extra": 1}, {}])
def test_abc_bodies_are_strict(client, path, body):
    refused(client.post(path, json=body), 422)


def test_a_parent_must_be_a_number(client):
    refused(client.post("/api/tunes", json={"abc": JIG, "parent": "1"}), 422, "parent")
    refused(client.post("/api/tunes", json={"abc": JIG, "parent": True}), 422, "parent")


@pytest.mark.parametrize("length", ["1/3", "1/1", "1/6", "2/8", "1/128", "1/0", "1/08"])
def test_a_unit_length_is_a_power_of_two(client, length):
    refused(client.post("/api/generate", json={"length": length, "seed": 1}), 400, "length", "1/2^k")


@pytest.mark.parametrize("meter", ["7/3", "1/64", "64/1", "17/4", "0/4", "6/0", "2+3/8"])
def test_a_meter_is_one_tunesmith_writes(client, meter):
    refused(client.post("/api/generate", json={"meter": meter, "seed": 1}), 400, "meter")


@pytest.mark.parametrize("content, headers", [("hello", {}), ("n=1", {"content-type": "application/x-www-form-urlencoded"}),
                                              ("[1, 2]", {"content-type": "application/json"}),
                                              ('"a"', {"content-type": "application/json"}),
                                              ("", {"content-type": "application/json"})])
def test_a_body_that_is_no_json_object_says_to_send_json(client, content, headers):
    detail = refused(client.post("/api/generate", content=content, headers=headers), 422, "JSON object")
    assert "valid dictionary" not in detail


def test_invalid_json_says_so(client):
    refused(post_raw(client, "/api/generate", '{"n": }'), 422, "not valid JSON")


# -- 4. well-formed at every setting the API accepts ---------------------------------------------

@pytest.mark.parametrize("settings", [
    {"temperature": 10, "top_p": 1},
    {"temperature": 10, "top_p": None, "max_length": 128},
    {"temperature": 10, "top_k": 1},
    {"temperature": 1e-300, "top_p": 1e-300},
    {"temperature": 10, "top_p": None, "meter": "4/1", "length": "1/16"},
    {"temperature": 10, "top_p": None, "meter": "1/16", "length": "1/64", "max_length": 128},
])
def test_tunes_are_well_formed_at_the_extremes(client, settings):
    answer = client.post("/api/generate", json={"n": 2, "seed": 3, **settings})
    assert answer.status_code == 200, answer.text
    for tune in answer.json()["tunes"]:
        [report] = check_text(tune["abc"])
        assert report.problems == [] and tune["problems"] == [], tune["abc"]
        assert "\nK:" in tune["abc"]


def test_tabla_is_well_formed_at_the_extremes(client):
    answer = client.post("/api/tabla/generate", json={"n": 2, "seed": 3, "temperature": 10, "top_p": 1,
                                                      "cycles": 2, "tala": "rupak"})
    assert answer.status_code == 200, answer.text
    for comp in answer.json()["compositions"]:
        [reading] = read_text(comp["text"])
        assert reading.composition is not None and not reading.problems


# -- 6. the favicon ---------------------------------------------------------------------------

def test_every_page_links_a_favicon_that_is_served(client):
    for path in ["/", "/archive", "/tabla", "/tune/1"]:
        page = client.get(path)
        assert '<link rel="icon" href="/static/favicon.svg"' in page.text, path
    for path in ["/static/favicon.svg", "/favicon.ico"]:
        icon = client.get(path)
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        assert icon.text.lstrip().startswith("<svg")
