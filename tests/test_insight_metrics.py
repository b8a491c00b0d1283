"""The evaluation's measures on hand-built cases: overlap, copy detection, duplicates, bits, structure features."""

from __future__ import annotations

import pytest
import torch

from tunesmith.checkpoint import Checkpoint
from tunesmith.codecs.abc_chars import CharCodec
from tunesmith.corpus.bundled import load_bundled
from tunesmith.modes.abc.measures import body_bars, features, key_label, profile
from tunesmith.insight.evaluate import bits
from tunesmith.insight.metrics import BarIndex, distinct_ratio, distribution, duplicates, intervals, overlap
from tunesmith.insight.reference import distributions
from tunesmith.models import ModelConfig, build_model
from tunesmith.music.abc.lexer import tokens

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def jigs():
    """300 real tunes and their profiles."""
    tunes = list(load_bundled("jigs"))[:300]
    return tunes, [profile(t.text, False) for t in tunes]


def test_overlap_of_a_distribution_with_itself_is_one_and_disjoint_is_zero(jigs):
    _, profiles = jigs
    pitch = distributions(profiles)["pitch_class"]
    assert len(pitch) >= 7 and overlap(pitch, dict(pitch)) == pytest.approx(1.0)
    low = distribution([60, 62, 62, 64])
    high = distribution([72, 74])
    assert overlap(low, high) == 0.0
    # Half the mass in a shared bin: 0.5.
    assert overlap(distribution("aabb"), distribution("bbcc")) == pytest.approx(0.5)
    # The first 150 tunes against the other 150: close to, but below, 1.
    halves = overlap(distributions(profiles[:150])["interval"], distributions(profiles[150:])["interval"])
    assert 0.8 < halves < 1.0
    assert overlap({}, low) is None


def _with_bars(tune_text: str, bars: list[str]) -> str:
    header = tune_text[: tune_text.index("\nK:") + 1]
    key_line = tune_text[len(header):].split("\n", 1)[0]
    return header + key_line + "\n|" + "|".join(bars) + "|]\n"


def test_a_copied_tune_is_flagged_with_its_bar_count(jigs):
    tunes, profiles = jigs
    index = BarIndex([p.bars for p in profiles])
    source = next(i for i, p in enumerate(profiles) if len(p.bars) >= 12 and len(set(p.bars)) == len(p.bars))
    bars = profiles[source].bars
    # The whole tune, rewritten with spaces, decorations and chord symbols: still the same bars.
    noisy = ['"Am" ' + " ".join(tokens_of(b)) + " ~" for b in bars]
    match = index.nearest(profile(_with_bars(tunes[source].text, noisy)).bars)
    assert (match.piece, match.longest_run, match.flagged) == (source, len(bars), True)
    assert index.runs_found(bars) == (len(bars) - 3, len(bars) - 3)
    # Its first five bars, then bars no tune has: a run of exactly five.
    strange = ["^g'3 _b'3", "=c''6", "^G,,6", "_E,,3 ^c''3"]
    match = index.nearest(profile(_with_bars(tunes[source].text, bars[:5] + strange)).bars)
    assert (match.piece, match.longest_run, match.flagged) == (source, 5, True)
    # Three copied bars between strange ones: the run is 3, below the flag.
    match = index.nearest(profile(_with_bars(tunes[source].text, strange[:2] + bars[4:7] + strange[2:])).bars)
    assert (match.piece, match.longest_run, match.flagged) == (source, 3, False)
    assert index.runs_found(strange) == (0, 1)


def tokens_of(bar: str) -> list[str]:
    """A normalised bar cut back into its tokens (so that spaces can go between them)."""
    return [t.text for t in tokens(bar)]


def test_bars_are_normalised_and_counted():
    text = 'X:1\nT:t\nM:6/8\nL:1/8\nK:D\n|:"D" ~A2 (FA) d{e}A | [DF]3 z3 |\n|1 G3 G2 B :|2 G6 |]\n'
    bars, onsets = body_bars(tokens(text))
    assert bars == ["A2FAdA", "[DF]3z3", "G3G2B", "G6"]
    assert onsets == [5, 1, 3, 1]
    p = profile(text)
    assert p.key == "D" and p.meter == "6/8" and p.checker_ok and p.bars_total == p.bars_right == 4
    assert p.pitches[:3] == [69, 66, 69]
    assert [key_label(k) for k in ("A dorian", "Emin", "Dmaj", "Gmix", "Bm")] == ["Ador", "Em", "D", "Gmix", "Bm"]
    assert intervals([60, 62, 59, 90]) == [2, -3, 13]


def test_duplicates_and_distinct_ngrams():
    a, b, c = list("abcdef"), list("xyzw"), list("qqabcdrr")
    exact, near = duplicates([a, b, list(a), c])
    assert exact == 1  # the second a
    assert near == 3   # both a's and c (which shares abcd with them)
    assert distinct_ratio([list("abab")], 2) == (2, 3)


def _successor_model() -> Checkpoint:
    """An LSTM built by hand whose next symbol is a function of the current one: a->b->c->d->newline->a."""
    codec = CharCodec(["\n", "a", "b", "c", "d"])
    v = len(codec)
    model = build_model(ModelConfig(cell="lstm", vocab_size=v, embedding=v, hidden=v, layers=1, dropout=0.0))
    nxt = {codec.index[s]: codec.index[t] for s, t in zip("abcd\n", "bcd\na")}
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.embed.weight.copy_(torch.eye(v))
        model.rnn.bias_ih_l0[:v] = 10.0          # input gate open
        model.rnn.bias_ih_l0[v:2 * v] = -10.0    # forget gate shut: only the current symbol counts
        model.rnn.weight_ih_l0[2 * v:3 * v] = 10.0 * torch.eye(v)  # cell = the current symbol
        model.rnn.bias_ih_l0[3 * v:] = 10.0      # output gate open
        for s, t in nxt.items():
            model.head.weight[t, s] = 40.0
    model.eval()
    return Checkpoint(None, model, codec, {})


def test_bits_are_zero_on_data_the_model_predicts_perfectly():
    ckpt = _successor_model()
    perfect = bits(ckpt, ["abcd"] * 30)
    assert perfect["bits_per_symbol"] < 1e-6 and perfect["bits_per_char"] < 1e-6
    assert perfect["symbols"] == perfect["characters"] == 150
    # The same model on text it gets wrong: many bits.
    assert bits(ckpt, ["dcba"] * 30)["bits_per_symbol"] > 20


def test_structure_features_mark_chords_endings_and_the_body():
    text = 'X:1\nT:t\nM:4/4\nL:1/8\nK:G\n"G"[GB]2 AB c2 d2|1 e8 :|2 f8 |]\n'
    f = features(text)
    at = lambda name, sub, k=0: (f[name][1][text.index(sub) + k], f[name][2][text.index(sub) + k])  # noqa: E731
    assert at("body", "K:G") == (0.0, True) and at("body", '"G"') == (1.0, True)
    assert at("chord_symbol", '"G"') == (1.0, True) and at("chord_symbol", '"G"', 2) == (0.0, True)
    assert at("chord", "[GB]") == (1.0, True) and at("chord", "GB]", 1) == (1.0, True) and at("chord", "]2") == (0.0, True)
    assert at("last_note", "d2|") == (1.0, True) and at("last_note", "c2") == (0.0, True)
    assert not at("last_note", "|1")[1]
    assert at("ending", "e8") == (1.0, True) and at("ending", "f8") == (0.0, True) and not at("ending", "AB")[1]
    # Four eighths into the bar (of 4/4) is half way; the bar line goes back to 0.
    assert at("bar_position", "c2")[0] == pytest.approx(0.5) and at("bar_position", "|1")[0] == 0.0
    assert not f["bar_position"][2][text.index("M:")]
