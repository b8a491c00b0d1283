"""The front page, a tune page, "Look inside" and the tabla page in a real browser (headless chromium, as
test_web_browser.py), at a laptop's width (1280 CSS px) and a phone's (390): nothing wider than the screen,
a phone's score (and its surprise map) engraved for its width and as readable as a laptop's, "Surprise me", the compact view's
hover and tap, and the API page's worked example run as written (curl) against the live server.

Screenshots land in out/test-artifacts/screenshots/ (NAME-1280.png, NAME-390.png).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import test_web_browser as served

from tunesmith.web.apidoc import EXAMPLE_FILE, curl_command, shown
from tunesmith.web.front import WELCOME_SEED, surprise_style
from conftest import local_only  # tests/conftest.py

# One server (its store fresh: it writes the welcome tune as it starts) and one browser for the module.
server, browser = served.server, served.browser
SCREENSHOTS = served.ARTIFACTS / "screenshots"
WIDTHS = (1280, 390)
PHONE = 390

# The staff's line spacing in CSS pixels, the score's box, and whether anything is wider than the screen.
MEASURE = """sheet => {
  const lines = [...sheet.querySelector('g.staff').querySelectorAll(':scope > path')].slice(0, 5)
    .map(p => p.getBoundingClientRect().top).sort((a, b) => a - b);
  const svg = sheet.querySelector('svg').getBoundingClientRect();
  return {space: (lines[4] - lines[0]) / 4, left: svg.left, right: svg.right, width: svg.width,
          viewport: window.innerWidth, page: document.documentElement.scrollWidth,
          units: Number(sheet.dataset.pageUnits || 2100)};
}"""


@pytest.fixture
def at(browser, server):
    """Opens pages at a viewport width; each may only talk to the server and must raise no script error."""
    contexts, elsewhere, errors = [], [], []

    only_local = local_only(server, elsewhere)

    def open_at(width: int, path: str):
        context = browser.new_context(base_url=server, viewport={"width": width, "height": 900},
                                      is_mobile=width <= PHONE, has_touch=width <= PHONE)
        context.route("**/*", only_local)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path)
        return page

    yield open_at
    for context in contexts:
        context.close()
    assert not elsewhere, f"the page tried to load from outside: {elsewhere}"
    assert not errors, f"script errors: {errors}"


def fits(page) -> None:
    """Nothing on the page is wider than the screen (no sideways scrolling)."""
    wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], f"the page is {wide[0]} px wide on a {wide[1]} px screen"


def engraved_for_its_box(page, sheet, width: int) -> dict:
    """The score once app.js has engraved it for its box (a phone's), measured."""
    sheet.locator(":scope > svg").wait_for(timeout=30_000)  # the front page's may be fetched by app.js
    if width <= PHONE:
        page.wait_for_function("s => Number(s.dataset.pageUnits) < 2100", arg=sheet.element_handle(),
                               timeout=30_000)
    return sheet.evaluate(MEASURE)


def screenshot(page, name: str, width: int) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


def test_front_and_tune_pages_fit_a_phone_and_its_score_reads_as_on_a_laptop(at):
    staff = {}
    for width in WIDTHS:
        page = at(width, "/")
        featured = page.locator("article.featured")
        assert f"first started (seed {WELCOME_SEED})" in featured.locator(".featured-label").inner_text()
        assert page.locator("aside.recent li").count() >= 1 and page.locator("#surprise-me").is_visible()
        score = engraved_for_its_box(page, featured.locator(".sheet"), width)
        assert score["left"] >= 0 and score["right"] <= score["viewport"] and score["width"] <= width
        fits(page)
        screenshot(page, "front", width)

        page = at(width, featured.locator("h2 a").get_attribute("href"))
        sheet = page.locator("article.tune .sheet")
        score = engraved_for_its_box(page, sheet, width)
        assert score["left"] >= 0 and score["right"] <= score["viewport"] and score["width"] <= width
        staff[width] = score
        assert sheet.locator("g.note").count() > 20  # the whole tune, engraved again
        fits(page)
        screenshot(page, "tune", width)
    # Before, a phone drew this score at 0.43 of a laptop's size; now its notes are as large (within 10 %).
    assert staff[PHONE]["space"] >= 0.9 * staff[1280]["space"], staff
    assert staff[1280]["units"] == 2100 and 600 <= staff[PHONE]["units"] < 1300


def test_an_edit_on_a_phone_is_engraved_for_the_phone(at):
    page = at(PHONE, "/")
    page.goto(page.locator("article.featured h2 a").get_attribute("href"))
    sheet = page.locator("article.tune .sheet")
    engraved_for_its_box(page, sheet, PHONE)
    before = sheet.inner_html()
    text = page.locator("textarea.abc")
    text.fill(text.input_value().replace("T:", "T:Edited "))
    page.wait_for_function("([s, old]) => s.innerHTML !== old", arg=[sheet.element_handle(), before], timeout=30_000)
    assert sheet.evaluate(MEASURE)["units"] < 2100 and "Edited" in sheet.inner_html()


def test_the_surprise_map_on_a_phone_is_engraved_for_the_phone(at):
    """Turning the surprise map on keeps a phone's score as large as a laptop's (within 10 %): /api/surprise
    engraves it for the box, as the plain score is; every note of the tune is coloured at both widths."""
    staff, coloured = {}, {}
    for width in WIDTHS:
        page = at(width, "/")
        page.goto(page.locator("article.featured h2 a").get_attribute("href"))
        sheet = page.locator("article.tune .sheet")
        engraved_for_its_box(page, sheet, width)
        page.locator("article.tune button.surprise-toggle").click()
        page.wait_for_function("s => s.querySelectorAll('g.surprise').length > 0", arg=sheet.element_handle(),
                               timeout=60_000)
        score = sheet.evaluate(MEASURE)
        assert score["left"] >= 0 and score["right"] <= score["viewport"] and score["width"] <= width
        staff[width], coloured[width] = score, sheet.locator("g.surprise").count()
        fits(page)
        screenshot(page, "surprise", width)
    assert staff[PHONE]["space"] >= 0.9 * staff[1280]["space"], staff
    assert staff[1280]["units"] == 2100 and 600 <= staff[PHONE]["units"] < 1300
    assert coloured[PHONE] == coloured[1280] > 20, coloured


def test_tabla_page_at_both_widths(at):
    for width in WIDTHS:
        page = at(width, "/tabla")
        page.fill("input[name=seed]", "4")
        page.click("#go")
        page.locator("#results article.composition").first.wait_for(timeout=60_000)
        fits(page)
        screenshot(page, "tabla", width)


def test_surprise_me_opens_a_new_tune_in_the_style_its_seed_names(at):
    page = at(PHONE, "/")
    page.click("#surprise-me")
    page.wait_for_url(re.compile(r".*/tune/\d+$"), timeout=60_000)
    tune = page.request.get("/api/tunes/" + page.url.rsplit("/", 1)[1]).json()
    style = surprise_style(tune["params"]["seed"])
    assert (tune["params"]["rhythm"], tune["params"]["meter"], tune["params"]["key"]) == (
        style.rhythm, style.meter, style.key)
    assert f"\nM:{style.meter}\n" in tune["abc"] and f"\nK:{style.key}\n" in tune["abc"]
    page.locator("article.tune .sheet > svg").wait_for(timeout=30_000)
    page.goto("/")
    assert page.locator("aside.recent li a").first.inner_text() == tune["title"]  # the newest tune now


def test_look_inside_compact_shows_the_guesses_on_hover_and_tap(at):
    abc = "X:1\nT:Inside\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|fdf ecA|d3 d2:|\n"
    heights = {}
    for width in WIDTHS:
        page = at(width, "/")
        tune = page.request.post("/api/tunes", data={"abc": abc}).json()
        for view in ("full", "compact"):
            page.goto(f"/tune/{tune['id']}/inside?layer=1&neuron=5&view={view}")
            heights[width, view] = page.evaluate(  # from the tune's first line of characters to its last
                "(() => { const rows = [...document.querySelectorAll('section.inside .line')];"
                " return rows.at(-1).getBoundingClientRect().bottom - rows[0].getBoundingClientRect().top; })()")
        cell = page.locator(".inside-compact .ch").nth(8)  # the "s" of T:Inside
        if width <= PHONE:
            cell.tap()
        else:
            cell.hover()
        info = page.locator(".inside-info")
        guesses = json.loads(cell.get_attribute("data-g"))
        shown_guesses = info.locator(".guess").all_inner_texts()
        assert [g.rsplit(" ", 2)[0] for g in shown_guesses] == [s.replace(" ", "\u2423") for s, _, _ in guesses]
        assert [float(g.rsplit(" ", 2)[1]) for g in shown_guesses] == pytest.approx([100 * p for _, p, _ in guesses],
                                                                                    abs=0.051)
        assert "neuron 5 of layer 1" in info.inner_text()
        legend = page.locator(".inside-legend")
        assert legend.locator(".ticks").first.inner_text().split() == [
            t.inner_text() for t in legend.locator(".ticks").first.locator("span").all()]
        fits(page)
        screenshot(page, "inside", width)
    # The compact view takes a fraction of the full view's height, at either width.
    assert all(heights[width, "compact"] * 2.5 < heights[width, "full"] for width in WIDTHS), heights


def test_the_api_pages_worked_example_still_answers_as_shown(at, server):
    example = json.loads(EXAMPLE_FILE.read_text())
    command = curl_command(server)
    answer = json.loads(subprocess.run(command, shell=True, check=True, capture_output=True, text=True,
                                       timeout=120).stdout)
    got, documented = shown(answer), example["answer"]
    for tune in got["tunes"] + documented["tunes"]:  # ids depend on what the store held before
        assert tune["url"] == f"/tune/{tune['id']}" and tune["files"]["mid"] == f"/api/tunes/{tune['id']}.mid"
        del tune["id"], tune["url"], tune["files"]
    assert got == documented, "the API page's example is stale: run python -m tunesmith.web.apidoc"

    page = at(1280, "/docs")
    page.locator(".swagger-ui .info .title").wait_for(timeout=20_000)
    intro = page.locator(".swagger-ui .info .description").inner_text()
    assert "What it is for." in intro and curl_command() in intro
    assert example["answer"]["tunes"][0]["title"] in intro
