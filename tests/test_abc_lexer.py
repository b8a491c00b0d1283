"""The ABC lexer: lossless on any text, and it recognises real tunes."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunesmith.corpus.bundled import load_bundled
from tunesmith.music.abc.lexer import length, note_parts, tokens

LINE = '|:"Am"~A2>B (3cde [CEG]2 z/ {g}f- f|[K:G] ^c,\'3/2 !trill!d//|1 e4 :|2 e2 Z2 [1 x`y|]'


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokens(text) if t.kind != "space"]


def test_a_line_of_folk_abc():
    assert kinds(LINE) == [
        ("bar", "|:"), ("chord_symbol", '"Am"'), ("decoration", "~"), ("note", "A2"), ("broken", ">"),
        ("note", "B"), ("tuplet", "(3"), ("note", "c"), ("note", "d"), ("note", "e"), ("chord_open", "["),
        ("note", "C"), ("note", "E"), ("note", "G"), ("chord_close", "]2"), ("rest", "z/"),
        ("grace_open", "{"), ("note", "g"), ("grace_close", "}"), ("note", "f"), ("tie", "-"), ("note", "f"),
        ("bar", "|"), ("inline_field", "[K:G]"), ("note", "^c,'3/2"), ("decoration", "!trill!"),
        ("note", "d//"), ("bar", "|1"), ("note", "e4"), ("bar", ":|2"), ("note", "e2"),
        ("measure_rest", "Z2"), ("volta", "[1"), ("rest", "x"), ("backquote", "`"), ("spacer", "y"),
        ("bar", "|]"),
    ]


@pytest.mark.parametrize("text", ["||", "[|", "|]", "::", ":|:", ":||:", "|:", ":|", "|1", ":|2", "|1,2"])
def test_bar_lines_are_one_token(text):
    assert kinds(text) == [("bar", text)]


def test_field_lines_only_at_line_start_and_music_that_looks_like_one():
    assert kinds("K:D\nAB K:G\n") == [("field", "K:D"), ("newline", "\n"), ("note", "A"), ("note", "B"),
                                       ("unknown", "K"), ("unknown", ":"), ("note", "G"), ("newline", "\n")]
    assert kinds("B:|\n")[0] == ("note", "B")


def test_positions_are_one_based_line_and_column():
    toks = tokens("X:1\nK:D\nab |c\n")
    c = next(t for t in toks if t.text == "c")
    assert (c.line, c.col) == (3, 5)


@pytest.mark.parametrize("text, value", [
    ("", 1), ("2", 2), ("/", Fraction(1, 2)), ("//", Fraction(1, 4)), ("/4", Fraction(1, 4)),
    ("3/2", Fraction(3, 2)), ("3/", Fraction(3, 2)), ("/0", 1),
])
def test_lengths(text, value):
    assert length("A" + text) == value


def test_note_parts():
    assert note_parts("^c,'") == ("^", "C", 1)
    assert note_parts("__B,,3") == ("__", "B", -2)
    assert note_parts("=g''") == ("=", "G", 3)


def test_every_bundled_tune_round_trips_and_is_recognised():
    counts = Counter()
    for tune in load_bundled("folk"):
        toks = tokens(tune.text)
        assert "".join(t.text for t in toks) == tune.text
        counts.update(t.kind for t in toks)
    # Real folk ABC is almost all recognised: what is left is reserved letters and stray marks.
    assert counts["unknown"] / sum(counts.values()) < 0.002, counts
    assert counts["note"] > 400_000 and counts["bar"] > 80_000


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_round_trips(text):
    toks = tokens(text)
    assert "".join(t.text for t in toks) == text
    assert all(t.text for t in toks)
    for t in toks:
        if t.kind in ("note", "rest", "chord_close"):
            assert length(t.text) >= 0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='ABCDEFGabcdefgzZx^_=,\'/0123456789|:[]()-<>{}"!~. \n', max_size=80))
def test_abc_like_text_round_trips_with_consistent_positions(text):
    toks = tokens(text)
    assert "".join(t.text for t in toks) == text
    lines = text.split("\n")
    for t in toks:
        assert lines[t.line - 1][t.col - 1:].startswith(t.text.split("\n")[0])
