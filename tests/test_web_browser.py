"""The web app in a real browser: Debian's chromium, headless, driven by Playwright.

`tunesmith serve` runs in a subprocess on a free port with a fresh database;
the browser may only reach that server (any other request fails the test).
The screenshot is kept in out/test-artifacts/web.png.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import wave
from contextlib import contextmanager
from pathlib import Path

import mido
import pytest
from playwright.sync_api import sync_playwright
from conftest import local_only  # tests/conftest.py

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "out" / "test-artifacts"
BODY = "A|dfe dcB|AFA d2e|fdf ecA|d3 d2:|"
JIG = "X:1\nT:{title}\nM:6/8\nL:1/8\nK:D\n" + BODY + "\n"
JIG_NOTES = sum(ch.isalpha() for ch in BODY)  # every letter of the body is a note: 20


def chromium() -> str:
    """The system chromium; the test fails (never skips) without it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Debian chromium is not installed: run `make tools` (apt-get install chromium)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(tmp: Path, models_dir: Path, start_seconds: float = 60, stop_seconds: float = 10):
    """`tunesmith serve` on a free port with a database in `tmp` and runs in `models_dir`; yields its base URL."""
    port = free_port()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunesmith.cli", "serve", "--port", str(port), "--db", str(tmp / "tunes.db"),
         "--models-dir", str(models_dir)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_seconds
    while True:
        try:
            urllib.request.urlopen(base + "/api/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"tunesmith serve did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=stop_seconds)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`tunesmith serve` on a free port; yields its base URL."""
    tmp = tmp_path_factory.mktemp("webserve")
    with serving(tmp, tmp / "no-runs") as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A page that may only talk to the server."""
    context = browser.new_context(accept_downloads=True, base_url=server, viewport={"width": 1400, "height": 1000})
    elsewhere = []

    only_local = local_only(server, elsewhere)

    context.route("**/*", only_local)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not elsewhere, f"the page tried to load from outside: {elsewhere}"
    assert not errors, f"script errors: {errors}"


def test_generate_listen_download_edit_save(page, tmp_path):
    page.goto("/")
    page.fill("input[name=seed]", "7")
    page.fill("input[name=meter]", "6/8")
    page.click("#go")
    expect_progress = page.locator("#progress")
    card = page.locator("#results article.tune").first
    card.locator(".sheet > svg").wait_for(timeout=60_000)
    assert "1 tune in" in expect_progress.inner_text() and "seed 7" in expect_progress.inner_text()
    title = card.locator("h2.title").inner_text()
    assert title and title in card.locator(".sheet > svg").inner_html()
    assert "M:6/8" in card.locator("textarea.abc").input_value()

    # The player's source: a WAV the browser decodes, as long as the MIDI behind the MIDI link.
    src = card.locator("audio").get_attribute("src")
    wav = page.request.get(src)
    assert wav.ok and wav.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(wav.body())) as w:
        assert (w.getframerate(), w.getsampwidth()) == (44100, 2) and w.getnframes() > 44100
        frames = w.getnframes()
    duration = card.locator("audio").evaluate(
        "a => new Promise((ok, fail) => { a.onloadedmetadata = () => ok(a.duration); a.onerror = () => fail(a.error);"
        " a.preload = 'auto'; a.load(); })")
    assert abs(duration - frames / 44100) < 0.01
    with page.expect_download() as download:
        card.locator("a.dl-mid").click()
    midi = mido.MidiFile(download.value.path())
    assert sum(m.type == "note_on" and m.velocity > 0 for t in midi.tracks for m in t) >= 8
    assert abs(frames - midi.length * 44100) <= 1

    # Edit: the score follows the text, problems are listed, and a title from the text stays text.
    sheet = card.locator(".sheet")
    before = sheet.inner_html()
    evil = '<img src=x onerror="window.hacked=1">'
    card.locator("textarea.abc").fill(JIG.format(title=evil))
    page.wait_for_function("([el, old]) => el.innerHTML !== old && !el.closest('article').classList.contains('stale')",
                           arg=[sheet.element_handle(), before], timeout=20_000)
    page.wait_for_function("el => el.querySelectorAll('g.note').length === %d" % JIG_NOTES,
                           arg=sheet.element_handle(), timeout=20_000)
    assert card.locator(".problems li").count() == 0
    card.locator("textarea.abc").fill(JIG.format(title=evil).replace("AFA d2e", "AFA d2ef"))
    problem = card.locator(".problems li").first
    problem.wait_for(timeout=20_000)
    assert "bar 3 has 7/8" in problem.inner_text()  # the pickup is bar 1
    card.locator("button.save").click()
    card.locator(".saved a").wait_for(timeout=20_000)
    new_id = int(card.locator(".saved a").inner_text().lstrip("#"))
    assert card.locator("h2.title").inner_text() == evil  # shown as text, not markup
    assert page.evaluate("window.hacked") is None
    saved = page.request.get(f"/api/tunes/{new_id}").json()
    assert "AFA d2ef" in saved["abc"] and saved["origin"] == "edited"
    assert card.locator("a.dl-abc").get_attribute("href") == f"/api/tunes/{new_id}.abc"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web.png"), full_page=True)

    # Its own address, and the archive, show it too; still no script from its title.
    page.goto(f"/tune/{new_id}")
    assert page.locator("h2.title").inner_text() == evil
    assert page.locator(".sheet g.note").count() == JIG_NOTES + 1
    page.goto("/archive")
    assert page.locator(f"a[href='/tune/{new_id}']").inner_text() == evil
    assert page.evaluate("window.hacked") is None


def test_listening_test(page):
    """A session with the shipped model: a trial plays a WAV excerpt, an answer is told and counted."""
    page.goto("/listen")
    assert page.locator("nav a[aria-current=page]").inner_text() == "Listen"
    assert page.locator("#results tbody tr.empty").count() == 1
    page.select_option("#model", "default")
    page.fill("input[name=trials]", "2")
    page.fill("input[name=seed]", "3")
    page.click("#go")
    page.locator("#trial").wait_for(state="visible", timeout=60_000)
    assert page.locator("#position").inner_text() == "1" and page.locator("#count").inner_text() == "2"
    player = page.locator("#player")
    src = player.get_attribute("src")
    assert re.fullmatch(r"/api/listen/trials/[A-Za-z0-9_-]+/audio", src)  # an opaque id, nothing else
    assert page.locator("#feedback").inner_text() == ""  # nothing said before the answer
    wav = page.request.get(src)
    assert wav.ok and wav.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(wav.body())) as w:
        assert w.getframerate() == 44100 and w.getnframes() == 20 * 44100
    duration = player.evaluate(
        "a => new Promise((ok, fail) => { a.onloadedmetadata = () => ok(a.duration); a.onerror = () => fail(a.error);"
        " a.preload = 'auto'; a.load(); })")
    assert abs(duration - 20) < 0.01

    page.locator("button.answer[data-answer=human]").click()
    feedback = page.locator("#feedback")
    page.wait_for_function("el => el.textContent.includes('it was')", arg=feedback.element_handle(), timeout=20_000)
    assert re.match(r"(Right|Wrong): it was (a real piece|written by the model)", feedback.inner_text())
    row = page.locator("#results tbody tr", has_text="default")
    row.wait_for(timeout=20_000)
    assert row.locator("td").nth(2).inner_text() == "1"
    assert page.evaluate("document.activeElement.id") == "next"  # the keyboard goes on from here
    page.keyboard.press("n")
    page.wait_for_function("document.getElementById('position').textContent === '2'", timeout=20_000)
    assert page.locator("#player").get_attribute("src") != src
    page.keyboard.press("m")  # the second answer from the keyboard
    summary = page.locator("#summary")
    summary.wait_for(state="visible", timeout=20_000)
    assert "of 2 pieces rightly" in summary.inner_text() and "seed 3" in summary.inner_text()
    assert row.locator("td").nth(2).inner_text() == "2"
    assert page.locator("#trial").is_hidden()


def test_bad_parameters_show_the_servers_message(page):
    page.goto("/")
    page.fill("input[name=key]", "H")
    page.click("#go")
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=20_000)
    assert "key 'H': not an ABC key" in error.inner_text()
    assert page.locator("#results article").count() == 0


def test_api_docs_work_offline(page):
    page.goto("/docs")
    page.locator(".swagger-ui .info .title").wait_for(timeout=20_000)
    assert "tunesmith" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock-summary-path", has_text="/api/generate").count() == 1


def test_pages_load_without_console_errors(page):
    """Every page loads all it asks for (the favicon too: a missing one was a console error on every page)."""
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    for path in ["/", "/tabla", "/listen", "/archive", "/docs"]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
    page.goto("/")
    assert page.evaluate("document.querySelector('link[rel=icon]').href").endswith("/static/favicon.svg")
    for icon in ["/static/favicon.svg", "/favicon.ico"]:  # the old address, for what asks it without a link
        answer = page.request.get(icon)
        assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg+xml"), icon
    assert not problems, problems


def test_musicxml_and_pdf_downloads_in_the_key_chosen(page, tmp_path):
    """The tune page's MusicXML and PDF links download real files; the transpose menu moves every download."""
    import pypdfium2

    from tunesmith.insight.music21_judge import music21_notes, our_notes

    abc = JIG.format(title="Exported")
    tune = page.request.post("/api/tunes", data={"abc": abc}).json()
    page.goto(f"/tune/{tune['id']}")
    card = page.locator("article.tune")
    links = {kind: card.locator(f"a.dl-{kind}") for kind in ("abc", "mid", "wav", "svg", "musicxml", "pdf")}
    assert links["pdf"].inner_text() == "PDF" and links["musicxml"].inner_text() == "MusicXML"

    with page.expect_download() as download:
        links["pdf"].click()
    pdf = pypdfium2.PdfDocument(Path(download.value.path()).read_bytes())
    assert len(pdf) == 1 and "Exported" in pdf[0].get_textpage().get_text_range()
    with page.expect_download() as download:
        links["musicxml"].click()
    assert music21_notes(Path(download.value.path()).read_text()) == our_notes(abc)

    card.locator("select.transpose").select_option("2")
    assert all(link.get_attribute("href").endswith("?transpose=2") for link in links.values())
    with page.expect_download() as download:
        links["musicxml"].click()
    assert download.value.suggested_filename.endswith("+2.musicxml")
    assert music21_notes(Path(download.value.path()).read_text()) == [(o, p + 2, d) for o, p, d in our_notes(abc)]
    with page.expect_download() as download:
        links["mid"].click()
    played = [m.note for t in mido.MidiFile(download.value.path()).tracks for m in t if m.type == "note_on" and m.velocity]
    assert played[0] == our_notes(abc)[0][1] + 2
    card.locator("select.transpose").select_option("0")
    assert links["pdf"].get_attribute("href") == tune["files"]["pdf"]
