"""--device for generate, evaluate, visualize and serve, and the sampler's two engines (numpy, torch's kernels).

The engines step the same folded network, so they agree to float rounding;
which one samples a batch is decided by models/engine.py (batch size and
device). The GPU test skips where there is no CUDA GPU.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.bundled import load_bundled
from tunesmith.generate import one_blas_thread
from tunesmith.insight.abc2midi import available, judge
from tunesmith.models import build_model, get_preset
from tunesmith.models.engine import engine_for, forced, max_batch, stepper_for, torch_from_batch
from tunesmith.models.stepper import Stepper, TorchStepper
from tunesmith.modes.abc.writer import generate_tunes


@pytest.fixture(scope="module")
def shipped():
    assert (DEFAULT_MODEL / "config.json").is_file(), "the shipped model is missing: run `make models`"
    return load_checkpoint(DEFAULT_MODEL, "cpu")


def _steps_agree(model, device="cpu", steps: int = 40) -> float:
    """Largest logit difference between the engines over `steps` steps of 6 streams, 2 dropped halfway."""
    with one_blas_thread():  # as the sampler runs them (two torch threads on busy cores: 40x slower)
        return _largest_difference(model, device, steps)


def _largest_difference(model, device, steps: int) -> float:
    a, b = Stepper(model), TorchStepper(model, device)
    sa, sb = a.initial_state(6), b.initial_state(6)
    rng = np.random.default_rng(3)
    worst, live = 0.0, 6
    for t in range(steps):
        if t == steps // 2:  # streams that end leave the batch: both engines keep the same rows
            rows = np.array([0, 2, 3, 5])
            sa, sb, live = a.select(sa, rows), b.select(sb, rows), 4
        ids = rng.integers(0, model.config.vocab_size, live)
        la, sa = a.step(ids, sa)
        lb, sb = b.step(ids, sb)
        assert lb.dtype == np.float32 and lb.shape == la.shape
        worst = max(worst, float(np.abs(la - lb).max()))
    return worst


def test_torch_engine_steps_like_numpy_on_the_shipped_model(shipped):
    assert _steps_agree(shipped.model) < 1e-4


def test_torch_engine_steps_like_numpy_for_a_gru():
    torch.manual_seed(0)
    model = build_model(replace(get_preset("gru").model, vocab_size=80)).eval()
    assert _steps_agree(model) < 1e-4


def test_the_engine_is_chosen_by_batch_and_device(shipped):
    model, first = shipped.model, torch_from_batch(shipped.model)
    assert 1 < first <= 64  # one stream on numpy, generate's full batch of 64 on torch
    assert engine_for(model, 1) == "numpy"
    assert engine_for(model, first - 1) == "numpy"
    assert engine_for(model, first) == "torch"
    small = build_model(replace(get_preset("small").model, vocab_size=94))  # 6 x less work per stream: later
    assert torch_from_batch(small) > 5 * first
    assert isinstance(stepper_for(model, 1), Stepper) and isinstance(stepper_for(model, first), TorchStepper)
    assert max_batch(model, 64) == 64  # a CPU keeps generate's batches (and so the seeds of every batch)
    with forced("torch"):
        assert engine_for(model, 1) == "torch"
    with forced("numpy"):
        assert engine_for(model, 1000) == "numpy"
    transformer = build_model(replace(get_preset("transformer-small").model, vocab_size=40))
    with forced("torch"):  # the key/value cache exists in numpy only
        assert engine_for(transformer, 1000) == "numpy"


@pytest.mark.skipif(not available(), reason="abc2midi is not installed (make tools)")
def test_a_batch_on_torchs_kernels_writes_what_numpy_writes(shipped):
    n = torch_from_batch(shipped.model)  # the smallest batch the torch engine takes: the automatic choice
    tunes = generate_tunes(shipped, n, seed=31, max_symbols=700)
    again = generate_tunes(shipped, n, seed=31, max_symbols=700)
    with forced("numpy"):
        numpy_tunes = generate_tunes(shipped, n, seed=31, max_symbols=700)
    assert tunes == again  # same seed, same music
    # The same draws on logits equal to float rounding: a draw tips only when it lands within ~1e-7 of a boundary.
    assert sum(a == b for a, b in zip(tunes, numpy_tunes)) >= n - 1
    assert sum(judge(t).ok for t in tunes) >= n * 3 // 4


def run_cli(monkeypatch, capsys, args: list[str]) -> tuple[int, str]:
    """`tunesmith ARGS` through the real entry point, in this process: (exit status, stderr)."""
    from tunesmith.cli import main

    monkeypatch.setattr(sys, "argv", ["tunesmith", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here: --device cuda is not refused")
def test_device_cuda_without_cuda_exits_2_for_every_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    commands = {
        "generate": ["generate", "-n", "1", "-o", "out.abc"],
        "evaluate": ["evaluate", "-n", "2", "-o", "report"],
        "visualize": ["visualize", "--generate", "-o", "viz.html"],
        "serve": ["serve", "--port", "8765"],
    }
    for name, args in commands.items():
        code, err = run_cli(monkeypatch, capsys, [*args, "--device", "cuda"])
        assert code == 2, (name, err)
        assert err.count("\n") == 1 and "--device cuda: no CUDA GPU" in err and "Traceback" not in err, (name, err)
    code, err = run_cli(monkeypatch, capsys, ["generate", "-n", "1", "--device", "tpu"])
    assert code == 2 and "--device tpu: choose one of auto, cpu, cuda, mps" in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_device_cpu_for_generate_visualize_and_evaluate(tiny_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = str(tiny_run)
    code, err = run_cli(monkeypatch, capsys, ["generate", "--model", model, "-n", "2", "--seed", "4",
                                              "--device", "cpu", "-o", "cpu.abc"])
    assert code == 0, err
    code, err = run_cli(monkeypatch, capsys, ["generate", "--model", model, "-n", "2", "--seed", "4", "-o", "auto.abc"])
    assert code == 0, err
    if not torch.cuda.is_available():  # auto is the CPU here: the same music
        assert (tmp_path / "cpu.abc").read_text() == (tmp_path / "auto.abc").read_text()
    code, err = run_cli(monkeypatch, capsys, ["visualize", "--model", model, "--text", "cpu.abc", "--neuron", "3",
                                              "--device", "cpu", "-o", "viz.html"])
    assert code == 0 and "viz.html" in err, err
    code, err = run_cli(monkeypatch, capsys, ["evaluate", "--model", model, "-n", "2", "--max-length", "300",
                                              "--device", "cpu", "-o", "report"])
    assert code == 0 and "bits/" in err, err
    assert (tmp_path / "report" / "report.json").is_file()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none on the machines these tests "
                                                         "were written on (benchmarks/gpu_check.py runs the GPU path)")
def test_trained_on_a_gpu_sampled_on_the_cpu_and_back(tmp_path):
    from tunesmith.insight.evaluate import bits
    from tunesmith.train import new_trainer

    preset = get_preset("small")
    trainer = new_trainer(tmp_path / "gpu", ["jigs"], preset.model, replace(preset.train, epochs=1, seed=2),
                          limit=40, device="cuda")
    trainer.run(show_progress=False)
    on_gpu, on_cpu = load_checkpoint(tmp_path / "gpu", "cuda"), load_checkpoint(tmp_path / "gpu", "cpu")
    assert _steps_agree(on_gpu.model, "cuda") < 1e-3
    texts = [t.text for t in trainer.corpus.held_out[:10]]
    assert abs(bits(on_gpu, texts)["bits_per_symbol"] - bits(on_cpu, texts)["bits_per_symbol"]) < 1e-3
    assert engine_for(on_gpu.model, 1) == "torch" and max_batch(on_gpu.model, 64) > 64
    gpu_tunes, cpu_tunes = generate_tunes(on_gpu, 8, seed=1), generate_tunes(on_cpu, 8, seed=1)
    assert len(gpu_tunes) == len(cpu_tunes) == 8 and all(t.startswith("X:") for t in gpu_tunes)


def test_the_folded_stepper_is_kept_until_a_weight_changes():
    """Folding is done once per set of weights: an optimizer step or a loaded state dict folds them again."""
    torch.manual_seed(3)
    model = build_model(replace(get_preset("small").model, vocab_size=30)).eval()
    first = model.stepper()
    assert model.stepper() is first
    ids = np.array([4, 7])
    before, _ = first.step(ids, first.initial_state(2))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    logits = model(torch.tensor([[4, 7, 1]]))[0]
    logits.sum().backward()
    opt.step()
    stepped = model.stepper()
    assert stepped is not first
    after, _ = stepped.step(ids, stepped.initial_state(2))
    assert not np.allclose(before, after)
    model.load_state_dict(build_model(replace(get_preset("small").model, vocab_size=30)).state_dict())
    assert model.stepper() is not stepped


def test_int8_steps_close_to_float32_and_writes_well_formed_tunes(shipped, tmp_path, monkeypatch, capsys):
    """`generate --int8`: the 8-bit stepper's logits stay near the model's (its held-out cost, 0.01 %, is in
    docs/benchmarks.md), the same seed writes the same tunes, every tune checks, and the float32 stepper
    comes back when it is turned off."""
    from tunesmith.models.stepper import Int8Stepper
    from tunesmith.music.abc.check import check_tune

    exact = Stepper(shipped.model)
    shipped.model.sample_in_int8()
    try:
        quick = shipped.model.stepper()
        assert isinstance(quick, Int8Stepper) and engine_for(shipped.model, 64) == "numpy"
        tunes = [t.text for t in load_bundled("jigs")[:3]]
        ids = [shipped.codec.index["\n"]] * 2 + [i for t in tunes for i in shipped.codec.encode(t + "\n")]
        bits = []
        for net in (exact, quick):
            state, total = net.initial_state(1), 0.0
            for now, nxt in zip(ids[:-1], ids[1:]):
                logits, state = net.step(np.array([now]), state)
                total -= float(torch.log_softmax(torch.from_numpy(logits[0]).double(), 0)[nxt]) / np.log(2)
            bits.append(total / (len(ids) - 1))
        assert bits[0] != bits[1] and abs(bits[1] - bits[0]) < 0.01 * bits[0]  # not the float32 product, but close
        tunes = generate_tunes(shipped, 3, seed=5)
        assert tunes == generate_tunes(shipped, 3, seed=5)
        assert all(check_tune(t) == [] for t in tunes)
    finally:
        shipped.model.sample_in_int8(False)
    assert type(shipped.model.stepper()) is Stepper
    monkeypatch.chdir(tmp_path)
    code, _ = run_cli(monkeypatch, capsys, ["generate", "-n", "2", "--seed", "5", "--int8", "-o", "q.abc"])
    assert code == 0 and (tmp_path / "q.abc").read_text().count("X:") == 2


def test_int8_for_a_gru_and_refused_for_a_transformer(tmp_path, monkeypatch, capsys):
    from tunesmith.checkpoint import write_checkpoint
    from tunesmith.codecs.abc_chars import CharCodec
    from tunesmith.models.stepper import Int8Stepper

    torch.manual_seed(0)
    gru = build_model(replace(get_preset("gru").model, vocab_size=80)).eval()
    exact, quick = Stepper(gru), Int8Stepper(gru)
    la, _ = exact.step(np.array([3, 7]), exact.initial_state(2))
    lb, _ = quick.step(np.array([3, 7]), quick.initial_state(2))
    assert np.abs(la - lb).max() < 0.02 * np.ptp(la)
    codec = CharCodec.fit(["X:1\nT:a\nM:6/8\nL:1/8\nK:G\nGAB cde|]\n"])
    model = build_model(replace(get_preset("transformer-small").model, vocab_size=len(codec)))
    write_checkpoint(tmp_path / "tr", model, codec, {"mode": "abc"})
    code, err = run_cli(monkeypatch, capsys, ["generate", "-n", "1", "--model", str(tmp_path / "tr"), "--int8"])
    assert code == 2 and "--int8: only an LSTM or GRU" in err and "Traceback" not in err
