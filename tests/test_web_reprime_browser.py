"""Writing on from a tune and the surprise map, in a real browser (headless chromium, as test_web_browser.py):
continue from the editor's cursor and from a selected phrase, the coloured score, a click on a note for
the model's alternatives, and writing the rest of the bar or of the tune again from one.
abc2midi judges the tunes the model wrote. The screenshot is kept in out/test-artifacts/surprise.png.
"""

from __future__ import annotations

import re

import test_web_browser as served

from tunesmith.insight.abc2midi import judge
from tunesmith.insight.surprise import surprise_colour
from tunesmith.music.abc.check import check_tune
from tunesmith.music.abc.positions import bar_line_after, text_notes

# The served app and the browser, and the page that may only talk to it: test_web_browser.py's fixtures.
server, browser, page = served.server, served.browser, served.page
ARTIFACTS = served.ARTIFACTS
JIG = "X:1\nT:Surprise Test\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|fdf ecA|d3 d2:|\n"


def clean(tune: str) -> bool:
    """abc2midi finds no error and no bar of the wrong length; our checker no problem."""
    verdict = judge(tune)
    return verdict.ok and not verdict.bar_warnings and not check_tune(tune)


def card_of(page, tune_id: int):
    return page.locator(f"article.tune[data-id='{tune_id}']")


def wait_for_cards(page, count: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('article.tune').length === {count}", timeout=90_000)


def test_continue_from_the_cursor_and_from_a_selected_phrase(page):
    page.goto("/")
    page.fill("input[name=seed]", "12")
    page.click("#go")
    page.locator("#results article.tune .sheet > svg").wait_for(timeout=90_000)
    first = int(page.locator("#results article.tune").first.get_attribute("data-id"))
    card = card_of(page, first)
    editor = card.locator("textarea.abc")
    text = editor.input_value()
    body = text.index("\n", text.index("\nK:") + 1) + 1
    cursor = text.index("|", body + 2) + 1  # after the first bar line past the body's start

    # Continue from the cursor: the text before it is the primer; the new card comes above, with its seed.
    editor.evaluate("(el, at) => { el.focus(); el.setSelectionRange(at, at); }", cursor)
    card.locator(".reprime-seed").fill("3")
    card.locator("button.continue").click()
    wait_for_cards(page, 2)
    continued = card_of(page, first + 1)
    new = continued.locator("textarea.abc").input_value()
    assert new.split("\n", 1)[1].startswith(text[:cursor].split("\n", 1)[1]) and len(new) > cursor + 10
    assert "seed 3" in continued.locator(".meta").inner_text()
    assert "Continued from #%d at line" % first in continued.locator(".reprime-status").inner_text()
    assert page.locator("article.tune").first.get_attribute("data-id") == str(first + 1)  # above the tune it came from
    continued.locator(".sheet > svg").wait_for(timeout=30_000)
    assert clean(new), new

    # Continue from a phrase: select the body's second line; the primer is the header and that phrase.
    start = text.index("\n", body) + 1
    end = text.index("\n", start)
    editor.evaluate("(el, [a, b]) => { el.focus(); el.setSelectionRange(a, b); }", [start, end])
    card.locator("button.continue-phrase").click()
    wait_for_cards(page, 3)
    phrase = card_of(page, first + 2).locator("textarea.abc").input_value()
    assert phrase.split("\n", 1)[1].startswith(text[:body].split("\n", 1)[1] + text[start:end])
    assert clean(phrase), phrase


def test_the_surprise_map_and_writing_again_from_an_alternative(page):
    saved = page.request.post("/api/tunes", data={"abc": JIG}).json()
    page.goto(saved["url"])
    card = card_of(page, saved["id"])
    card.locator("button.surprise-toggle").click()
    notes = card.locator(".sheet g.surprise")
    page.wait_for_function("n => document.querySelectorAll('.sheet g.surprise').length === n",
                           arg=len(text_notes(JIG)), timeout=60_000)
    assert card.locator("button.surprise-toggle").get_attribute("aria-pressed") == "true"
    assert card.locator(".sheet .surprise-legend").count() == 1
    assert f"Surprise by default: {len(text_notes(JIG))} notes" in card.locator(".reprime-status").inner_text()
    painted = notes.evaluate_all("gs => gs.map(g => [g.getAttribute('fill'), +g.dataset.bits, +g.dataset.start, "
                                 "+g.dataset.end, getComputedStyle(g.querySelector('.notehead use, use')).fill])")
    for fill, bits, start, end, drawn in painted:
        assert fill == surprise_colour(bits) and drawn.replace(" ", "") == fill  # the browser draws that colour
    assert sorted((s, e) for _, _, s, e, _ in painted) == [(n.start, n.end) for n in text_notes(JIG)]

    # Click the most surprising note: its alternatives, and its characters selected in the editor.
    most = max(range(len(painted)), key=lambda i: painted[i][1])
    _, _, start, end, _ = painted[most]
    notes.nth(most).locator(".notehead").click()
    panel = card.locator(".alternatives")
    panel.wait_for(state="visible", timeout=10_000)
    choices = panel.locator("button.alternative")
    assert 1 <= choices.count() <= 5 and re.search(r"\d+(\.\d)? %", choices.first.inner_text())
    assert card.locator("textarea.abc").evaluate("el => [el.selectionStart, el.selectionEnd]") == [start, end]
    assert "picked" in notes.nth(most).get_attribute("class")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "surprise.png"), full_page=True)

    # The rest of the bar, written again from the likeliest alternative: the tune after the bar is kept.
    symbol = choices.first.get_attribute("data-symbol")
    card.locator(".reprime-seed").fill("9")
    choices.first.click()
    wait_for_cards(page, 2)
    bar = card_of(page, saved["id"] + 1)
    new = bar.locator("textarea.abc").input_value()
    assert new[:start] == JIG[:start] and new[start:start + len(symbol)] == symbol
    assert new.endswith(JIG[bar_line_after(JIG, start):]) and new != JIG
    assert "Written again from" in bar.locator(".reprime-status").inner_text()
    assert clean(new), new

    # The rest of the tune, from the second alternative.
    panel.locator("input[value=tune]").check()
    second = panel.locator("button.alternative").nth(1)
    symbol = second.get_attribute("data-symbol")
    second.click()
    wait_for_cards(page, 3)
    rest = card_of(page, saved["id"] + 2).locator("textarea.abc").input_value()
    assert page.locator("article.tune").nth(1).get_attribute("data-id") == str(saved["id"] + 2)  # just above
    assert rest.split("\n", 1)[1].startswith(JIG[:start].split("\n", 1)[1] + symbol)
    assert clean(rest), rest

    # Edited while the map is on: the map follows the new text. Off: the plain score again.
    editor = card.locator("textarea.abc")
    editor.fill(JIG.replace("d3 d2", "d3 d3"))  # a bar too long now, and one note longer
    page.wait_for_function("c => [...c.querySelectorAll('.sheet g.surprise')].some(g => g.dataset.start === '%d')"
                           " && c.querySelector('.alternatives').hidden"
                           % (JIG.index("d3 d2") + 3), arg=card.element_handle(), timeout=60_000)
    card.locator("button.surprise-toggle").click()
    page.wait_for_function("c => c.querySelectorAll('.sheet g.note').length > 0 && "
                           "c.querySelectorAll('.sheet g.surprise').length === 0", arg=card.element_handle(),
                           timeout=30_000)
