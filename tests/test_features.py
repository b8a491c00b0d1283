"""Per-piece features compared in the manner of Yang & Lerch: the method on known numbers, hand-counted
features, and real tunes against real tunes and against deliberately broken ones."""

from __future__ import annotations

import copy
import math
import random
from fractions import Fraction

import numpy as np
import pytest

from tunesmith.corpus.load import load_corpus
from tunesmith.insight.features import (
    KL_FLOOR, NOTE_LENGTHS, common_grid, compare_distances, compare_sets, evaluate_sets, integral, inter_distances,
    intra_distances, kde, length_class, piece_values, scott_bandwidth,
)
from tunesmith.insight.measures import measures_for
from tunesmith.modes import all_modes
from tunesmith.modes.abc.measures import profile as abc_profile
from tunesmith.modes.midi.measures import profile as midi_profile
from tunesmith.modes.tabla.measures import profile as tabla_profile

PITCH_FEATURES = ("pitch_count", "pitch_class_histogram", "pitch_class_transitions", "pitch_range", "pitch_interval")


# -- the method -------------------------------------------------------------------

def test_scott_bandwidth_and_the_kde_integrate_to_one_and_match_the_direct_sum():
    rng = np.random.default_rng(0)
    samples = np.concatenate([rng.normal(2.0, 0.5, 3000), rng.exponential(1.0, 2000) + 4])
    h = scott_bandwidth(samples)
    assert h == pytest.approx(np.std(samples, ddof=1) * len(samples) ** -0.2)
    other = rng.normal(3.0, 1.0, 500)
    grid = common_grid(samples, other, h, scott_bandwidth(other))
    density = kde(samples, grid)
    assert integral(density, grid) == pytest.approx(1.0, abs=1e-4)
    assert integral(kde(other, grid), grid) == pytest.approx(1.0, abs=1e-4)
    # The binned estimate is the textbook sum of one Gaussian per sample.
    direct = np.exp(-0.5 * ((grid[:, None] - samples[None, :]) / h) ** 2).sum(axis=1) / (len(samples) * h * math.sqrt(2 * math.pi))
    assert np.abs(density - direct).max() < 0.01 * direct.max()
    assert scott_bandwidth(np.full(10, 3.0)) == 0.0 and scott_bandwidth(np.array([1.0])) == 0.0


def test_distances_are_every_ordered_pair_and_every_cross_pair():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    assert sorted(intra_distances(x)) == pytest.approx(sorted([5, 5, 1, 1, math.sqrt(18), math.sqrt(18)]))
    assert sorted(inter_distances(x[:1], x[1:])) == pytest.approx([1.0, 5.0])


def test_identical_distances_overlap_fully_and_disjoint_ones_not_at_all():
    rng = np.random.default_rng(1)
    d = rng.gamma(4.0, 1.0, 2000)
    same = compare_distances(d, d.copy())
    assert same.overlap == pytest.approx(1.0, abs=1e-6) and same.kl == pytest.approx(0.0, abs=1e-9)
    apart = compare_distances(d, d + 100)
    assert apart.overlap < 1e-6 and 10 < apart.kl <= -math.log(KL_FLOOR)   # finite: the floor
    shifted = compare_distances(d, d + 1)
    assert 0.1 < shifted.overlap < 0.95 and 0.05 < shifted.kl < apart.kl
    flat = compare_distances(np.zeros(20), d)
    assert (flat.overlap, flat.kl) == (None, None) and "do not vary" in flat.note
    assert "fewer than 2" in compare_distances(np.zeros(1), d).note


# -- features of one piece, by hand ---------------------------------------------------

def _values(mode: str, text: str, profile) -> dict:
    return {k: (None if v is None else v.tolist()) for k, v in
            ((k, v[0]) for k, v in piece_values(measures_for(mode).piece_features, [text], [profile]).items())}


def test_a_hand_written_tune_has_the_features_counted_by_hand():
    text = "X:1\nT:Hand\nM:4/4\nL:1/8\nK:D\nDEF z A2 d2|c4 z4|]\n"
    p = abc_profile(text)
    assert p.pitches == [62, 64, 66, 69, 74, 73]   # K:D sharpens F and c
    assert p.onsets == [0, Fraction(1, 8), Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), 1]   # the rest at 3/8
    v = _values("abc", text, p)
    assert v["pitch_count"] == [6] and v["note_count"] == [6] and v["pitch_range"] == [12]
    assert v["pitch_interval"] == pytest.approx([(2 + 2 + 3 + 5 + 1) / 5])
    histogram = [0.0] * 12
    for pc in (2, 4, 6, 9, 2, 1):
        histogram[pc] += 1 / 6
    assert v["pitch_class_histogram"] == pytest.approx(histogram)
    transitions = np.array(v["pitch_class_transitions"]).reshape(12, 12)
    assert transitions.sum() == pytest.approx(1) and transitions[2, 4] == transitions[9, 2] == pytest.approx(1 / 5)
    # Inter-onset intervals 1/8 1/8 1/4 1/4 1/4: the rest lengthens the third, unlike the note lengths.
    assert v["ioi"] == pytest.approx([1 / 5])
    eighth, quarter, half = (NOTE_LENGTHS.index(Fraction(1, k)) for k in (8, 4, 2))
    assert v["note_length_histogram"][eighth] == pytest.approx(3 / 6)
    assert v["note_length_histogram"][quarter] == pytest.approx(2 / 6) and v["note_length_histogram"][half] == pytest.approx(1 / 6)
    lengths = np.array(v["note_length_transitions"]).reshape(12, 12)
    assert lengths[eighth, eighth] == pytest.approx(2 / 5) and lengths[quarter, half] == pytest.approx(1 / 5)
    # One part of two bars, no bar repeated, ending on c# in D.
    assert (v["repeated_bars"], v["two_repeats"], v["part_bars"], v["tonic_ending"], v["junk"]) == ([0], [0], [2], [0], [0])


def test_a_hand_written_tune_has_its_form_counted_by_hand():
    text = "X:2\nT:Form\nM:2/4\nL:1/8\nK:G\n|:GABc|GABc:|\n|:dcBA|!fermata!z2 G2:|\n"
    v = _values("abc", text, abc_profile(text))
    assert v["repeated_bars"] == [0.25] and v["two_repeats"] == [1] and v["part_bars"] == [2]
    assert v["tonic_ending"] == [1] and v["junk"] == [1]   # a decoration on a rest
    assert v["note_count"] == [26]   # repeats played out: 4 bars of 4 notes, then 2 of 5


def test_note_lengths_go_to_the_nearest_of_twelve_classes():
    assert [NOTE_LENGTHS[length_class(Fraction(x))] for x in ("1/8", "3/8", "1/12", "2", "13/64", "1/64")] == [
        Fraction(1, 8), Fraction(3, 8), Fraction(1, 12), Fraction(1), Fraction(3, 16), Fraction(1, 16)]


def test_a_tabla_composition_has_its_features_counted_by_hand():
    text = "tala: dadra\n[Dha Ti] Dhin - | Dha Tin Na ||\nDha\n"
    p = tabla_profile(text)
    assert p.checker_ok and p.onsets == [0, Fraction(1, 2), 1, 3, 4, 5, 6]   # the silent matra is no onset
    v = _values("tabla", text, p)
    assert (v["bol_count"], v["distinct_bols"], v["bols_per_cycle"], v["ioi"]) == ([7], [5], [6], [1])
    assert sum(v["bol_histogram"]) == pytest.approx(1) and max(v["bol_histogram"]) == pytest.approx(3 / 7)


def test_midi_features_read_the_top_voice_with_its_onsets():
    chorale = load_corpus(["bach-chorales"], None, "midi").held_out[0].text
    p = midi_profile(chorale)
    assert len(p.onsets) == len(p.pitches) == len(p.values["top_lengths"]) > 20
    assert all(a < b for a, b in zip(p.onsets, p.onsets[1:]))
    v = _values("midi", chorale, p)
    assert v["note_count"] == [len(p.pitches)] and v["pitch_range"] == [max(p.pitches) - min(p.pitches)]


def test_every_mode_declares_its_features_and_gives_each_a_value():
    for mode in all_modes():
        measures = mode.measures()
        features = measures.piece_features
        assert features is not None and features.labels, mode.name
        piece = load_corpus(list(mode.corpora())[:1], None, mode.name).held_out[0].text
        values = features.values(piece, measures.profile(piece, False))
        assert set(values) == set(features.labels), mode.name


# -- real tunes against real tunes, and against broken ones ----------------------------------------

@pytest.fixture(scope="module")
def folk():
    """The folk corpus's held-out tunes (the shipped model's), profiled, in two alternate halves."""
    measures = measures_for("abc")
    texts = [t.text for t in load_corpus(["folk"], None, "abc").held_out]
    profiles = [measures.profile(t, False) for t in texts]
    first = piece_values(measures.piece_features, texts[0::2], profiles[0::2])
    return measures.piece_features, texts[1::2], profiles[1::2], first


def _broken(profiles, pitches):
    rng = random.Random(5)
    out = []
    for p in profiles:
        q = copy.deepcopy(p)
        q.pitches = pitches(rng, p.pitches)
        rng.shuffle(q.lengths)
        out.append(q)
    return out


def test_two_halves_of_real_tunes_are_indistinguishable_and_identical_sets_overlap_fully(folk):
    features, texts, profiles, first = folk
    halves = compare_sets(features, first, piece_values(features, texts, profiles))
    estimated = {k: r for k, r in halves.items() if r["overlap"] is not None}
    assert set(halves) - set(estimated) == {"junk"}   # no real tune has a junk construct
    assert "do not vary" in halves["junk"]["note"] and halves["junk"]["real"]["mean"] == 0
    assert all(r["overlap"] > 0.85 and r["kl"] < 0.05 for r in estimated.values()), halves
    same = compare_sets(features, first, first)
    assert all(r["overlap"] > 0.98 and r["kl"] < 0.02 for r in same.values() if r["overlap"] is not None)


def test_random_pitches_score_clearly_lower_on_every_pitch_feature(folk):
    features, texts, profiles, first = folk
    halves = compare_sets(features, first, piece_values(features, texts, profiles))
    broken = _broken(profiles, lambda rng, pitches: [rng.randrange(55, 91) for _ in pitches])
    scores = compare_sets(features, first, piece_values(features, texts, broken))
    for name in PITCH_FEATURES:
        assert scores[name]["overlap"] < halves[name]["overlap"] - 0.3, name
        assert scores[name]["kl"] > halves[name]["kl"] + 0.5, name
    assert scores["ioi"]["overlap"] == pytest.approx(halves["ioi"]["overlap"])   # the onsets did not move


def test_a_tritone_lower_scores_lower_on_pitch_classes_only(folk):
    features, texts, profiles, first = folk
    halves = compare_sets(features, first, piece_values(features, texts, profiles))
    broken = _broken(profiles, lambda rng, pitches: [x - 6 for x in pitches])
    scores = compare_sets(features, first, piece_values(features, texts, broken))
    for name in ("pitch_class_histogram", "pitch_class_transitions", "tonic_ending"):
        assert scores[name]["overlap"] < 0.6 < halves[name]["overlap"], name
    for name in ("pitch_count", "pitch_range", "pitch_interval"):   # a transposition keeps them exactly
        assert scores[name]["overlap"] == pytest.approx(halves[name]["overlap"]), name


def test_evaluate_sets_compares_generated_pieces_and_alternate_real_ones(folk):
    features, texts, profiles, _ = folk
    result = evaluate_sets(features, (texts, profiles), (texts[:20], profiles[:20]))
    assert result["pieces"] == {"generated": 20, "real": len(texts), "real_halves": [(len(texts) + 1) // 2,
                                                                                     len(texts) // 2]}
    row = result["generated"]["pitch_range"]
    ranges = [max(p.pitches) - min(p.pitches) for p in profiles]
    assert row["real"]["mean"] == pytest.approx(np.mean(ranges)) and row["other"]["pieces"] == 20
    assert row["inter"]["mean"] > 0 and 0 < row["overlap"] <= 1
    assert result["real_halves"]["pitch_class_histogram"]["real"]["distance"]["mean"] > 0
