"""abc2midi, an independent ABC implementation, judges the tunes we write."""

from __future__ import annotations

import pytest

from tunesmith.checkpoint import load_checkpoint
from tunesmith.checkpoint import DEFAULT_MODEL
from tunesmith.modes.abc import Style
from tunesmith.modes.abc.writer import generate_tunes
from tunesmith.insight.abc2midi import available, judge

GOOD = "X:1\nT:Good\nM:6/8\nL:1/8\nK:D\nA|dfa afd|g3 f2e|dcB AFD|D3 D2:|\n"
BROKEN = "X:1\nT:Broken\nM:6/8\nL:1/8\nK:D\nA|dfa [afd|g3-f2e|dcB AF&D|D3 D2:|\n"


def test_abc2midi_is_installed():
    assert available(), "make test installs Debian's abcmidi; run `make tools`"


def test_the_judge_tells_good_from_broken():
    assert judge(GOOD).ok and not judge(GOOD).bar_warnings
    assert not judge(BROKEN).ok
    short_bar = judge(GOOD.replace("g3 f2e", "g3 f2"))
    assert short_bar.ok and short_bar.bar_warnings


@pytest.fixture(scope="module")
def shipped():
    assert (DEFAULT_MODEL / "config.json").is_file(), "the shipped model is missing: run `make models`"
    return load_checkpoint(DEFAULT_MODEL)


def test_most_shipped_model_tunes_pass_abc2midi(shipped):
    tunes = generate_tunes(shipped, 24, seed=1)
    verdicts = [judge(t) for t in tunes]
    passed = sum(v.ok for v in verdicts)
    assert passed >= 18, [v.errors for v in verdicts if not v.ok]


def test_styled_jigs_pass_abc2midi(shipped):
    tunes = generate_tunes(shipped, 12, seed=2, style=Style(meter="6/8", key="D", rhythm="jig"))
    assert all("\nM:6/8\n" in t and "\nR:jig\nK:D\n" in t for t in tunes)
    assert sum(judge(t).ok for t in tunes) >= 9
