"""Tunes in a form (issue 15): parts, repeats, echoes of earlier bars, endings on the tonic."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.load import load_corpus
from tunesmith.errors import TunesmithError
from tunesmith.insight.abc2midi import available, pass_rate
from tunesmith.modes import GenerateRequest, get_mode
from tunesmith.modes.abc import Style
from tunesmith.modes.abc.fidelity import summary, tune_form
from tunesmith.modes.abc.forms import FormTable, form_of, parse_form, table_of
from tunesmith.music.abc.check import check_tune


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_MODEL)


def write(shipped, n: int, seed: int, **style) -> list[str]:
    return get_mode("abc").write(shipped, GenerateRequest(n=n, seed=seed, options=Style(**style)))


@pytest.mark.parametrize("form, bars, expected", [
    ("AABB", None, ((8, True), (8, True))),
    ("AB", "4,8", ((4, False), (8, False))),
    ("aabbcc", "16", ((16, True), (16, True), (16, True))),
    ("AAB", None, ((8, True), (8, False))),
])
def test_forms_are_read_from_letters_and_bars(form, bars, expected):
    assert parse_form(form, bars) == expected


@pytest.mark.parametrize("form, bars, message", [
    ("ABBA", None, "in order"), ("A-B", None, "letters"), ("AB", "4,4,4", "one per part"),
    ("AB", "1", "2 to 32 bars"), ("AB", "eight", "a number of bars"),
])
def test_a_form_that_cannot_be_built_is_refused(form, bars, message):
    with pytest.raises(TunesmithError, match=message):
        parse_form(form, bars)


def test_the_form_of_a_real_tune():
    jig = "X:1\nT:t\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|fdf ecA|d3 d2:|\n|:f|afd afd|gec gec|afd dcB|A3 A2:|\n"
    assert form_of(jig) == ((4, True), (4, True))


def test_the_shipped_model_keeps_the_forms_of_its_training_tunes(shipped):
    corpus = load_corpus(["folk"])
    table = FormTable.of_tunes(corpus.train)
    assert table_of(shipped.meta) == table and FormTable.from_json(table.to_json()) == table
    common = max(table.rows, key=lambda row: row[3])
    assert common[2] == ((8, True), (8, True))   # AABB of 8-bar parts, the folk corpus's own form


@pytest.mark.parametrize("form, bars", [("AABB", "8"), ("AB", "4,8"), ("AABBCC", "4")])
def test_every_tune_has_the_form_it_was_given(shipped, form, bars):
    for tune in write(shipped, 6, 21, form=form, part_bars=bars):
        assert form_of(tune) == parse_form(form, bars), tune
        assert not check_tune(tune), tune


def test_by_default_each_tune_has_a_form_of_the_corpus_and_ends_well(shipped):
    tunes = write(shipped, 40, 5)
    corpus_forms = {row[2] for row in table_of(shipped.meta).rows}
    for tune in tunes:
        assert form_of(tune) in corpus_forms, tune
        assert not check_tune(tune), tune
    figures = summary([tune_form(t) for t in tunes])
    assert figures["two_repeats"] >= 0.5 and figures["long_tunes"] <= 0.05   # the targets
    assert figures["ends_on_tonic"] >= 0.6 and figures["repeated_bars"] >= 0.08


@pytest.mark.skipif(not available(), reason="abc2midi is installed by `make tools`")
def test_abc2midi_accepts_the_tunes_in_a_form(shipped):
    ok, _ = pass_rate(write(shipped, 20, 8, form="AABB", part_bars="4,8"))
    assert ok == 1


def test_form_none_lets_the_model_decide(shipped):
    tunes = write(shipped, 4, 9, form="none")
    assert tunes != write(shipped, 4, 9)
    assert all(not check_tune(t) for t in tunes)


def test_the_form_options_on_the_command_line(tmp_path):
    out = tmp_path / "reels.abc"
    cli = [sys.executable, "-m", "tunesmith.cli", "generate"]
    done = subprocess.run([*cli, "-n", "2", "--seed", "3", "--rhythm", "reel", "--form", "AB", "--part-bars", "4",
                           "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert len(re.findall(r"\|\|$|\|\]$", text, re.MULTILINE)) == 4
    bad = subprocess.run([*cli, "--form", "ABBA"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--form 'ABBA'" in bad.stderr and "Traceback" not in bad.stderr
