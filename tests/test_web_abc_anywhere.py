"""A tune pasted from elsewhere in the web app, in a real browser (headless chromium, as test_web_browser.py):
every voice drawn on a staff of its own and heard in the player, and what tunesmith cannot play listed
under the score as it is typed. The screenshot is kept in out/test-artifacts/abc-anywhere.png.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import mido
import test_web_browser as served

# The served app and the browser, and the page that may only talk to it: test_web_browser.py's fixtures.
server, browser, page = served.server, served.browser, served.page
DATA = Path(__file__).parent / "data" / "abc_anywhere"
STAVES_PER_MEASURE = "el => el.querySelectorAll('g.staff').length / el.querySelectorAll('g.measure').length"


def test_a_duet_is_drawn_and_played_and_what_cannot_be_played_is_listed(page):
    duet = (DATA / "two_voices.abc").read_text().split("\n", 1)[1]  # from its X: line, as pasted
    tune = page.request.post("/api/tunes", data={"abc": duet}).json()
    page.goto(f"/tune/{tune['id']}")
    card = page.locator("article.tune")
    sheet = card.locator(".sheet")
    sheet.locator(":scope > svg").wait_for(timeout=20_000)
    assert page.evaluate(STAVES_PER_MEASURE, sheet.element_handle()) == 2
    assert "Fiddle" in sheet.inner_text() and "Cello" in sheet.inner_text()
    shown = card.locator(".problems li").all_inner_texts()
    assert len(shown) == 2 and shown[0].startswith("line 8:1: %%MIDI program 40: %%MIDI directives are ignored")
    assert "lyrics of a tune with several voices are not drawn" in shown[1]

    # The player's WAV: both voices, as long as the MIDI file, whose notes are the two voices'.
    wav = page.request.get(card.locator("audio").get_attribute("src"))
    assert wav.ok
    with wave.open(io.BytesIO(wav.body())) as w:
        frames = w.getnframes()
    midi = mido.MidiFile(file=io.BytesIO(page.request.get(tune["files"]["mid"]).body()))
    played = [m.note for t in midi.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert len(played) == 48 and min(played) == 43 and abs(frames - midi.length * 44100) <= 1

    # Typed in the editor: the score follows, and each thing that cannot be played is listed with its line.
    before = sheet.inner_html()
    card.locator("textarea.abc").fill((DATA / "unsupported.abc").read_text())
    page.wait_for_function("([el, old]) => el.innerHTML !== old && !el.closest('article').classList.contains('stale')",
                           arg=[sheet.element_handle(), before], timeout=20_000)
    page.wait_for_function("el => el.querySelectorAll('.problems li').length >= 3", arg=card.element_handle(),
                           timeout=20_000)
    listed = card.locator(".problems li").all_inner_texts()
    assert any(t.startswith("line 6:1: V:1 octave=-1: the octave= setting is not applied") for t in listed)
    assert any(t.startswith("line 7:11: voice overlay &") for t in listed)
    assert any(t.startswith("line 7:18: tempo change Q:1/4=60") for t in listed)
    assert page.evaluate(STAVES_PER_MEASURE, sheet.element_handle()) == 1
    served.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(served.ARTIFACTS / "abc-anywhere.png"), full_page=True)
