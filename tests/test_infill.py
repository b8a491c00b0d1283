"""Infill and variations with the shipped ABC model, on held-out tunes of the folk corpus.

The bars outside the gap must come out byte for byte, every bar well formed
by the checker and by abc2midi (the independent judge), the bar lengths as
the tune's; through the Python API, the real command, the JSON API and the
editor in a real browser.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

import test_web_browser as browser_tests
from tunesmith import cli
from tunesmith.checkpoint import DEFAULT_MODEL, Checkpoint, load_checkpoint
from tunesmith.corpus.bundled import load_bundled
from tunesmith.corpus.split import split_tunes
from tunesmith.errors import TunesmithError
from tunesmith.insight import abc2midi
from tunesmith.models import ModelConfig, build_model
from tunesmith.modes.abc.forms import form_of
from tunesmith.modes.abc.infill import gap_of, infill, keeps_the_tune, read_as, sample_candidates, score
from tunesmith.modes.abc.vary import may_vary, runs, vary
from tunesmith.music.abc.bar_spans import bar_range, tune_bars
from tunesmith.music.abc.check import check_tune
from tunesmith.options import Sampling
from tunesmith.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
# A tune to read bars in: a pickup, a tie over a bar line, a slur left open, repeats and two endings.
JIG = ('X:7\nT:Bars\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e-|\nefd (ecA|d3 d2:|\n'
       '|:f|"G"gfe (3fed c2B | [1 AFA d2:|[2 AFA d2|]\n')


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def heldout() -> list[str]:
    """Held-out folk tunes the checker and abc2midi pass, with 12 bars or more, in corpus order."""
    _, held = split_tunes(load_bundled("folk"))
    out = []
    for tune in held[:80]:
        if not check_tune(tune.text) and abc2midi.judge(tune.text).ok and len(tune_bars(tune.text).bars) >= 12:
            out.append(tune.text)
    assert len(out) >= 20
    return out


def well_formed(text: str) -> bool:
    return not check_tune(text) and abc2midi.judge(text).ok


# -- bars, without a model ---------------------------------------------------------------
def test_bars_are_numbered_as_the_checker_numbers_them():
    tune = tune_bars(JIG)
    assert [tune.music(b) for b in tune.bars] == [
        "A", "dfe dcB", "AFA d2e-", "efd (ecA", "d3 d2", "f", '"G"gfe (3fed c2B', "AFA d2", "AFA d2"]
    assert [b.steps for b in tune.bars] == [4, 24, 24, 24, 20, 4, 24, 20, 20]  # quarter eighths: pickups stay short
    assert [b.number for b in tune.bars if b.section_start] == [1, 6, 8, 9]
    assert tune.bars[3].tie_in == "e" and tune.bars[4].slurs_in == 1
    # The checker names a bar made too long by its number: the same bar.
    broken = JIG.replace("AFA d2e-", "AFA d2e-e")
    assert "bar 3 has" in check_tune(broken)[0].message
    assert tune_bars(broken).bars[2].steps == 24  # a bar of the wrong length is rewritten to the meter's


def test_a_bar_range_the_tune_does_not_have_is_a_clear_error():
    tune = tune_bars(JIG)
    assert bar_range("2-4", tune) == (2, 4) and bar_range(" 5 ", tune) == (5, 5)
    for spec, words in [("10", "the tune has 9 bars"), ("0-2", "must go up from bar 1"), ("4-2", "must go up"),
                        ("two", "give one bar or a range"), ("", "give one bar or a range")]:
        with pytest.raises(TunesmithError, match=words):
            bar_range(spec, tune)
    with pytest.raises(TunesmithError, match="several voices"):
        tune_bars("X:1\nT:t\nM:2/4\nL:1/8\nK:D\nV:1\nAB cd|\nV:2\nAB cd|\n")
    with pytest.raises(TunesmithError, match="bar 2 is a multi-bar rest"):
        bar_range("2", tune_bars("X:1\nT:t\nM:2/4\nL:1/8\nK:D\nAB cd|Z2|AB cd|\n"))


def test_a_gap_filled_with_its_own_bars_is_the_tune():
    gap = gap_of(JIG, "3-6")
    assert gap.fill(gap.original()) == JIG
    assert gap.fill(["a", "b", "c", "d"]) == JIG.replace("AFA d2e-", "a").replace("efd (ecA", "b").replace(
        "d3 d2:", "c:").replace("|:f|", "|:d|")
    assert [gap.tie_may_cross(i) for i in range(4)] == [True, True, False, False]  # `|\n`, `|`; not `:|`, not the end


# -- infill on real tunes -----------------------------------------------------------------
def test_every_candidate_is_well_formed_and_leaves_the_rest_byte_for_byte(model, heldout):
    """Gaps of 1 to 4 bars anywhere in eight held-out tunes: every candidate, not only the chosen ones."""
    rng = np.random.default_rng(5)
    for text in heldout[:8]:
        bars = len(tune_bars(text).bars)
        length = int(rng.integers(1, 5))
        first = int(rng.integers(1, bars - length + 2))
        gap = gap_of(text, f"{first}-{first + length - 1}")
        drawn = sample_candidates(model, gap, 6, Sampling(), seed=int(rng.integers(1000)))
        assert all(music is not None for music in drawn)
        for music in drawn:
            new = gap.fill(music)
            assert new.startswith(gap.prefix) and new.endswith(gap.suffix)
            assert keeps_the_tune(gap, new), (first, length, music)
            assert well_formed(new), (new, abc2midi.judge(new))


def test_a_model_with_random_weights_cannot_break_a_bar(model, heldout):
    """A random model writes what the automaton allows at its most varied (rolls, chords, grace notes, tuplets
    in any order): the checker and abc2midi must still find nothing wrong. (It found `{g}~c` and `~[ce]`.)"""
    torch.manual_seed(2)
    random = Checkpoint(model.path, build_model(ModelConfig("lstm", len(model.codec), 16, 32, 1, 0.0)).eval(),
                        model.codec, {})
    rng = np.random.default_rng(2)
    finished = 0
    for text in heldout[:24]:
        bars = len(tune_bars(text).bars)
        length = int(rng.integers(1, 4))
        first = int(rng.integers(1, bars - length + 2))
        gap = gap_of(text, f"{first}-{first + length - 1}")
        for music in sample_candidates(random, gap, 6, Sampling(top_p=None), seed=int(rng.integers(1000))):
            if music is not None:  # one that wanders past its cap is dropped
                finished += 1
                new = gap.fill(music)
                assert keeps_the_tune(gap, new) and well_formed(new), (new, abc2midi.judge(new))
    assert finished >= 0.9 * 24 * 6


def test_a_tie_into_the_gap_is_kept_and_abc2midi_finds_its_note(model, heldout):
    """The Foggy Dew (held out): its last bar is tied from the bar before (`e4-|e2"D.C.":|`)."""
    text = next(t for t in heldout if "T:The Foggy Dew" in t)
    gap = gap_of(text, "18")
    assert gap.bars[0].tie_in == "e"
    for music in sample_candidates(model, gap, 6, Sampling(), seed=3):
        assert re.match(r"e(?![',])", music[0]), music  # its first note is the tied e (nothing may come between)
        assert well_formed(gap.fill(music))


def test_the_chosen_version_is_the_candidate_the_model_finds_leads_best_into_the_rest(model, heldout):
    text = heldout[1]
    gap = gap_of(text, "5-6")
    version = infill(model, gap, n=1, candidates=8, seed=4)[0]
    assert version.chosen.bits == min(c.bits for c in version.candidates)
    assert len({c.music for c in version.candidates}) > 1
    # The batched score is what the model spends on the rest, read one symbol at a time by the sampler's stepper.
    bits, tail = stepper_bits(model, version.text, gap.suffix)
    assert version.chosen.bits == pytest.approx(bits, rel=1e-4)
    assert version.tail_symbols == tail
    again, other = infill(model, gap, n=1, candidates=8, seed=4)[0], infill(model, gap, n=1, candidates=8, seed=5)[0]
    assert again.text == version.text and other.candidates != version.candidates


def stepper_bits(ckpt, text: str, suffix: str) -> tuple[float, int]:
    """The bits of `suffix` (and the blank line after the tune) at the end of `text`, read one symbol at a time."""
    codec = ckpt.codec
    ids = codec.encode(read_as(codec, text) + "\n")
    tail = len(codec.encode(read_as(codec, suffix) + "\n"))
    net = ckpt.model.stepper()
    state, newline, bits = net.initial_state(1), codec.index["\n"], 0.0
    for i, symbol in enumerate([newline, newline] + ids[:-1]):
        logits, state = net.step(np.array([symbol]), state)
        if i + 1 >= len(ids) + 2 - tail:  # this step predicts a symbol of the tail: ids[i - 1]
            logp = torch.log_softmax(torch.tensor(logits[0], dtype=torch.float64), -1)
            bits -= float(logp[ids[i - 1]]) / np.log(2)
    return bits, tail


def test_a_transformer_infills_too_its_score_read_in_the_samplers_windows(model, heldout):
    """A transformer (random weights, a context of 64: the tune runs past it) through the same infill."""
    torch.manual_seed(0)
    config = ModelConfig("transformer", len(model.codec), 32, 32, 2, 0.0, heads=4, context=64)
    transformer = Checkpoint(model.path, build_model(config).eval(), model.codec, {})
    gap = gap_of(heldout[7], "4-5")
    version = infill(transformer, gap, candidates=4, seed=1)[0]
    assert all(keeps_the_tune(gap, c.text) and well_formed(c.text) for c in version.candidates)
    bits, tail = stepper_bits(transformer, version.text, gap.suffix)
    assert len(version.text) > 64 + tail and version.chosen.bits == pytest.approx(bits, rel=1e-4)


def test_ranking_scores_the_tunes_own_bars_too(model, heldout):
    gap = gap_of(heldout[2], "3")
    bits, tail = score(model, gap, [gap.original(), gap.original()])
    assert bits[0] == pytest.approx(bits[1]) and tail > 10
    assert infill(model, gap, candidates=4, seed=2)[0].original_bits == pytest.approx(bits[0])


# -- variations -------------------------------------------------------------------------------
def test_a_variation_keeps_the_form_and_changes_about_the_share_asked(model, heldout):
    text = heldout[3]
    tune = tune_bars(text)
    varied = vary(model, text, 0.3, candidates=8, seed=6)
    after = tune_bars(varied.text)
    assert len(after.bars) == len(tune.bars) and form_of(varied.text) == form_of(text)
    assert len(varied.rewritten) == round(0.3 * len(tune.bars)) and set(varied.rewritten) <= set(may_vary(tune))
    assert set(varied.changed) <= set(varied.rewritten) and len(varied.changed) >= len(varied.rewritten) - 1
    for old, new in zip(tune.bars, after.bars):
        if old.number not in varied.rewritten:
            assert after.music(new) == tune.music(old)
    assert well_formed(varied.text)
    assert vary(model, text, 0.3, candidates=8, seed=6).text == varied.text


def test_the_bars_a_variation_may_change_are_inside_parts():
    assert may_vary(tune_bars(JIG)) == [2, 3, 4, 7]  # not the first or last bar of a part
    assert runs([7, 2, 3, 4, 9]) == [(2, 4), (7, 7), (9, 9)]


# -- the command ------------------------------------------------------------------------------
def test_the_infill_command_writes_versions_that_differ_only_in_the_bars(tmp_path, heldout):
    text = heldout[0]
    source = tmp_path / "tune.abc"
    source.write_text(text)
    out = tmp_path / "new.abc"
    run = subprocess.run([sys.executable, "-m", "tunesmith", "infill", str(source), "--bars", "5-8", "-n", "3",
                          "--seed", "1", "--candidates", "8", "-o", str(out)],
                         capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "bars 5-8 rewritten" in run.stderr and f"wrote 3 to {out}" in run.stderr
    versions = out.read_text().split("\n\n")
    gap = gap_of(text, "5-8")
    assert len(versions) == 3 and len(set(versions)) == 3
    for version in versions:
        version = version.rstrip("\n") + "\n"
        assert version.startswith(gap.prefix) and version.endswith(gap.suffix)
        assert keeps_the_tune(gap, version) and well_formed(version)
    check = subprocess.run([sys.executable, "-m", "tunesmith", "check", str(out)], capture_output=True, text=True,
                           env=ENV, cwd=ROOT, timeout=120)
    assert check.returncode == 0 and "3 pieces checked, 0 with problems" in check.stderr


def tunesmith(capsys, *argv: str) -> tuple[int, str, str]:
    """The command's entry point in this process: (exit status, stdout, stderr)."""
    old = sys.argv
    sys.argv = ["tunesmith", *argv]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bad_input_is_one_clear_line_and_exit_2(capsys, tmp_path, heldout):
    tune = tmp_path / "tune.abc"
    tune.write_text(heldout[0])
    bars = len(tune_bars(heldout[0]).bars)
    two = tmp_path / "two.abc"
    two.write_text(heldout[0] + "\n" + heldout[1])
    prose = tmp_path / "notes.abc"
    prose.write_text("Not a tune at all.\n")
    out = tmp_path / "out.abc"
    cases = [
        (["infill", str(tune), "--bars", f"{bars + 1}-{bars + 3}"], f"the tune has {bars} bars"),
        (["infill", str(tune), "--bars", "3-x"], "--bars '3-x': give one bar or a range"),
        (["infill", str(prose), "--bars", "2"], "no ABC tunes found"),
        (["infill", str(tmp_path / "missing.abc"), "--bars", "2"], "cannot read"),
        (["infill", str(two), "--bars", "2"], "has 2 tunes; choose one with --tune"),
        (["infill", str(two), "--bars", "2", "--tune", "999"], "has no tune X:999"),
        (["infill", str(tune), "--bars", "2", "--candidates", "0"], "--candidates must be between 1 and"),
        (["infill", str(tune), "--bars", "2", "--model", str(ROOT / "models" / "tabla")], "by whole cycles: give --cycles"),
        (["vary", str(tune), "--amount", "1.5"], "--amount must be above 0 and at most 1"),
        (["vary", str(tune), "--amount", "0.3", "--temperature", "0"], "--temperature must be above 0"),
    ]
    for argv, words in cases:
        code, stdout, stderr = tunesmith(capsys, *argv, "-o", str(out))
        assert code == 2, (argv, stderr)
        assert stderr.startswith("error: ") and words in stderr and stderr.count("\n") == 1, (argv, stderr)
        assert stdout == "" and not out.exists()


def test_vary_command_on_stdout(capsys, tmp_path, heldout):
    tune = tmp_path / "tune.abc"
    tune.write_text(heldout[4])
    code, stdout, stderr = tunesmith(capsys, "vary", str(tune), "--amount", "0.25", "--seed", "2",
                                     "--candidates", "4", "-n", "2")
    assert code == 0, stderr
    versions = [v.rstrip("\n") + "\n" for v in stdout.split("\n\n")]
    assert len(versions) == 2 and versions[0] != versions[1]
    assert all(well_formed(v) and form_of(v) == form_of(heldout[4]) for v in versions)
    assert re.search(r"variation 2: \d+ bars changed \(\d+%\)", stderr)
    assert re.search(r"variation 1: bars? [\d-]+ rewritten \(1 of \d+ runs\)", stderr)  # progress, as it goes


# -- the JSON API -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:
    folder = tmp_path_factory.mktemp("infillweb")
    return TestClient(create_app(db=folder / "tunes.db", runs_dir=folder / "no-runs"))


def test_api_infill_and_vary(client, heldout):
    text = heldout[5]
    r = client.post("/api/infill", json={"abc": text, "bars": "2-3", "n": 2, "seed": 3, "candidates": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["seed"] == 3 and body["bars"] == [2, 3] and body["model"] == "default"
    gap = gap_of(text, "2-3")
    for tune in body["tunes"]:
        assert tune["abc"].startswith(gap.prefix) and tune["abc"].endswith(gap.suffix)
        assert keeps_the_tune(gap, tune["abc"]) and tune["problems"] == [] and well_formed(tune["abc"])
        assert tune["bits"] == min(tune["candidate_bits"]) and len(tune["candidate_bits"]) == 4
    r = client.post("/api/vary", json={"abc": text, "amount": 0.2, "seed": 1, "candidates": 4})
    assert r.status_code == 200, r.text
    varied = r.json()["tunes"][0]
    assert varied["problems"] == [] and set(varied["changed"]) <= set(varied["rewritten"]) and well_formed(varied["abc"])


def test_api_errors_name_the_field(client, heldout):
    text = heldout[5]
    bars = len(tune_bars(text).bars)
    for body, status, words in [
        ({"abc": text, "bars": str(bars + 1)}, 400, f"bars {bars + 1}: the tune has {bars} bars"),
        ({"abc": text, "bars": "2", "candidates": 33}, 422, "candidates: between 1 and 32"),
        ({"abc": text, "bars": "2", "n": 9}, 422, "n: between 1 and 8 versions"),
        ({"abc": text + "\n" + text, "bars": "2"}, 422, "2 tunes found"),
        ({"abc": "no tune here", "bars": "2"}, 422, "no tune found"),
        ({"abc": text, "bars": "2", "model": "nope"}, 400, "model 'nope'"),
    ]:
        r = client.post("/api/infill", json=body)
        assert r.status_code == status and words in r.json()["detail"], (body, r.text)
    r = client.post("/api/vary", json={"abc": text, "amount": 0})
    assert r.status_code == 422 and "amount" in r.json()["detail"]


# -- the editor, in a real browser ----------------------------------------------------------------
server, browser, page = browser_tests.server, browser_tests.browser, browser_tests.page


def test_rewrite_bars_in_the_editor(page, heldout):
    text = heldout[6]
    stored = page.request.post("/api/tunes", data={"abc": text, "parent": None}).json()
    page.goto(f"/tune/{stored['id']}")
    card = page.locator("article.tune")
    card.locator(".sheet > svg").wait_for(timeout=30_000)
    before = card.locator(".sheet").inner_html()
    card.locator(".infill input.bars").fill("3-4")
    card.locator(".infill button.rewrite").click()
    status = card.locator(".infill .infill-status")
    page.wait_for_function("el => el.textContent.includes('rewritten')", arg=status.element_handle(), timeout=60_000)
    assert "Bars 3-4 rewritten, the best of 16 candidates" in status.inner_text()
    new = card.locator("textarea.abc").input_value()
    gap = gap_of(text, "3-4")
    assert new != text and new.startswith(gap.prefix) and new.endswith(gap.suffix) and keeps_the_tune(gap, new)
    # The editor took it as an edit: the sheet is engraved again, nothing to complain of, Save is offered.
    page.wait_for_function("([el, old]) => el.innerHTML !== old && !el.closest('article').classList.contains('stale')",
                           arg=[card.locator(".sheet").element_handle(), before], timeout=30_000)
    assert card.locator(".problems li").count() == 0 and card.locator("button.save").is_enabled()
    card.locator("button.save").click()
    card.locator(".saved a").wait_for(timeout=20_000)
    saved = page.request.get(f"/api/tunes/{card.locator('.saved a').inner_text().lstrip('#')}").json()
    assert saved["abc"] == new and saved["parent"] == stored["id"] and well_formed(new)
    # A range the tune does not have: the server's message, the text untouched.
    card.locator(".infill input.bars").fill("99")
    card.locator(".infill input.bars").press("Enter")
    page.wait_for_function("el => el.classList.contains('error')", arg=status.element_handle(), timeout=20_000)
    assert "bars 99: the tune has" in status.inner_text()
    assert card.locator("textarea.abc").input_value() == new
