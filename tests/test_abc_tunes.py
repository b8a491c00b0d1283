"""Canonical form of ABC tunes: split_blocks, parse_tunes, canonical_tune, dedupe, join_tunes."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tunesmith.music.abc.tunes import (
    Tune,
    canonical_tune,
    dedupe,
    join_tunes,
    parse_tunes,
    split_blocks,
)


def texts(abc: str) -> list[str]:
    return [t.text for t in parse_tunes(abc)]


def header(tune_text: str) -> list[str]:
    """The header lines of a canonical tune: up to and including the first K: line."""
    lines = tune_text.split("\n")
    end = next(i for i, line in enumerate(lines) if line.startswith("K:"))
    return lines[: end + 1]


# --- header order and fields -------------------------------------------------

def test_header_is_reordered_to_x_t_m_l_r_k():
    abc = "X:7\nR:reel\nL:1/8\nM:4/4\nT:The Title\nK:D\nABcd efge|\n"
    assert texts(abc) == ["X:1\nT:The Title\nM:4/4\nL:1/8\nR:reel\nK:D\nABcd efge|\n"]


def test_only_first_title_is_kept():
    abc = "X:1\nT:First\nT:Second\nM:6/8\nL:1/8\nK:G\nGAB|\n"
    (tune,) = parse_tunes(abc)
    assert tune.title == "First"
    assert "Second" not in tune.text


def test_source_fields_are_dropped():
    abc = (
        "X:1\nT:Tune\nB:O'Neill's Music of Ireland\nN:a note about it\nZ:transcribed by me\n"
        "S:a fiddler\nO:Ireland\nM:4/4\nL:1/8\nK:D\nABcd|\n"
    )
    (text,) = texts(abc)
    # O: is kept when it names a country the origin table knows (the Essen songs' field, issue 16);
    # other origin text ("SCOTCH.", "Trad.") goes with the other source fields.
    assert text == "X:1\nT:Tune\nO:Ireland\nM:4/4\nL:1/8\nK:D\nABcd|\n"
    (text,) = texts(abc.replace("O:Ireland", "O:SCOTCH."))
    assert text == "X:1\nT:Tune\nM:4/4\nL:1/8\nK:D\nABcd|\n"


def test_body_keeps_music_changing_fields_but_drops_others():
    abc = "X:1\nT:T\nM:4/4\nL:1/8\nK:D\nABcd|\nP:B\nM:3/4\nK:G\nL:1/4\nw:some lyrics\nN:note\nGAB|\n"
    (tune,) = parse_tunes(abc)
    assert tune.body == "ABcd|\nP:B\nM:3/4\nK:G\nL:1/4\nGAB|"


def test_bar_line_after_note_letter_is_music_not_a_field():
    # "B:|" looks like a B: field but is a note followed by a repeat bar.
    (tune,) = parse_tunes("X:1\nT:T\nK:D\nABcd|\nB:|\n")
    assert tune.body == "ABcd|\nB:|"


def test_default_unit_length_filled_from_meter():
    (two_four,) = parse_tunes("X:1\nT:Polka\nM:2/4\nK:D\nAB cd|\n")
    (six_eight,) = parse_tunes("X:1\nT:Jig\nM:6/8\nK:D\nABc def|\n")
    (no_meter,) = parse_tunes("X:1\nT:Air\nK:D\nABc def|\n")
    assert two_four.unit == "1/16" and "L:1/16\n" in two_four.text
    assert six_eight.unit == "1/8" and "L:1/8\n" in six_eight.text
    assert no_meter.unit == "1/8" and no_meter.meter is None and "M:" not in no_meter.text


def test_absurd_meter_is_not_an_error():
    # Digit strings beyond Python's int-conversion limit must not raise ValueError.
    (tune,) = parse_tunes("X:1\nT:T\nM:" + "9" * 5000 + "/8\nK:D\nABcd|\n")
    assert tune.unit == "1/8"
    assert tune.meter == "9" * 5000 + "/8"


def test_fullwidth_percent_folds_to_a_comment():
    # U+FF05 folds to "%": the folded text must be treated as a comment, not kept.
    (tune,) = parse_tunes("X:1\nT:T\nK:D\nABcd| \uff05 comment\n\uff05 whole line\nefga|\n")
    assert tune.body == "ABcd|\nefga|"


def test_explicit_unit_length_kept():
    (tune,) = parse_tunes("X:1\nT:Polka\nM:2/4\nL:1/8\nK:D\nAB cd|\n")
    assert tune.unit == "1/8"


def test_rhythm_is_normalised():
    (tune,) = parse_tunes("X:1\nT:Some Tune\nM:6/8\nR: Double Jig\nK:D\nABc def|\n")
    assert tune.rhythm == "jig"
    assert "R:jig\n" in tune.text


def test_rhythm_taken_from_title_when_missing():
    (tune,) = parse_tunes("X:1\nT:Lanigan's Ball Jig\nM:6/8\nK:G\nGAB c2d|\n")
    assert tune.rhythm == "jig"
    assert header(tune.text) == ["X:1", "T:Lanigan's Ball Jig", "M:6/8", "L:1/8", "R:jig", "K:G"]


def test_no_rhythm_when_title_names_none():
    (tune,) = parse_tunes("X:1\nT:Lanigan's Ball\nM:6/8\nK:G\nGAB c2d|\n")
    assert tune.rhythm is None
    assert "R:" not in tune.text


def test_explicit_rhythm_wins_over_title():
    (tune,) = parse_tunes("X:1\nT:The Humours of Something Jig\nR:Slide\nM:12/8\nK:D\nABc def|\n")
    assert tune.rhythm == "slide"


def test_rhythm_with_trailing_dot_and_space_is_clean():
    # "R:Reel ." must not leave "R:reel " (a trailing space that re-parsing removes).
    (tune,) = parse_tunes("X:1\nT:T\nR:Reel .\nM:4/4\nK:D\nABcd|\n")
    assert tune.rhythm == "reel"
    assert "R:reel\n" in tune.text


# --- comments, directives, free text -----------------------------------------

def test_comments_and_directives_removed_escaped_percent_kept():
    abc = (
        "%abc-2.1\n%%pagewidth 21cm\n"
        "X:1\nT:Tune % a comment in a header\nM:4/4 %meter\nK:D\n"
        "%%MIDI program 1\n"
        "ABcd efge| % end of bar comment\n"
        "% a whole-line comment\n"
        "fedc \\%not a comment|]\n"
    )
    (text,) = texts(abc)
    assert text == "X:1\nT:Tune\nM:4/4\nL:1/8\nK:D\nABcd efge|\nfedc \\%not a comment|]\n"


def test_comment_only_lines_do_not_end_a_tune():
    abc = "X:1\nT:T\nK:D\nABcd|\n% just a comment\n  %% indented directive\nefga|\n"
    (tune,) = parse_tunes(abc)
    assert tune.body == "ABcd|\nefga|"


def test_blank_line_ends_a_tune():
    abc = "X:1\nT:T\nK:D\nABcd|\n\nefga|\n"
    (tune,) = parse_tunes(abc)
    assert tune.body == "ABcd|"


def test_free_text_between_tunes_dropped():
    abc = (
        "This is a book of tunes.\nK:not a tune either\nabc\n\n"
        "X:1\nT:One\nK:D\nABcd|\n\n"
        "Some words between the tunes, with notes a b c.\n\n"
        "X:2\nT:Two\nK:G\nGABc|\n\nTrailing prose.\n"
    )
    assert texts(abc) == [
        "X:1\nT:One\nL:1/8\nK:D\nABcd|\n",
        "X:2\nT:Two\nL:1/8\nK:G\nGABc|\n",
    ]


def test_split_blocks_raw_blocks():
    abc = "intro\nX:1\nT:A\n%c\nK:D\nab\n\n\nX:2\nK:C\nX:3\nK:G\ncd\n"
    assert split_blocks(abc) == [["X:1", "T:A", "K:D", "ab"], ["X:2", "K:C"], ["X:3", "K:G", "cd"]]


def test_x_line_starts_new_tune_without_blank_line():
    abc = "X:1\nT:A\nK:D\nABcd|\nX:2\nT:B\nK:G\nGABc|\n"
    assert [t.title for t in parse_tunes(abc)] == ["A", "B"]


def test_blocks_without_key_or_notes_are_not_tunes():
    abc = "X:1\nT:No key\nabc\n\nX:2\nT:No notes\nK:D\n|: z4 :|\n\nX:3\nT:Good\nK:D\nd2|\n"
    tunes = parse_tunes(abc)
    assert [(t.number, t.title) for t in tunes] == [(1, "Good")]
    assert canonical_tune(["X:1", "T:No key", "abc"], 1) is None


def test_multi_voice_tunes_skipped():
    abc = (
        "X:1\nT:Two voices\nM:4/4\nK:D\nV:1\nABcd|\nV:2\nFGAB|\n\n"
        "X:2\nT:Inline voices\nK:D\n[V:1] ABcd|\n\n"
        "X:3\nT:Single\nK:D\nABcd|\n"
    )
    tunes = parse_tunes(abc)
    assert [t.title for t in tunes] == ["Single"]
    assert tunes[0].number == 1


# --- whitespace, line ends, characters ----------------------------------------

def test_crlf_and_cr_same_as_lf():
    lf = "X:1\nT:A\nM:6/8\nK:D\nABc def|\n\nX:2\nT:B\nK:G\nGAB|\n"
    assert texts(lf.replace("\n", "\r\n")) == texts(lf)
    assert texts(lf.replace("\n", "\r")) == texts(lf)
    assert len(texts(lf)) == 2


def test_non_ascii_folded():
    (tune,) = parse_tunes("X:1\nT:Caf\u00e9 na Sc\u00e9ile \u2013 R\u00f3is\u00edn\nK:D\nABcd|\n")
    assert tune.title == "Cafe na Sceile Roisin"  # the dash has no ASCII form
    assert tune.text.isascii()


def test_tabs_and_runs_of_spaces_collapsed():
    (tune,) = parse_tunes("X:1\nT:  Wide\t\tTitle  \nK:D\nAB  cd\t|   \n")
    assert tune.title == "Wide Title"
    assert tune.body == "AB cd |"


# --- dedupe, numbering, join ---------------------------------------------------

def test_numbering_from_one_in_order():
    abc = "X:10\nT:A\nK:D\nd|\n\nX:5\nT:B\nK:D\nd|\n\nX:99\nT:C\nK:D\nd|\n"
    assert [(t.number, t.title) for t in parse_tunes(abc)] == [(1, "A"), (2, "B"), (3, "C")]


def test_dedupe_removes_exact_duplicates_and_renumbers():
    abc = (
        "X:1\nT:A\nK:D\nABcd|\n\n"
        "X:2\nT:B\nK:D\nABcd|\n\n"
        "X:3\nT:A\nK:D\nABcd|\n\n"       # same as 1 apart from X:
        "X:4\nT:A\nK:D\nABce|\n\n"       # differs in one note: kept
        "X:5\nT:B\nK:D\nABcd|\n"         # same as 2
    )
    tunes = dedupe(parse_tunes(abc))
    assert [(t.number, t.title, t.body) for t in tunes] == [
        (1, "A", "ABcd|"), (2, "B", "ABcd|"), (3, "A", "ABce|"),
    ]


def test_dedupe_keeps_distinct_and_first_occurrence():
    a = Tune(4, "A", "6/8", "1/8", "jig", "D", "ABc|")
    b = Tune(9, "B", "6/8", "1/8", "jig", "D", "ABc|")
    assert dedupe([b, a, b]) == [Tune(1, "B", "6/8", "1/8", "jig", "D", "ABc|"),
                                 Tune(2, "A", "6/8", "1/8", "jig", "D", "ABc|")]


def test_join_tunes_one_blank_line_between():
    tunes = parse_tunes("X:1\nT:A\nK:D\nd|\n\n\n\nX:2\nT:B\nK:D\ne|\n")
    assert join_tunes(tunes) == "X:1\nT:A\nL:1/8\nK:D\nd|\n\nX:2\nT:B\nL:1/8\nK:D\ne|\n"


def test_canonical_form_is_idempotent_on_messy_input():
    abc = (
        "%%header\r\nfree text\r\n"
        "X:3\r\nR: Double Jig\r\nT:Caf\u00e9   Jig\r\nB:book\r\nM: 6/8\r\nK: D  dor\r\n"
        "ABc  def|%c\r\n%c\r\nP:B\r\nw:la la\r\nfed \\% cba|]\r\n\r\n"
        "X:4\nT:Lanigan's Ball Jig\nM:2/4\nK:G\nGA Bc|\n"
    )
    tunes = parse_tunes(abc)
    assert len(tunes) == 2
    again = parse_tunes(join_tunes(tunes))
    assert [t.text for t in again] == [t.text for t in tunes]
    assert again == tunes
    assert tunes[0].key == "D dor" and tunes[0].meter == "6/8"


# --- fuzz --------------------------------------------------------------------

ABC_ALPHABET = st.sampled_from(
    list("XTMLRKVBNZSPwW:%\\|[]ABCDEFGabcdefgz2/ \t\r\n.,'-")
    + ["X:1\n", "K:D\n", "T:", "R:", "M:6/8", "V:1", "\n\n", "%%", "\\%", "\u00e9", "\uff05", "\u00a0"]
)
abc_like = st.lists(ABC_ALPHABET, max_size=80).map("".join)


def check_canonical(text: str) -> None:
    tunes = parse_tunes(text)
    for number, tune in enumerate(tunes, start=1):
        t = tune.text
        assert tune.number == number
        assert t.isascii(), t
        assert t.startswith("X:"), t
        assert t.endswith("\n") and not t.endswith("\n\n"), t
        lines = t[:-1].split("\n")
        assert all(line == line.rstrip() for line in lines), t
        assert all(line for line in lines), t  # a blank line would end the tune
        head = header(t)
        assert [line[:2] for line in head][0] == "X:"
        assert head[-1].startswith("K:")
        assert not any(line.startswith("K:") for line in head[:-1])
    again = parse_tunes(join_tunes(tunes))
    assert [t.text for t in again] == [t.text for t in tunes]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
@example("X:1\nR:Reel .\nK:D\nabc\n")
@example("X:1\nK:D\n\uff05 fullwidth percent folds to %\nabc\n")
@example("X:1\nM:1/" + "1" * 5000 + "\nK:D\nabc\n")
def test_fuzz_arbitrary_text(text):
    check_canonical(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(abc_like)
def test_fuzz_abc_like_text(text):
    check_canonical(text)
