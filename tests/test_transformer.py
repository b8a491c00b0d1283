"""`--arch transformer`: causal, its cached steps equal its forward, and it trains, samples, resumes,
saves, visualizes and evaluates through the same paths as the RNNs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from tunesmith.checkpoint import load_checkpoint
from tunesmith.errors import TunesmithError
from tunesmith.models import ModelConfig, build_model, get_preset
from tunesmith.train import TrainingInterrupted, new_trainer, resume_trainer

TUNESMITH = [sys.executable, "-m", "tunesmith.cli"]
TINY = replace(get_preset("transformer-small").model, hidden=32, embedding=32, layers=2, heads=4, context=64)


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(TUNESMITH + list(args), capture_output=True, text=True, cwd=cwd)


def _random_model(context: int = 16, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model(ModelConfig("transformer", 40, 32, 32, 2, 0.0, heads=4, context=context)).eval()
    with torch.no_grad():  # larger weights than the init, so that rounding slips would show
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model


@pytest.fixture(scope="module")
def tiny_transformer_run(tmp_path_factory):
    """A tiny transformer trained through the real trainer for 2 epochs on 40 jigs: its run folder."""
    out = tmp_path_factory.mktemp("runs") / "tr"
    train = replace(get_preset("transformer-small").train, epochs=2, seed=1, seq=64)
    new_trainer(out, ["jigs"], TINY, train, limit=40).run(show_progress=False)
    return out


def test_earlier_logits_do_not_see_later_symbols():
    model = _random_model()
    ids = torch.randint(0, 40, (2, 16))
    changed = ids.clone()
    changed[:, 9] = (changed[:, 9] + 1) % 40
    a, b = model(ids)[0], model(changed)[0]
    assert torch.allclose(a[:, :9], b[:, :9], atol=1e-6)
    assert not torch.allclose(a[:, 9:], b[:, 9:], atol=1e-3)  # the change is seen from there on


def test_cached_steps_equal_the_forward_and_slide_past_the_context():
    model = _random_model(context=16)
    ids = torch.randint(0, 40, (3, 45))
    net = model.stepper()
    state = net.initial_state(3)
    stepped = []
    for t in range(45):
        logits, state = net.step(ids[:, t].numpy(), state)
        stepped.append(logits)
        # the cache holds the last state.pos symbols: the forward over that window must agree
        window = ids[:, t + 1 - state.pos:t + 1]
        with torch.no_grad():
            full = model(window)[0][:, -1].numpy()
        assert np.abs(logits - full).max() < 1e-4, (t, state.pos)
    assert state.pos < 16  # it slid
    with torch.no_grad():  # and the windowed reading `visualize` uses is the sampler's
        long = model.read_long(ids)[0].numpy()
    assert np.abs(np.stack(stepped, 1) - long).max() < 1e-4


def _stepped(net, ids: np.ndarray) -> np.ndarray:
    """Logits (B, T, V) of stepping B streams through ids (B, T) from an empty cache."""
    state = net.initial_state(ids.shape[0])
    out = []
    for t in range(ids.shape[1]):
        logits, state = net.step(ids[:, t], state)
        out.append(logits)
    return np.stack(out, 1)


def _exact(model, ids: np.ndarray) -> np.ndarray:
    """The model's logits in float64 over the windows the sliding cache sees (read_long), as float64."""
    with torch.no_grad():
        return model.double().read_long(torch.from_numpy(ids))[0].numpy()


@pytest.mark.parametrize("context", [16, 15])
def test_stepper_logits_equal_the_float64_model_after_the_context_wraps(context):
    """The stepper folds LayerNorms, biases and GELU's constants into its float32 matrices and keeps the residual
    stream centred: past many slides its logits are the model's in float64 to 1e-5 (weights ~15x the init's)."""
    model = _random_model(context=context, seed=3)
    ids = np.random.default_rng(4).integers(0, 40, (3, 5 * context))
    net = model.stepper()
    stepped = _stepped(net, ids)
    prefilled, _ = net.prefill(ids[:, :context - 1], net.initial_state(3))  # the batched read slides use
    exact = _exact(model, ids)
    assert np.abs(exact).max() > 1  # logits large enough that a relative slip would show
    assert np.abs(stepped - exact).max() < 1e-5
    assert np.abs(prefilled - exact[:, :context - 1]).max() < 1e-5


def test_trained_stepper_equals_the_float64_model_on_a_real_tune(tiny_transformer_run):
    """The same on the trained tiny model and a bundled tune three times its context long."""
    from tunesmith.corpus.bundled import load_bundled

    ckpt = load_checkpoint(tiny_transformer_run)
    text = next(t.text for t in load_bundled("jigs") if len(t.text) > 3 * ckpt.model.window)
    ids = np.array([ckpt.codec.encode(text)[:3 * ckpt.model.window]])
    stepped = _stepped(ckpt.model.stepper(), ids)
    assert np.abs(stepped - _exact(ckpt.model, ids)).max() < 1e-5


def test_selecting_streams_keeps_their_caches():
    model = _random_model()
    net = model.stepper()
    ids = np.random.default_rng(0).integers(0, 40, (3, 10))
    state = net.initial_state(3)
    for t in range(9):
        _, state = net.step(ids[:, t], state)
    logits_all, _ = net.step(ids[:, 9], net.select(state, np.array([0, 1, 2])))
    logits_one, _ = net.step(ids[[2], 9], net.select(state, np.array([2])))
    assert np.abs(logits_all[2] - logits_one[0]).max() < 1e-5


def test_trained_transformer_writes_well_formed_tunes(tiny_transformer_run, tmp_path):
    config = json.loads((tiny_transformer_run / "best" / "config.json").read_text())
    assert config["model"]["cell"] == "transformer" and config["model"]["context"] == 64
    curve = [r["held_out_bits_per_symbol"] for r in config["progress"]["history"]]
    assert curve[-1] < curve[0], curve
    # Longer than the context (64): sampling slides the cache; every tune still passes `check`.
    run = _cli("generate", "--model", str(tiny_transformer_run), "-n", "4", "--seed", "3", "--max-length", "300")
    assert run.returncode == 0, run.stderr
    tunes = run.stdout
    assert len(re.findall(r"^X:\d+$", tunes, re.M)) == 4
    (tmp_path / "out.abc").write_text(tunes)
    checked = _cli("check", str(tmp_path / "out.abc"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_save_and_load_give_identical_logits(tiny_transformer_run, tmp_path):
    from tunesmith.checkpoint import write_checkpoint

    ckpt = load_checkpoint(tiny_transformer_run)
    write_checkpoint(tmp_path / "copy", ckpt.model, ckpt.codec, {})
    again = load_checkpoint(tmp_path / "copy")
    assert type(again.model).__name__ == "Transformer"
    ids = torch.randint(0, len(ckpt.codec), (2, 50))
    with torch.no_grad():
        assert torch.equal(ckpt.model(ids)[0], again.model(ids)[0])


def test_interrupted_transformer_training_resumes_exactly(tmp_path):
    train = replace(get_preset("transformer-small").train, epochs=2, seed=4, batch=8, seq=32)
    whole = new_trainer(tmp_path / "whole", ["jigs"], TINY, train, limit=8)
    whole.run(show_progress=False)
    cut = new_trainer(tmp_path / "cut", ["jigs"], TINY, train, limit=8)

    def ctrl_c(epoch, batch):
        if epoch == 1 and batch == 2:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        cut.run(show_progress=False, on_batch=ctrl_c)
    resume_trainer(tmp_path / "cut").run(show_progress=False)
    a = load_checkpoint(tmp_path / "cut" / "latest").model.state_dict()
    b = load_checkpoint(tmp_path / "whole" / "latest").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_window_longer_than_the_context_is_refused(tmp_path):
    with pytest.raises(TunesmithError, match="--seq 65: longer than the transformer's context 64"):
        new_trainer(tmp_path / "r", ["jigs"], TINY, replace(get_preset("transformer-small").train, seq=65), limit=4)


def test_unknown_arch_and_mismatched_preset_are_clear_errors(tmp_path):
    unknown = _cli("train", "--arch", "mamba", "--corpus", "jigs", "--out", str(tmp_path / "r"))
    assert unknown.returncode == 2
    assert "error: --arch 'mamba': choose lstm, gru or transformer" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    mixed = _cli("train", "--arch", "transformer", "--preset", "seed", "--corpus", "jigs", "--out", str(tmp_path / "r"))
    assert mixed.returncode == 2 and "--preset seed is a lstm preset" in mixed.stderr
    assert not (tmp_path / "r").exists()


def test_the_cli_trains_a_transformer(tmp_path):
    run = _cli("train", "--arch", "transformer", "--preset", "transformer-small", "--corpus", "jigs", "--limit", "12",
               "--epochs", "1", "--seq", "32", "--out", str(tmp_path / "r"), "--no-progress", "--threads", "1")
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "r" / "best" / "config.json").read_text())["model"]["context"] == 32


def test_visualize_shows_an_attention_head(tiny_transformer_run, tmp_path):
    from tunesmith.insight.visualize import build_head_view, render_page

    ckpt = load_checkpoint(tiny_transformer_run)
    tune = "X:1\nT:A\nM:6/8\nL:1/8\nK:G\n" + "|:GAB cde|dBG AFD|GAB cde|dBG G3:|\n" * 3
    view = build_head_view(ckpt, tune, "2.1")
    n = len(view.reading.symbols)
    assert n > 64 and view.attention.shape == (n, n)  # longer than the context: read in sliding windows
    assert np.allclose(np.triu(view.attention, 1), 0)  # causal
    assert view.values().sum() == pytest.approx(view.attention.sum())
    page = render_page(view, ckpt.codec.vocab)
    assert "attention it receives from head 1 of layer 2" in page and "its query looks most at" in page

    out = tmp_path / "v.html"
    abc = tmp_path / "t.abc"
    abc.write_text(tune)
    run = _cli("visualize", "--model", str(tiny_transformer_run), "--text", str(abc), "--head", "1.0", "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert out.is_file() and "head 0 of layer 1" in out.read_text()
    bad = _cli("visualize", "--model", str(tiny_transformer_run), "--text", str(abc), "--head", "1.9", "-o", str(out))
    assert bad.returncode == 2 and "heads 0 to 3" in bad.stderr


def test_visualize_head_needs_a_transformer(tiny_model, tmp_path):
    from tunesmith.insight.visualize import check_head

    with pytest.raises(TunesmithError, match="only a transformer has attention heads"):
        check_head(tiny_model, "1.0")


def test_evaluate_runs_on_a_transformer(tiny_transformer_run):
    from tunesmith.insight.evaluate import Settings, evaluate

    data = evaluate([tiny_transformer_run], Settings(n=3, seed=1, max_length=300))
    model = data["models"][0]
    assert model["model"]["cell"] == "transformer"
    assert 0 < model["heldout"]["split"]["bits_per_symbol"] < 8
