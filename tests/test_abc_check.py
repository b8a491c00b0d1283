"""`tunesmith check`: bar lengths, keys and unclosed things, agreeing with abc2midi."""

from __future__ import annotations

import json

import pytest
import random
import subprocess
import sys
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from tunesmith.corpus.bundled import load_bundled
from tunesmith.insight.abc2midi import judge, wrong_bar_positions
from tunesmith.music.abc.bars import read_bars, wrong_length_bars
from tunesmith.music.abc.check import check_text, check_tune

GOOD = "X:1\nT:Good\nM:6/8\nL:1/8\nK:D\nA|dfa afd|g3 f2e|dcB AFD|D3 D2:|\n"
TUNESMITH = [sys.executable, "-m", "tunesmith.cli"]


def messages(text: str) -> list[str]:
    return [p.message for r in check_text(text) for p in r.problems]


def test_durations_use_unit_tuplets_broken_rhythm_and_chords():
    bars = read_bars("X:1\nM:4/4\nL:1/8\nK:C\nABcd efga|(3abc d2 e4 f|a>b c<d e2 f2|[ce]2 [df]4 z2|{g}a2 b2 c'4|Z|\n")
    assert [b.duration for b in bars] == [1, Fraction(9, 8), 1, 1, 1, 1]
    assert wrong_length_bars(bars) == [(bars[1], Fraction(9, 8))]


def test_a_clean_tune_with_a_pickup_has_no_problems():
    assert messages(GOOD) == []


def test_problems_have_line_column_and_bar():
    text = GOOD.replace("g3 f2e", "g3 f2").replace("K:D", "K:Hdor").replace("dcB AFD", "[dc B AFD")
    reports = check_text("% a file\n\n" + text)
    found = {(p.line, p.col, p.bar, p.message) for p in reports[0].problems}
    assert (7, 1, 0, "unknown key K:Hdor") in found
    assert (8, 17, 4, "unclosed chord [") in found
    assert (8, 16, 3, "bar 3 has 5/8, the meter needs 6/8") in found


def test_missing_key_and_unclosed_chord_symbol():
    assert messages("X:1\nT:t\nM:6/8\n") == ["missing K: field (the header must end with K:)"]
    assert any(m.startswith("unclosed chord symbol") for m in messages(GOOD.replace("dcB", '"Am dcB')))


def test_a_bar_split_by_a_repeat_is_checked_whole():
    assert messages("X:1\nM:4/4\nL:1/4\nK:C\nc4|d2:|e2|f4|g4|\n") == []
    assert messages("X:1\nM:4/4\nL:1/4\nK:C\nc4|d2:|e3|f4|g4|\n") == ["bar 3 has 5/4, the meter needs 4/4"]


def test_agrees_with_abc2midi_on_which_bars_are_wrong():
    tunes = list(load_bundled("folk"))
    random.Random(7).shuffle(tunes)
    agree = total = 0
    for tune in tunes[:150]:
        bars = read_bars(tune.text)
        ours = {(b.line, b.col) for b, _ in wrong_length_bars(bars)}
        theirs = wrong_bar_positions(tune.text)
        for bar in bars:
            if bar.expected is not None:
                total += 1
                agree += ((bar.line, bar.col) in ours) == ((bar.line, bar.col) in theirs)
    assert total > 2000
    assert agree / total >= 0.98, (agree, total)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='XKML:T123468/ABCDEFGabcdefgz^_=,\'|:[]()-<>{}"!~. \n', max_size=120))
def test_check_never_raises(text):
    for report in check_text("X:1\nM:6/8\nK:D\n" + text):
        assert all(p.line >= 1 and p.col >= 1 for p in report.problems)


def test_cli_exit_codes_and_json(tmp_path):
    good, bad = tmp_path / "good.abc", tmp_path / "bad.abc"
    good.write_text(GOOD)
    bad.write_text(GOOD.replace("g3 f2e", "g3 f2"))
    ok = subprocess.run(TUNESMITH + ["check", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout == ""
    found = subprocess.run(TUNESMITH + ["check", str(bad), "--json"], capture_output=True, text=True)
    assert found.returncode == 1
    report = json.loads(found.stdout)[str(bad)][0]
    assert report["problems"][0]["message"] == "bar 3 has 5/8, the meter needs 6/8"
    missing = subprocess.run(TUNESMITH + ["check", str(tmp_path / "nope.abc")], capture_output=True, text=True)
    assert missing.returncode == 2 and "nope.abc" in missing.stderr and "Traceback" not in missing.stderr


def test_strict_export_keeps_only_tunes_that_check_clean(tmp_path):
    source = tmp_path / "mixed.abc"
    source.write_text(GOOD + "\n" + GOOD.replace("X:1", "X:2").replace("T:Good", "T:Bad").replace("g3 f2e", "g3 f2"))
    out = tmp_path / "strict.abc"
    run = subprocess.run(TUNESMITH + ["corpus", "export", str(source), "--strict", "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0 and "dropped 1 of 2" in run.stderr
    text = out.read_text()
    assert "T:Good" in text and "T:Bad" not in text
    assert subprocess.run(TUNESMITH + ["check", str(out)], capture_output=True).returncode == 0


@pytest.mark.parametrize("body, message", [
    ("|:A4 B4|c4 d4|]\n", "|: is never closed by :|"),
    ("|:A4 B4|:c4 d4:|\n", "opens a repeat while the one at line 6 is open"),
    ("A4 B4:|c4 d4|1 e4 f4:|2 g8|]\n", "a first ending after :| with no |: to repeat from"),
])
def test_repeat_structure_abc2midi_cannot_play_is_reported(body, message):
    tune = "X:1\nT:R\nM:4/4\nL:1/8\nK:G\n" + body
    assert any(message in p.message for p in check_tune(tune))
    assert judge(tune).errors  # abc2midi reports an error there too


@pytest.mark.parametrize("body", ["A4 B4:|c4 d4:|\n", "|:A4 B4:|:c4 d4:|\n", "|:A4 B4|1 c4 d4:|2 e8||\n", "A4 B4::c4 d4:|\n"])
def test_repeats_abc_allows_are_not_problems(body):
    assert check_tune("X:1\nT:R\nM:4/4\nL:1/8\nK:G\n" + body) == []


def test_a_parts_closing_double_repeat_opens_nothing():
    """`::` ending part A, then `P:B` whose last bar is `:|` (O'Neill's prints this): abc2midi plays it without a
    word, so no problem; part B ending without `:|` is reported, as abc2midi reports it, and so is a repeat
    opened with music after it in part A (a part is played on its own, so part B's `:|` does not close it)."""
    tune = "X:1\nT:R\nM:4/4\nL:1/8\nK:G\nP:A\n|:A4 B4|c4 d4::\nP:B\nd4 c4|B4 A4:|\n"
    assert check_tune(tune) == [] and not judge(tune).errors
    unclosed = tune.replace("A4:|", "A4|]")
    assert any("never closed" in p.message for p in check_tune(unclosed)) and judge(unclosed).errors
    assert any("never closed" in p.message for p in check_tune(tune.replace("c4 d4::", "c4 d4::e4 f4|")))


_REAL = [t.text for t in load_bundled("jigs")[:60]]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(_REAL) - 1), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 3), st.text(max_size=3)),
                                                max_size=6))
def test_mutated_real_tunes_give_a_report_never_an_exception(index, edits):
    """Cut, duplicate and splice real tunes at random places: every outcome is a list of problems."""
    text = _REAL[index]
    for at, cut, insert in edits:
        at %= len(text) + 1
        text = text[:at] + insert + text[at + cut:]
    for report in check_text(text):
        assert all(p.line >= 1 and p.col >= 1 and p.message for p in report.problems)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=400))
def test_random_bytes_are_read_or_refused_cleanly(tmp_path_factory, data):
    """`tunesmith check` on any bytes: a report, or one clear error (exit 2), never a traceback."""
    from tunesmith.corpus.files import read_text
    from tunesmith.errors import TunesmithError

    path = tmp_path_factory.mktemp("bytes") / "random.abc"
    path.write_bytes(data)
    try:
        text = read_text(path)
    except TunesmithError as exc:
        assert str(path) in str(exc)
        return
    check_text(text)


def test_a_5_mb_file_checks_in_seconds_with_the_same_reports_as_tune_by_tune(tmp_path):
    """Thousands of tunes are checked in parallel; the result is the one each tune gets alone."""
    import resource

    from tunesmith.music.abc.tunes import join_tunes

    text = (join_tunes(list(load_bundled("folk"))) + "\n") * 4  # 4.9 MB, 17,596 tunes
    path = tmp_path / "big.abc"
    path.write_text(text)
    # CPU seconds of the command and its worker processes: wall-clock time says more about whatever else
    # shares the machine than about the checker.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run([sys.executable, "-m", "tunesmith.cli", "check", str(path), "--json"],
                         capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    reports = json.loads(run.stdout)[str(path)]
    assert len(reports) == 17_596
    assert cpu < 60, cpu  # about 20 CPU seconds (10 s on 2 idle cores)
    from dataclasses import asdict

    from tunesmith.music.abc.check import tune_blocks

    blocks = tune_blocks(text)
    for i in random.Random(3).sample(range(len(reports)), 40):
        start, block = blocks[i]
        assert reports[i]["problems"] == [asdict(p) for p in check_tune(block, start)]
