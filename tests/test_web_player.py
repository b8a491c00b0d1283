"""The practice player on a tune page, in a real browser (headless chromium, as test_web_browser.py).

On a tune of the bundled folk corpus: the sound rendered (an OfflineAudioContext, the player's own synth and
schedule) lasts twice as long at 50 %; transposing by +2 moves the first note's pitch by 2 and redraws the
score's key signature; a loop of bars 3-4 played 3 times schedules exactly those bars' notes 3 times (with
the count-in, the metronome and the chords); the cursor lights the notes in order up to the last one; a
pause goes on from its place and a tempo change takes effect while playing, with no request; and the player
plays the editor's text, in the key chosen.
The screenshot is kept in out/test-artifacts/player.png.
"""

from __future__ import annotations

import re

import pytest
import test_web_browser as served

from tunesmith.corpus.bundled import load_bundled
from tunesmith.music.abc.bar_spans import tune_bars
from tunesmith.music.abc.to_events import tune_events
from tunesmith.render.tempo import default_qpm

# The served app and the browser, and the page that may only talk to it: test_web_browser.py's fixtures.
server, browser, page = served.server, served.browser, served.page
ARTIFACTS = served.ARTIFACTS
SHARP = "#E262"  # SMuFL's sharp, as verovio draws a key signature's accidentals
RELEASE_S = 0.06  # player.js: each note fades out this long after its end


@pytest.fixture(scope="module")
def tune() -> str:
    """She Is Far from the Land: 6/8 in D (two sharps), a pickup, nine bars, grace notes; 8 s at its tempo."""
    text = load_bundled("folk")[190].text
    assert "T:She Is Far from the Land" in text and "\nK:D\n" in text
    return text


def open_tune(page, abc: str):
    """The tune stored and its page opened: (the card, the player's controls)."""
    saved = page.request.post("/api/tunes", data={"abc": abc}).json()
    page.goto(saved["url"])
    card = page.locator(f"article.tune[data-id='{saved['id']}']")
    page.wait_for_function("typeof TunesmithPlayer !== 'undefined' && "
                           "TunesmithPlayer.of(document.querySelector('section.player').previousElementSibling)")
    return card, page.locator("section.player")


def set_tempo(player, percent: int) -> None:
    player.locator("[data-control=tempo]").evaluate(
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", percent)


def audible_seconds(card) -> float:
    """How long the player's sound lasts with its current settings: its last sample above -80 dB, rendered."""
    return card.evaluate("""async (card) => {
        const buffer = await TunesmithPlayer.of(card).renderOffline();
        const samples = buffer.getChannelData(0);
        let last = 0;
        for (let i = 0; i < samples.length; i++) if (Math.abs(samples[i]) > 1e-4) last = i;
        return last / buffer.sampleRate;
    }""")


def play_to_the_end(page, card, player, seconds: float = 20) -> None:
    player.locator("[data-control=play]").click()
    page.wait_for_function("(card) => TunesmithPlayer.of(card).state === 'playing'", arg=card.element_handle())
    page.wait_for_function("(card) => TunesmithPlayer.of(card).state === 'stopped'", arg=card.element_handle(),
                           timeout=seconds * 1000)


def test_half_tempo_sounds_twice_as_long(page, tune):
    card, player = open_tune(page, tune)
    player.locator("[data-control=countin]").uncheck()
    full = audible_seconds(card)
    # The whole tune at its tempo: 6 whole notes at 174 quarter notes a minute, and the last note's fade.
    assert default_qpm(tune) == 174
    assert full == pytest.approx(6 * 240 / 174 + RELEASE_S, abs=0.02)
    set_tempo(player, 50)
    assert "50 %" in player.locator(".tempo-value").inner_text()
    half = audible_seconds(card)
    assert half == pytest.approx(2 * full - RELEASE_S, abs=0.02)
    set_tempo(player, 200)
    assert audible_seconds(card) == pytest.approx(full / 2 + RELEASE_S / 2, abs=0.02)


def test_transpose_moves_the_sound_and_the_key_signature(page, tune):
    card, player = open_tune(page, tune)
    handle = card.element_handle()
    page.wait_for_function("(card) => TunesmithPlayer.of(card).load()", arg=handle)
    key_signature = "(card) => [...card.querySelector('.sheet g.keySig').querySelectorAll('g.keyAccid use')]" \
                    ".map((u) => u.getAttribute('xlink:href').split('-')[0])"
    assert card.evaluate(key_signature) == [SHARP] * 2  # D major
    first = card.evaluate("(card) => [...TunesmithPlayer.of(card).timeline()].find((x) => x.kind === 'melody').pitch")
    assert first == tune_events(tune)[0].pitch == 66  # F#

    player.locator("[data-control=transpose]").select_option("2")
    page.wait_for_function("(card) => (TunesmithPlayer.of(card).data || {}).transpose === 2", arg=handle)
    assert card.evaluate(key_signature) == [SHARP] * 4  # E major, drawn again
    assert card.evaluate(
        "(card) => [...TunesmithPlayer.of(card).timeline()].find((x) => x.kind === 'melody').pitch") == first + 2
    assert "key E" in player.inner_text()
    # One key for the card: the downloads moved with the player.
    assert card.locator("select.transpose").input_value() == "2"
    assert card.locator("a.dl-pdf").get_attribute("href").endswith("?transpose=2")


def test_a_loop_of_bars_3_to_4_plays_them_the_times_asked(page, tune):
    bars = tune_bars(tune)
    music = [re.sub(r"\{[^}]*\}", "", bars.music(b)) for b in bars.bars[2:4]]  # bars 3 and 4, grace notes out
    per_pass = sum(len(re.findall(r"[A-Ga-g]", m)) for m in music)
    assert per_pass == 13  # Bcd {c}(BA F/E/) | DFA A>Bc
    card, player = open_tune(page, tune)
    player.locator("[data-control=loop]").check()
    player.locator("[data-control=from]").fill("3")
    player.locator("[data-control=to]").fill("4")
    player.locator("[data-control=times]").fill("3")
    player.locator("[data-control=metronome]").check()
    player.locator("[data-control=chords]").check()
    set_tempo(player, 200)
    play_to_the_end(page, card, player)
    log = card.evaluate("(card) => TunesmithPlayer.of(card).log")
    melody = [x for x in log if x["kind"] == "melody"]
    assert len(melody) == 3 * per_pass
    assert {x["bar"] for x in melody} == {3, 4}
    assert [x["pass"] for x in melody] == sorted(x["pass"] for x in melody) and {x["pass"] for x in melody} == {0, 1, 2}
    passes = [[x["pitch"] for x in melody if x["pass"] == k] for k in range(3)]
    assert passes[0] == passes[1] == passes[2]
    clicks = [x for x in log if x["kind"] == "click"]
    assert len(clicks) == 2 + 3 * 4  # a count-in bar of two dotted-quarter beats, then two bars of two, 3 times
    assert sum(x["kind"] == "bass" for x in log) == 3 * 4  # boom-chick-chick: a bass on each beat
    assert "boom-chick-chick" in player.locator(".chord-pattern").inner_text()


def test_the_cursor_follows_the_notes_to_the_last(page, tune):
    card, player = open_tune(page, tune)
    player.locator("[data-control=countin]").uncheck()
    set_tempo(player, 200)
    card.evaluate("""(card) => {
        window.lit = [];
        new MutationObserver((changes) => {
            for (const c of changes) if (c.target.classList.contains('playing')) window.lit.push(c.target.id);
        }).observe(card.querySelector('.sheet'), {attributes: true, attributeFilter: ['class'], subtree: true});
    }""")
    play_to_the_end(page, card, player)
    lit = page.evaluate("window.lit")
    notes = card.evaluate("(card) => TunesmithPlayer.of(card).data.notes")
    ids = [n["id"] for n in notes]
    assert all(ids) and len(ids) == len(tune_events(tune))  # every note drawn, and found on the score
    assert lit[-1] == ids[-1]  # the last note was lit, last
    assert card.locator(f".sheet [id='{ids[-1]}']").get_attribute("class").split() == ["note", "playing"]
    assert len(set(lit)) >= 0.9 * len(ids) and lit == [i for i in ids if i in set(lit)]  # in order, hardly one missed
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "player.png"), full_page=True)


def test_pause_goes_on_from_the_place_and_the_tempo_changes_while_playing(page, tune):
    card, player = open_tune(page, tune)
    handle = card.element_handle()
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/" in r.url else None)
    player.locator("[data-control=countin]").uncheck()
    play = player.locator("[data-control=play]")
    play.click()
    page.wait_for_function("(card) => TunesmithPlayer.of(card).log.length > 10", arg=handle)
    play.click()  # Pause
    assert card.evaluate("(card) => TunesmithPlayer.of(card).state") == "paused"
    assert play.inner_text() == "Play" and "Paused" in player.locator(".player-status").inner_text()
    kept = len(card.evaluate("(card) => TunesmithPlayer.of(card).log"))
    play.click()  # on from the place it paused at
    page.wait_for_function(f"(card) => TunesmithPlayer.of(card).log.length > {kept + 10}", arg=handle)
    set_tempo(player, 200)  # twice as fast from the notes not yet scheduled
    changed = len(card.evaluate("(card) => TunesmithPlayer.of(card).log"))
    page.wait_for_function("(card) => TunesmithPlayer.of(card).state === 'stopped'", arg=handle, timeout=20_000)
    log = card.evaluate("(card) => TunesmithPlayer.of(card).log")
    # Every note once, in order: what the pause silenced was played after it, nothing twice.
    assert [x["pitch"] for x in log] == [e.pitch for e in tune_events(tune)]
    seconds_per_whole = 240 / 174
    after = log[changed + 1:]
    for a, b in zip(after, after[1:]):
        assert b["at"] - a["at"] == pytest.approx((b["t"] - a["t"]) * seconds_per_whole / 2, abs=1e-6)
    before = log[:kept]
    for a, b in zip(before, before[1:]):
        assert b["at"] - a["at"] == pytest.approx((b["t"] - a["t"]) * seconds_per_whole, abs=1e-6)
    assert sum("/api/player" in url for url in asked) == 1  # the tune read once; pause, play and tempo: no request


def test_the_player_plays_what_the_editor_holds(page, tune):
    card, player = open_tune(page, tune)
    handle = card.element_handle()
    player.locator("[data-control=transpose]").select_option("-3")
    page.wait_for_function("(card) => (TunesmithPlayer.of(card).data || {}).transpose === -3", arg=handle)
    edited = tune.replace("|EDE D2||", "|EDE D3||").replace("(F/E/)|", "")  # no pickup, a longer last note
    card.locator("textarea.abc").fill(edited)
    # app.js draws the edit in the written key; the player, in the key chosen, draws it again in that key.
    page.wait_for_function("(card) => !TunesmithPlayer.of(card).data", arg=handle)
    notes = card.evaluate("async (card) => (await TunesmithPlayer.of(card).load()).notes")
    assert [n["pitch"] for n in notes] == [e.pitch - 3 for e in tune_events(edited)]
    assert notes[-1]["duration"] == 0.375 and all(n["id"] for n in notes)
    signature = card.evaluate("(card) => [...card.querySelector('.sheet g.keySig').querySelectorAll('g.keyAccid use')]"
                              ".map((u) => u.getAttribute('xlink:href').split('-')[0])")
    assert signature == [SHARP] * 5  # B major


def test_a_loop_of_rests_until_stopped_keeps_time(page):
    """A loop with nothing to sound (bars of rests, no metronome) goes on in time, and Stop stops it."""
    card, player = open_tune(page, "X:1\nT:Rests\nM:2/4\nL:1/8\nK:G\nGABc|z4|z4|dcBA|\n")
    handle = card.element_handle()
    player.locator("[data-control=countin]").uncheck()
    player.locator("[data-control=loop]").check()
    player.locator("[data-control=from]").fill("2")
    player.locator("[data-control=to]").fill("3")
    set_tempo(player, 200)
    player.locator("[data-control=play]").click()
    page.wait_for_function("(card) => TunesmithPlayer.of(card).lastT > 1.5", arg=handle)  # three passes of two 2/4 bars
    assert card.evaluate("(card) => [TunesmithPlayer.of(card).state, TunesmithPlayer.of(card).log.length]") == [
        "playing", 0]
    player.locator("[data-control=stop]").click()
    assert card.evaluate("(card) => TunesmithPlayer.of(card).state") == "stopped"
