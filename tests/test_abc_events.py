"""ABC -> note events: pitches in the key, accidentals through the bar, ties, repeats and endings."""

from __future__ import annotations

import random
from fractions import Fraction as F

from tunesmith.corpus.bundled import load_bundled
from tunesmith.music.abc.bars import read_bars
from tunesmith.music.abc.to_events import key_signature, tune_events
from tunesmith.music.events import total_length


def test_key_signatures():
    assert key_signature("D") == {"F": 1, "C": 1}
    assert key_signature("Ador") == {"F": 1}
    assert key_signature("Gm") == key_signature("Bb") == {"B": -1, "E": -1}
    assert key_signature("Dmix") == key_signature("G") == {"F": 1}
    assert key_signature("C") == key_signature("Am") == key_signature("HP") == {}


def test_repeats_endings_ties_chords_and_broken_rhythm():
    events = tune_events("X:1\nM:6/8\nL:1/8\nK:D\n|:A>B c2-c|1 d3:|2 [df]3|]\n")
    assert [(e.start, e.duration, e.pitch) for e in events] == [
        (0, F(3, 16), 69), (F(3, 16), F(1, 16), 71), (F(1, 4), F(3, 8), 73), (F(5, 8), F(3, 8), 74),
        (1, F(3, 16), 69), (F(19, 16), F(1, 16), 71), (F(5, 4), F(3, 8), 73),
        (F(13, 8), F(3, 8), 74), (F(13, 8), F(3, 8), 78),
    ]


def test_accidentals_last_to_the_bar_line_and_tuplets():
    events = tune_events("X:1\nM:4/4\nL:1/8\nK:G\nA2 ^c2 c2 =c2|c2 F2 (3FGA B2|]\n")
    assert [e.pitch for e in events] == [69, 73, 73, 72, 72, 66, 66, 67, 69, 71]
    assert [e.duration for e in events][6:9] == [F(1, 12)] * 3


def test_melodies_of_real_tunes_are_in_order_and_as_long_as_their_bars():
    plain = (":", "[1", "|1", "Z")  # no repeats, endings or multi-bar rests
    tunes = [t for t in load_bundled("folk") if not any(mark in t.body for mark in plain)]
    random.Random(3).shuffle(tunes)
    for tune in tunes[:200]:
        events = tune_events(tune.text)
        assert events, tune.text
        starts = [e.start for e in events]
        assert starts == sorted(starts) and all(e.duration > 0 for e in events)
        assert all(0 <= e.pitch < 128 for e in events)
        # Without repeats the melody ends where the last bar does (or before, on a final rest).
        assert total_length(events) <= sum(b.duration for b in read_bars(tune.text))


def test_a_repeat_after_a_repeat_goes_back_to_where_the_last_one_ended_as_abc2midi_plays_it():
    """`A :| B :|` plays each part twice; in `A :| B [1 C :| [2 D` the second part has its endings
    (both are what abc2midi plays; before, the second part was played once, and its first ending never)."""
    import pytest

    from tunesmith.insight import abc2midi

    head = "X:1\nT:R\nM:2/4\nL:1/4\nK:C\n"
    cases = {"C D :| E F :|\n": [60, 62, 60, 62, 64, 65, 64, 65],
             "C D :| E F |[1 G A :|[2 B c |]\n": [60, 62, 60, 62, 64, 65, 67, 69, 64, 65, 71, 72],
             "|: C D |1 E F :|2 G A :| B c :|\n": [60, 62, 64, 65, 60, 62, 67, 69, 71, 72, 71, 72],
             # a second part with endings after a section line: both endings (abc2midi leaves the first out)
             "C D |1 E F :|2 G A || B c |1 d e :|2 f g |]\n": [60, 62, 64, 65, 60, 62, 67, 69, 71, 72, 74, 76,
                                                              71, 72, 77, 79],
             # ... and a section line at the start of the repeated part is passed on both passes
             "C D |1 E F :|2 G A || || B c |1 d e :|2 f g |]\n": [60, 62, 64, 65, 60, 62, 67, 69, 71, 72, 74, 76,
                                                                 71, 72, 77, 79]}
    for body, pitches in cases.items():
        assert [e.pitch for e in tune_events(head + body)] == pitches, body
    if not abc2midi.available():
        pytest.fail("abc2midi is not installed: run `make tools`")
    for body in list(cases)[:2]:
        assert abc2midi.melody(head + body) == cases[body], body
