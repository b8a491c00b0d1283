"""The front page's invitation, "Surprise me"'s styles, the "Look inside" legend and compact view, with the
shipped model (web/front.py, web/inside.py). The same pages in a browser: test_front_browser.py."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient

from tunesmith.insight.abc2midi import judge
from tunesmith.insight.visualize import activation_colour, probability_colour
from tunesmith.music.abc.check import check_tune
from tunesmith.web.app import create_app
from tunesmith.web.front import SURPRISE_STYLES, WELCOME_SEED, WELCOME_STYLE, surprise_style
from tunesmith.web.inside import bar_groups

JIG = "X:1\nT:Inside Test\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|:fdf ecA|d3 d2:|\n"


def fresh(tmp_path, name="tunes.db") -> TestClient:
    return TestClient(create_app(db=tmp_path / name, runs_dir=None))


def header(abc: str, field: str) -> str | None:
    found = re.search(rf"^{field}:(.*)$", abc, re.MULTILINE)
    return found and found.group(1).strip()


def clean(abc: str) -> bool:
    """abc2midi finds no error and no bar of the wrong length; our checker no problem."""
    verdict = judge(abc)
    return verdict.ok and not verdict.bar_warnings and not check_tune(abc)


def first_visit(client: TestClient) -> str:
    """The front page of an empty store: it starts the welcome tune's writing and says so; then the page again."""
    page = client.get("/").text
    assert "The first tune is being written" in page and 'data-reload-after="2000"' in page  # app.js reloads
    client.app.state.front.wait(120)
    return client.get("/").text


def test_an_empty_store_gets_a_welcome_tune_then_shows_the_newest(tmp_path):
    client = fresh(tmp_path)
    text = first_visit(client)
    listed = client.get("/api/tunes").json()
    assert listed["total"] == 1  # written for the first visit, once
    welcome = client.get(f"/api/tunes/{listed['tunes'][0]['id']}").json()
    assert welcome["params"]["welcome"] is True and welcome["params"]["seed"] == WELCOME_SEED
    assert (header(welcome["abc"], "M"), header(welcome["abc"], "K"), header(welcome["abc"], "R")) == (
        WELCOME_STYLE.meter, WELCOME_STYLE.key, WELCOME_STYLE.rhythm)
    assert clean(welcome["abc"])
    assert f"when this app first started (seed {WELCOME_SEED})" in text
    featured = text[text.index('<article class="featured"'):text.index("</article>")]
    assert f'src="{welcome["files"]["wav"]}"' in featured and html.escape(welcome["title"]) in featured
    # Its score: fetched by the page the first time (the page does not wait for the engraver), then inline.
    assert f'data-svg-src="{welcome["files"]["svg"]}"' in featured and "<svg" not in featured
    svg = client.get(welcome["files"]["svg"]).text
    again = client.get("/").text
    assert svg.startswith("<svg") and svg in again and "data-svg-src" not in again
    assert client.get("/api/tunes").json()["total"] == 1  # not written again

    # The same seed on another fresh store: the same welcome tune.
    again = fresh(tmp_path, "other.db")
    first_visit(again)
    assert again.get("/api/tunes").json()["tunes"][0]["abc"] == welcome["abc"]

    newer = client.post("/api/generate", json={"n": 1, "seed": 31}).json()["tunes"][0]
    saved = client.post("/api/tunes", json={"abc": JIG}).json()  # an edit is newer still, but not featured
    text = client.get("/").text
    featured = text[text.index('<article class="featured"'):text.index("</article>")]
    assert "The newest tune in the archive" in featured and f'href="{newer["url"]}"' in featured
    recent = text[text.index('<aside class="recent"'):]
    order = [int(n) for n in re.findall(r'<li><a href="/tune/(\d+)"', recent)]
    assert order == [saved["id"], newer["id"], welcome["id"]] and "The archive: 3 tunes" in recent


def test_the_front_page_without_a_model_still_works(tmp_path):
    client = TestClient(create_app(db=tmp_path / "t.db", runs_dir=None, shipped_dir=tmp_path / "none"))
    page = first_visit(client)
    assert "No tune to play yet:" in page and "run `make models`" in page and "data-reload-after" not in page


def test_surprise_styles_are_every_rhythm_in_every_key_and_write_clean_tunes(tmp_path):
    assert len(set(SURPRISE_STYLES)) == len(SURPRISE_STYLES) == 42  # 7 rhythms x 6 keys, each once
    client = fresh(tmp_path)
    page = first_visit(client)
    styles = re.search(r'id="surprise-me" data-styles="([^"]*)"', page).group(1)
    assert [(s["rhythm"], s["meter"], s["key"]) for s in json.loads(html.unescape(styles))] == [
        (s.rhythm, s.meter, s.key) for s in SURPRISE_STYLES]  # what app.js picks from, in this order
    for seed in range(7):  # each rhythm once, in six keys
        style = surprise_style(seed)
        tune = client.post("/api/generate", json={"n": 1, "seed": seed, "rhythm": style.rhythm,
                                                  "meter": style.meter, "key": style.key}).json()["tunes"][0]
        abc = tune["abc"]
        assert (header(abc, "M"), header(abc, "K")) == (style.meter, style.key), abc
        assert style.rhythm is None or header(abc, "R") == style.rhythm
        assert clean(abc), abc


def test_bars_are_kept_whole_and_lines_end_at_newlines():
    symbols = list("M:6/8\n|:dfe dcB|AFA d2e:|\n|fdf|]\n")
    lines = [["".join(symbols[t] for t in group) for group in line] for line in bar_groups(symbols)]
    assert lines == [["M:6/8\n"], ["|:dfe dcB|", "AFA d2e:|", "\n"], ["|fdf|]", "\n"]]


def test_look_inside_has_a_legend_with_numbers_and_a_compact_view(tmp_path):
    client = fresh(tmp_path)
    tune = client.post("/api/tunes", json={"abc": JIG}).json()
    page = client.get(f"/tune/{tune['id']}/inside", params={"layer": 1, "neuron": 5}).text
    cells = re.findall(r'<span class="ch[^"]*" data-t="(\d+)" data-a="([^"]+)" data-g="([^"]+)" '
                       r'style="background:([^;]+);border-bottom-color:([^"]+)">', page)
    assert len(cells) == len(JIG) + 1  # every character and the newline that ends the tune
    acts = [float(a) for _, a, _, _, _ in cells]
    scale = max(abs(a) for a in acts)
    ticks = page[page.index('data-kind="activation"'):page.index('data-kind="probability"')]
    numbers = [float(x) for x in re.findall(r"<span>([^<]+)</span>", ticks)]
    assert len(numbers) == 5
    assert numbers[0] == pytest.approx(-scale, abs=0.006) and numbers[-1] == pytest.approx(scale, abs=0.006)
    assert numbers[2] == 0 and "neuron 5 of layer 1" in page
    assert re.search(r'data-kind="probability".*?<span>0 %</span>.*?<span>100 %</span>', page)
    for _, act, guesses, background, underline in cells:
        top = json.loads(html.unescape(guesses))
        assert len(top) == 5 and [p for _, p, _ in top] == sorted((p for _, p, _ in top), reverse=True)
        assert underline == probability_colour(top[0][1]) and all(c == probability_colour(p) for _, p, c in top)
        assert background == activation_colour(float(act), scale) or abs(abs(float(act)) - scale) < 1e-3
    # Bars whole: the groups a narrow screen may wrap between are the bars, each with its closing bar line.
    reading = page[page.index('<div class="reading">'):]
    groups = ["".join(html.unescape(t) for t in re.findall(r'">([^<]*)</span>', group))
              for group in reading.split('<span class="bar">')[1:]]
    groups = [g.replace("\u2423", " ") for g in groups]  # a space is drawn as a visible one
    assert groups[5:10] == ["A|", "dfe dcB|", "AFA d2e|:", "fdf ecA|", "d3 d2:|"] and groups[10] == "\u21b5"
