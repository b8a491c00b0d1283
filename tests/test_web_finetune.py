"""Your tunes in the web app, in a real browser: upload a tunebook, watch it fine-tune, compose with the new model.

`tunesmith serve` runs with a runs folder of its own (fine-tunings are
written there); the tunebook is real Essen songs from Germany, which the
shipped model never saw, and the budget a few CPU seconds.
"""

from __future__ import annotations

import pytest

from test_web_browser import ARTIFACTS, browser, serving  # noqa: F401
from tunesmith.corpus.load import load_corpus
from tunesmith.music.abc.tunes import join_tunes
from conftest import local_only  # tests/conftest.py


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`tunesmith serve --models-dir <fresh runs folder>`; yields its base URL and the folder."""
    tmp = tmp_path_factory.mktemp("finetune-serve")
    # A loaded machine takes its time to import torch and the app; on exit a running fine-tuning is saved.
    with serving(tmp, tmp / "runs", start_seconds=240, stop_seconds=60) as base:
        yield base, tmp / "runs"


@pytest.fixture
def page(browser, server):  # noqa: F811
    """A page that may only talk to the server, failing on script errors and on any 4xx/5xx it loads."""
    base, _ = server
    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 1000})
    elsewhere, errors = [], []
    context.route("**/*", local_only(base, elsewhere))
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not elsewhere, f"the page tried to load from outside: {elsewhere}"
    assert not errors, f"script errors: {errors}"


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    folder = tmp_path_factory.mktemp("books")
    tunes = load_corpus(["essen-germany"]).tunes
    (folder / "few.abc").write_text(join_tunes(tunes[200:203]))
    (folder / "mine.abc").write_text(join_tunes(tunes[210:226]))
    return folder


def test_upload_a_tunebook_fine_tune_and_compose_with_it(page, server, books):
    _, runs = server
    missing = []
    page.on("response", lambda r: missing.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto("/finetune")
    assert page.locator("nav a[aria-current=page]").inner_text() == "Your tunes"
    assert page.locator("#finetunes tbody").inner_text() == "None yet."
    page.wait_for_load_state("networkidle")
    assert not missing, missing

    # Too few tunes: the server's message, and nothing kept.
    page.set_input_files("input[name=tunebook]", str(books / "few.abc"))
    page.click("#go")
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=60_000)
    assert error.inner_text() == "tunebook: 3 tunes; fine-tuning needs at least 10"
    assert not runs.exists() or not any(runs.iterdir())

    # A real tunebook: fine-tuned in the background, its progress shown, then the report.
    page.set_input_files("input[name=tunebook]", str(books / "mine.abc"))
    page.fill("input[name=minutes]", "0.05")
    page.fill("input[name=seed]", "6")
    page.fill("input[name=name]", "mine")
    page.click("#go")
    page.locator("#job").wait_for(state="visible", timeout=60_000)
    assert error.is_hidden()
    assert page.locator("#job-name").inner_text() == "mine"
    page.locator("#job-done").wait_for(state="visible", timeout=400_000)
    assert page.locator("#job-model").inner_text() == "runs/mine"
    assert "16 tunes: 13 to learn from, 3 held out" in page.locator("#job-bits").inner_text()
    summary = page.locator("#job-summary li").all_inner_texts()
    bits = next(line for line in summary if line.startswith("held-out bits per character:"))
    before, after = (float(bits.split(" ")[i]) for i in (4, 6))
    assert after < before, summary
    assert any(line.startswith("copies: ") for line in summary)
    assert page.locator("#stop").is_hidden()
    row = page.locator("#finetunes tbody tr[data-name=mine]")
    row.wait_for(timeout=20_000)
    assert row.locator("td").nth(2).inner_text() == "done"
    assert (runs / "mine" / "best" / "config.json").is_file() and (runs / "mine" / "tunebook.abc").is_file()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-finetune.png"), full_page=True)

    # The new model is on the Compose page's list, and writes tunes.
    page.goto("/")
    page.select_option("select[name=model]", "runs/mine")
    page.fill("input[name=seed]", "2")
    page.click("#go")
    card = page.locator("#results article.tune").first
    card.locator(".sheet > svg").wait_for(timeout=120_000)
    tune_id = card.get_attribute("data-id")
    stored = page.request.get(f"/api/tunes/{tune_id}").json()
    assert stored["model"] == "runs/mine" and "O:Germany" in stored["abc"]
