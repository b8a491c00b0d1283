"""tunesmith visualize: the page in a real browser, the neuron finder on the shipped model, the CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tunesmith.checkpoint import Checkpoint, load_checkpoint
from tunesmith.checkpoint import DEFAULT_MODEL
from tunesmith.codecs.abc_tokens import TokenCodec
from tunesmith.insight.measures import measures_for
from tunesmith.insight.neurons import find_neurons
from tunesmith.insight.visualize import (TOP, build_view, held_out_texts, render_fragment, render_page,
                                         visualize_fragment)
from tunesmith.models import ModelConfig, build_model

torch.set_num_threads(1)
_SHOWN_BACK = {"\u21b5": "\n", "\u2423": " ", "\u21e5": "\t"}


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def held_out(shipped):
    return held_out_texts(shipped, 40)


def test_forward_with_hidden_equals_forward(shipped):
    ids = torch.tensor([shipped.codec.encode("X:1\nT:A\nK:D\n|:A2FA dAFA:|\n")])
    logits, (h, c) = shipped.model(ids)
    logits2, (h2, c2), hidden = shipped.model.forward_with_hidden(ids)
    assert len(hidden) == 3 and hidden[0].shape == (1, ids.shape[1], 256)
    assert torch.allclose(logits, logits2, atol=1e-5) and torch.allclose(h, h2, atol=1e-6)
    assert torch.allclose(hidden[-1][:, -1], h[-1], atol=1e-6)  # the last layer's last output is its state


def test_auto_finds_the_shipped_models_bar_position_neuron(shipped, held_out):
    findings = find_neurons(shipped, measures_for("abc"), held_out)
    by_feature = {f.feature: f for f in findings}
    # Every feature that varies in these tunes gets its neuron (these 40 have no chord [..]).
    assert {"bar_position", "body", "last_note", "ending", "chord_symbol"} <= set(by_feature)
    assert all(0 < abs(f.r) <= 1 and f.n > 0 for f in findings)
    # A char-RNN of folk tunes counts through the bar and knows when the header ends.
    assert abs(by_feature["bar_position"].r) > 0.6
    assert abs(by_feature["body"].r) > 0.5
    assert findings == sorted(findings, key=lambda f: -abs(f.r))
    # Only layer 1 asked for: its strongest neuron, weaker than or as strong as the best of all layers.
    layer1 = {f.feature: f for f in find_neurons(shipped, measures_for("abc"), held_out, layer=1)}
    assert all(f.layer == 1 for f in layer1.values())
    assert abs(layer1["bar_position"].r) <= abs(by_feature["bar_position"].r)


def _browser_rows(page_html: str, tmp_path: Path) -> dict:
    """Open the page in headless chromium and read back what it shows (fails when chromium is missing)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Debian chromium is not installed: run `make tools` (apt-get install chromium)")
    file = tmp_path / "viz.html"
    file.write_text(page_html)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(file.as_uri())
            return page.evaluate("""() => Array.from(document.querySelectorAll('.tsviz .col')).map(c => ({
                text: c.querySelector('.in').textContent,
                bg: getComputedStyle(c.querySelector('.in')).backgroundColor,
                guesses: Array.from(c.querySelectorAll('.g')).map(g => ({
                    text: g.textContent, p: parseFloat(g.dataset.p), bg: getComputedStyle(g).backgroundColor})),
                title: c.title}))""")
        finally:
            browser.close()


def _rgb(css: str) -> tuple[int, int, int]:
    return tuple(int(x) for x in re.findall(r"\d+", css)[:3])


def test_the_page_in_chromium_shows_every_char_five_guesses_and_colours(shipped, held_out, tmp_path):
    tune = held_out[0]
    view = build_view(shipped, tune, layer=2, neuron=94)
    cols = _browser_rows(render_page(view, shipped.codec.vocab), tmp_path)
    shown = "".join(_SHOWN_BACK.get(c["text"], c["text"]) for c in cols)
    assert shown == tune + "\n"  # every character in order, the blank line that ends the tune last
    assert all(len(c["guesses"]) == TOP for c in cols)
    for c in cols:
        ps = [g["p"] for g in c["guesses"]]
        assert ps == sorted(ps, reverse=True) and sum(ps) <= 1.0 + 1e-6
    # After "K:" the model is sure a key letter comes; after the key line's newline, the music.
    red = [_rgb(g["bg"]) for c in cols for g in c["guesses"] if g["p"] > 0.9]
    assert red and all(r > 150 and g < 60 and b < 60 for r, g, b in red)
    faint = [_rgb(g["bg"]) for c in cols for g in c["guesses"] if g["p"] < 0.01]
    assert faint and all(min(rgb) > 245 for rgb in faint)
    inputs = [_rgb(c["bg"]) for c in cols]
    assert any(g > r + 60 and g > b for r, g, b in inputs), "no green (high activation) background"
    assert any(b > r + 60 and b > g for r, g, b in inputs), "no blue (low activation) background"
    # Hover text: the exact activation and the five guesses with their probabilities.
    assert re.search(r"neuron 94 of layer 2 = [+-]\d\.\d{4}", cols[0]["title"])
    assert cols[0]["title"].count("%") == TOP


def test_a_token_model_shows_tokens(tmp_path):
    tune = "X:1\nT:Jig\nM:6/8\nL:1/8\nK:Ador\n|:e2A ABA|\"G\"BAG G2:|\n"
    codec = TokenCodec.fit([tune])
    torch.manual_seed(0)
    model = build_model(ModelConfig(cell="gru", vocab_size=len(codec), embedding=16, hidden=8, layers=2, dropout=0.0))
    ckpt = Checkpoint(tmp_path, model.eval(), codec, {"mode": "abc"})
    view = build_view(ckpt, tune, layer=1, neuron=3)
    assert view.unit == "token"
    assert "6/8" in view.reading.symbols and "Ador" in view.reading.symbols and '"G"' in view.reading.symbols
    fragment = render_fragment(view, codec.vocab)
    assert fragment.count('class="col"') == len(view.reading.symbols)
    assert fragment.count('class="g"') == TOP * len(view.reading.symbols)
    assert "next token" in fragment and "<html" not in fragment  # a fragment to place in another page
    # The one-call form the web app uses; auto searches the pieces it is given.
    auto = visualize_fragment(ckpt, tune, reference=[tune, tune.replace("e2A", "d2A")])
    assert auto.count('class="col"') == len(view.reading.symbols) and "Neurons that track structure" in auto


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunesmith.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_writes_a_page_for_a_generated_tune_and_refuses_bad_neurons(tmp_path):
    out = tmp_path / "viz.html"
    run = _cli("visualize", "--generate", "--seed", "4", "--layer", "3", "--neuron", "7", "-o", str(out), "--threads", "1")
    assert run.returncode == 0, run.stderr
    page = out.read_text()
    assert "neuron 7 of layer 3" in page and page.count('class="col"') > 50 and "http" not in page.lower()
    bad = _cli("visualize", "--generate", "--layer", "2", "--neuron", "256", "-o", str(tmp_path / "x.html"))
    assert bad.returncode == 2 and "--neuron" in bad.stderr and "0 to 255" in bad.stderr
    missing = _cli("visualize", "--text", str(tmp_path / "nope.abc"), "--neuron", "1", "-o", str(tmp_path / "y.html"))
    assert missing.returncode == 2 and "nope.abc" in missing.stderr
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "y.html").exists()
