"""The copy model: a piece's own earlier symbols mixed into the network's distribution (models/copy.py)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.models.copy import CopyModel, Matcher, fit, mix_logits, mixture_bits, predictions

TUNESMITH = [sys.executable, "-m", "tunesmith.cli"]


def test_a_match_predicts_what_followed_the_earlier_occurrence_and_grows():
    piece = [ord(c) for c in "abcdeXabcdeXY"]
    preds = predictions(piece, min_match=5)
    assert preds[:11] == [(-1, 0)] * 11                   # "abcde" seen once before the 2nd "abcde" ends
    assert preds[11] == (ord("X"), 5)                      # after the 2nd "abcde": X followed the 1st
    assert preds[12] == (ord("a"), 6)                      # it was X: the match grows and says "a" comes next
    matcher = Matcher(5)
    for symbol in piece:
        matcher.push(symbol)
    assert matcher.prediction == (-1, 0)                   # Y broke the match; "eXY" unseen


def test_online_and_offline_predictions_agree_on_real_tunes(tiny_model):
    from tunesmith.corpus.load import load_corpus

    for tune in load_corpus(["jigs"], 30, "abc").train[:10]:
        piece = tiny_model.codec.encode(tune.text + "\n")
        matcher, online = Matcher(), []
        for symbol in piece:
            online.append(matcher.prediction)
            matcher.push(symbol)
        assert online == predictions(piece)
        assert sum(n > 0 for _, n in online) > 0  # jigs repeat themselves


def test_the_mixture_is_a_distribution_that_moves_mass_to_the_prediction():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=40)
    mixed = mix_logits(logits, 7, 0.6)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    assert math.isclose(np.exp(mixed).sum(), 1.0, rel_tol=1e-9)
    assert math.isclose(np.exp(mixed[7]), 0.4 * p[7] + 0.6, rel_tol=1e-9)
    assert np.allclose(np.exp(np.delete(mixed, 7)), 0.4 * np.delete(p, 7))
    masked = logits.copy()
    masked[7] = -np.inf                                    # a symbol the network cannot write stays possible
    assert math.isclose(np.exp(mix_logits(masked, 7, 0.6)[7]), 0.6, rel_tol=1e-9)


def test_the_fit_trusts_matches_that_are_right_and_ignores_ones_that_are_not():
    rng = np.random.default_rng(0)
    n = 2000
    lengths = rng.choice([5, 40], size=n)
    hit = np.where(lengths == 40, rng.random(n) < 0.95, rng.random(n) < 0.05)   # long matches right, short wrong
    logp = np.log(np.full(n, 0.3))
    model = fit(logp, lengths, hit)
    assert model.weight(40) > 0.8 and model.weight(5) < 0.1
    assert model.fitted_on["bits_mixture"] < model.fitted_on["bits_network"]
    w = np.array([model.weight(int(x)) for x in lengths])
    assert math.isclose(mixture_bits(logp, hit, w).mean(), model.fitted_on["bits_mixture"], abs_tol=1e-4)
    assert CopyModel.from_dict(model.to_dict()).weights == tuple(round(x, 4) for x in model.weights)


def test_package_fits_it_and_it_lowers_held_out_bits_on_real_tunes(tiny_run, tmp_path):
    from tunesmith.modelcard import package_run

    package_run(tiny_run, tmp_path / "shipped", name="tiny")
    shipped = load_checkpoint(tmp_path / "shipped")
    copy = shipped.meta["copy"]
    assert shipped.copy is not None and len(copy["weights"]) == len(copy["bands"]) + 1
    assert copy["held_out"]["mixture"] < copy["held_out"]["network"]
    assert "## Copy model" in (tmp_path / "shipped" / "MODEL_CARD.md").read_text()
    package_run(tiny_run, tmp_path / "plain", name="tiny", copy=False)
    assert load_checkpoint(tmp_path / "plain").copy is None


def test_the_shipped_model_has_one_and_it_pays_on_its_held_out_tunes():
    shipped = load_checkpoint(DEFAULT_MODEL)
    held = shipped.meta["copy"]["held_out"]
    assert shipped.copy is not None
    assert held["mixture"] < held["network"] - 0.1       # a tenth of a bit per character at least


@pytest.mark.parametrize("flag", ["--copy", "--no-copy"])
def test_generate_with_and_without_it_is_seeded_and_well_formed(flag, tmp_path):
    def run(seed):
        out = subprocess.run([*TUNESMITH, "generate", "-n", "3", "--seed", str(seed), flag, "--max-length", "400"],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout

    first = run(11)
    assert first == run(11)
    (tmp_path / "t.abc").write_text(first)
    check = subprocess.run([*TUNESMITH, "check", str(tmp_path / "t.abc")], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_copy_model_changes_what_is_drawn():
    from tunesmith.modes.abc.writer import generate_tunes
    from tunesmith.options import Sampling

    shipped = load_checkpoint(DEFAULT_MODEL)
    with_copy = generate_tunes(shipped, 4, seed=5, sampling=Sampling(copy=True))
    without = generate_tunes(shipped, 4, seed=5, sampling=Sampling(copy=False))
    assert with_copy != without


def test_a_broken_copy_section_is_a_clear_error(tmp_path):
    import json
    import shutil

    shutil.copytree(DEFAULT_MODEL, tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["copy"] = {"min_match": 5}
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    out = subprocess.run([*TUNESMITH, "generate", "--model", str(tmp_path / "m"), "-n", "1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "invalid \"copy\" section" in out.stderr and "Traceback" not in out.stderr
