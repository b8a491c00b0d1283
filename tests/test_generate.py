"""Generation: plans, sampling options, determinism, batching, and the output format."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tunesmith.errors import TunesmithError
from tunesmith.generate import MAX_BATCH
from tunesmith.modes.abc import Style
from tunesmith.modes.abc.writer import Segment, build_plan, finish_tune, generate_tunes
from tunesmith.options import Sampling
from tunesmith.music.abc.tunes import parse_tunes
from tunesmith.sampling import choose


def header(tune: str) -> list[str]:
    lines = tune.split("\n")
    end = next(i for i, line in enumerate(lines) if line.startswith("K:"))
    return lines[: end + 1]


def test_tunes_are_numbered_titled_and_parse(tiny_model):
    tunes = generate_tunes(tiny_model, 6, seed=1, max_symbols=600)
    assert [t.split("\n")[0] for t in tunes] == [f"X:{i}" for i in range(1, 7)]
    for tune in tunes:
        assert tune.split("\n")[1].startswith("T:") and len(tune.split("\n")[1]) > 2
        assert tune.endswith("\n") and not tune.endswith("\n\n")
        assert len(tune) <= 600


def test_a_styled_header_makes_every_tune_parse(tiny_model):
    """Even an under-trained model's tunes are tunes when the header is planned."""
    tunes = generate_tunes(tiny_model, 8, seed=1, style=Style(meter="6/8", key="G"), max_symbols=600)
    parsed = parse_tunes("\n".join(tunes))
    assert [t.number for t in parsed] == list(range(1, 9))
    assert all(t.meter == "6/8" and t.key == "G" and t.body for t in parsed)


def test_same_seed_same_tunes_other_seed_other_tunes(tiny_model):
    a = generate_tunes(tiny_model, 3, seed=7, max_symbols=300)
    b = generate_tunes(tiny_model, 3, seed=7, max_symbols=300)
    c = generate_tunes(tiny_model, 3, seed=8, max_symbols=300)
    assert a == b
    assert a != c


def test_style_fixes_the_header_in_canonical_order(tiny_model):
    style = Style(meter="6/8", key="D", rhythm="Reel")
    for tune in generate_tunes(tiny_model, 4, seed=3, style=style, max_symbols=500):
        head = header(tune)
        assert head[0] == f"X:{head[0][2:]}" and head[1].startswith("T:")
        assert head[2] == "M:6/8"
        assert head[3].startswith("L:")           # written by the model
        assert head[4:] == ["R:reel", "K:D"]


def test_only_a_key_makes_the_model_write_meter_and_length_first(tiny_model):
    for tune in generate_tunes(tiny_model, 3, seed=4, style=Style(key="Ador"), max_symbols=400):
        head = header(tune)
        assert [line[:2] for line in head] == ["X:", "T:", "M:", "L:", "K:"]
        assert head[-1] == "K:Ador"


def test_a_whole_tune_primer_is_kept_verbatim(tiny_model):
    primer = "X:1\nT:\nM:3/4\nL:1/8\nK:G\nD2|G2"
    for i, tune in enumerate(generate_tunes(tiny_model, 3, seed=2, primer=primer, max_symbols=400), 1):
        assert tune.startswith(f"X:{i}\nT:Untitled {i}\nM:3/4\nL:1/8\nK:G\nD2|G2")


def test_a_music_primer_follows_the_styled_header(tiny_model):
    for tune in generate_tunes(tiny_model, 2, seed=2, primer="|:A", style=Style(meter="6/8", key="D", length="1/8", rhythm="reel")):
        assert "\nM:6/8\nL:1/8\nR:reel\nK:D\n|:A" in tune


def test_more_tunes_than_one_batch(tiny_model):
    tunes = generate_tunes(tiny_model, MAX_BATCH + 3, seed=0, max_symbols=128)
    assert len(tunes) == MAX_BATCH + 3
    assert tunes[-1].startswith(f"X:{MAX_BATCH + 3}\n")


def test_length_cap_cuts_at_a_line_end(tiny_model):
    for tune in generate_tunes(tiny_model, 4, seed=5, max_symbols=128, sampling=Sampling(temperature=1.5)):
        assert len(tune) <= 128 + len("Untitled 4") and tune.endswith("\n")


def test_argmax_ignores_the_seed(tiny_model):
    a = generate_tunes(tiny_model, 2, seed=1, sampling=Sampling(argmax=True), max_symbols=200)
    b = generate_tunes(tiny_model, 2, seed=9, sampling=Sampling(argmax=True), max_symbols=200)
    assert a == b and a[0].split("\n", 2)[2] == a[1].split("\n", 2)[2]  # same apart from X: and title


def test_top_k_and_top_p_restrict_the_choice():
    logits = np.array([[4.0, 3.0, 2.0, 1.0, 0.0]] * 200)
    gen = np.random.default_rng(0)
    assert set(choose(logits, Sampling(top_k=2, top_p=None), gen).tolist()) == {0, 1}
    # probabilities 0.64, 0.24, 0.09, ...: top-p 0.7 keeps the first two
    assert set(choose(logits, Sampling(top_p=0.7), gen).tolist()) == {0, 1}
    assert set(choose(logits, Sampling(top_p=0.5), gen).tolist()) == {0}
    wide = set(choose(logits, Sampling(temperature=3.0, top_p=None), gen).tolist())
    assert wide == {0, 1, 2, 3, 4}


def test_plan_for_a_key_only_style():
    plan = build_plan(None, Style(key="D").checked())
    forced = [s.text for s in plan if s.mode == "force"]
    assert forced == ["X:1\nT:", "M:", "L:", "K:D\n"]
    assert plan[-1] == Segment("body")


@pytest.mark.parametrize("style, option", [
    (Style(meter="7/0"), "--meter"), (Style(meter="abc"), "--meter"), (Style(length="1/0"), "--length"),
    (Style(key="H"), "--key"), (Style(key="Dxyz"), "--key"),
])
def test_bad_styles_are_refused(style, option):
    with pytest.raises(TunesmithError, match=option):
        style.checked()


@pytest.mark.parametrize("sampling, option", [
    (Sampling(temperature=0), "--temperature"), (Sampling(temperature=-1), "--temperature"),
    (Sampling(top_p=0), "--top-p"), (Sampling(top_p=1.01), "--top-p"), (Sampling(top_k=0), "--top-k"),
])
def test_bad_sampling_is_refused(sampling, option):
    with pytest.raises(TunesmithError, match=option):
        sampling.check()


def test_primer_outside_the_vocabulary_is_refused(tiny_model):
    with pytest.raises(TunesmithError, match="--primer"):
        generate_tunes(tiny_model, 1, primer="X:1\nT:\u00e9\u20ac")


def test_finish_tune_renumbers_and_titles():
    assert finish_tune("X:9\nT:\nK:D\nabc|\n\n", 3, False) == "X:3\nT:Untitled 3\nK:D\nabc|\n"
    assert finish_tune("X:1\nT:Jig\nK:D\nabc|de", 1, True) == "X:1\nT:Jig\nK:D\n"
    assert re.match(r"X:2\nT:Untitled 2\nK:D", finish_tune("X:1\nK:D\nab\n", 2, False))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sampling_follows_the_tempered_softmax(temperature):
    logits = np.tile([[2.0, 1.0, 0.0, -1.0]], (40_000, 1))
    drawn = choose(logits, Sampling(temperature=temperature, top_p=1.0), np.random.default_rng(0))
    freq = np.bincount(drawn, minlength=4) / len(drawn)
    expected = np.exp(logits[0] / temperature) / np.exp(logits[0] / temperature).sum()
    assert np.allclose(freq, expected, atol=0.01)
