"""What the practice player plays (render/practice.py and POST /api/player), on the folk corpus and small tunes.

The browser side (tempo, loops, the cursor) is tested in test_web_player.py; here, what the server works
out: where each note was written, the bars as played and their written numbers, the metronome's beats, and
the chords in a pattern for the rhythm, from the tune's chord symbols or harmonised.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tunesmith.corpus.bundled import load_bundled
from tunesmith.music.abc.bar_spans import tune_bars
from tunesmith.music.abc.harmonise import harmonise
from tunesmith.music.abc.positions import text_notes
from tunesmith.music.abc.to_events import tune_events, tune_parts
from tunesmith.render.practice import clicks, pattern_for, played_bars, practice_plan
from tunesmith.web.app import create_app

NATURAL = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
REEL = 'X:1\nT:Chorded\nR:reel\nM:4/4\nL:1/8\nK:G\n|:"G"GABc dBGB|"C"c2e2 "D"d2B2|1"G"G8:|2"D7"D8||\n'


@pytest.fixture(scope="module")
def folk():
    return load_bundled("folk")


def test_each_note_knows_where_it_was_written_on_the_folk_corpus(folk):
    checked = 0
    for tune in folk[::40]:
        parts = tune_parts(tune.text)
        assert len(parts.sources) == len(parts.melody)
        starts = {n.start: n for n in text_notes(tune.text) if n.pitch is not None}
        for event, source in zip(parts.melody, parts.sources):
            letter, octave = starts[source].pitch  # a note of the text starts there ...
            natural = 12 * (octave + 1) + NATURAL[letter]
            assert -2 <= event.pitch - natural <= 2  # ... and sounds its letter and octave, up to accidentals
            checked += 1
        bars = played_bars(tune.text, parts)
        assert bars[0].start == 0 and bars[-1].end == parts.end
        assert all(a.end == b.start for a, b in zip(bars, bars[1:]))
        written = len(tune_bars(tune.text).bars)
        assert all(b.number is not None and 1 <= b.number <= written for b in bars)
    assert checked > 5000


def test_bars_as_played_through_repeats_and_endings():
    parts = tune_parts(REEL)
    assert [(b.number, b.start, b.end) for b in played_bars(REEL, parts)] == [
        (1, 0, 1), (2, 1, 2), (3, 2, 3), (1, 3, 4), (2, 4, 5), (4, 5, 6)]
    jig = "X:1\nT:t\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|z6|fdf ecA|d3 d2:|\n"
    bars = played_bars(jig, tune_parts(jig))
    assert [b.number for b in bars] == [1, 2, 3, 4, 5] * 2  # the pickup played again; a bar of rests numbered
    # The metronome: dotted quarters, strong on each full bar's first; the pickup and the short last bar run
    # on one bar's beats (no downbeat at the repeat's jump).
    beats = clicks(bars, "6/8")
    assert [t for t, strong in beats if strong] == [Fraction(1, 8) + k * Fraction(3, 4) for k in range(4)] + \
        [Fraction(25, 8) + k * Fraction(3, 4) for k in range(4)]
    assert len(beats) == 2 * 8


@pytest.mark.parametrize("meter, name, strokes, basses", [
    ("6/8", "boom-chick-chick", 6, [0, Fraction(3, 8)]), ("9/8", "boom-chick-chick", 9, [0, Fraction(3, 8), Fraction(3, 4)]),
    ("3/4", "oom-pah-pah", 3, [0]), ("4/4", "oom-pah", 4, [0, Fraction(1, 2)]), ("C|", "oom-pah", 4, [0, Fraction(1, 2)]),
    ("2/4", "oom-pah", 4, [0, Fraction(1, 4)]), ("5/4", "held", 0, []), (None, "held", 0, [])])
def test_a_pattern_for_each_rhythm(meter, name, strokes, basses):
    pattern = pattern_for(meter)
    assert pattern.name == name and len(pattern.hits) == strokes
    assert [h.at for h in pattern.hits if h.part == "bass"] == basses


def test_no_metronome_for_a_meter_of_too_many_beats():
    """Bounded work for any tune: a meter of 33 beats gets no clicks (nor a count-in of 33), and held chords."""
    tune = "X:1\nT:Long bars\nM:33/4\nL:1/4\nK:C\n" + "C33|" * 4 + "\n"
    plan = practice_plan(tune, None, tune_parts(tune))
    assert (plan["beats"], plan["clicks"], plan["pattern"]) == (None, [], "held")
    assert len(plan["bars"]) == 4 and len(plan["notes"]) == 4


def test_chords_from_the_symbols_in_the_rhythms_pattern():
    plan = practice_plan(REEL, None, tune_parts(REEL))
    assert plan["chords_from"] == "symbols" and plan["pattern"] == "oom-pah" and plan["rhythm"] == "reel"
    bass = [(c["start"], c["pitch"]) for c in plan["chords"] if c["part"] == "bass"]
    # G: G2 then its fifth D3; C for half a bar, then D (a new chord: its bass); G; the second time, the
    # ending's D7 (bass D, fifth A).
    assert bass[:4] == [(0, 43), (0.5, 50), (1, 48), (1.5, 50)]
    assert bass[-2:] == [(5, 50), (5.5, 45)]
    upper = {c["pitch"] for c in plan["chords"] if c["part"] == "chord" and c["start"] == 0.25}
    assert upper == {55, 59, 62}  # G B D above the bass, on the off-beat
    assert all(c["duration"] == 0.25 for c in plan["chords"])


def test_a_tune_without_chords_is_harmonised_as_its_written_chords_would_be(folk):
    tune = folk[190].text  # 6/8 in D, a pickup, no chord symbols
    plain = practice_plan(tune, None, tune_parts(tune))
    chorded = harmonise(tune)
    written = practice_plan(chorded, None, tune_parts(chorded))
    assert (plain["chords_from"], written["chords_from"]) == ("harmonised", "symbols")
    assert plain["chords"] == written["chords"] and plain["pattern"] == "boom-chick-chick"
    assert [n["pitch"] for n in plain["notes"]] == [e.pitch for e in tune_events(tune)]
    assert plain["pickup"] == 0.625 and plain["beat"] == 0.375 and plain["beats"] == 2


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:
    return TestClient(create_app(db=tmp_path_factory.mktemp("playerdb") / "tunes.db",
                                 runs_dir=tmp_path_factory.mktemp("noruns")))


def test_the_api_moves_score_and_notes_together(client, folk):
    tune = folk[190].text
    written = client.post("/api/player", json={"abc": tune}).json()
    moved = client.post("/api/player", json={"abc": tune, "transpose": 2})
    assert moved.status_code == 200, moved.text
    moved = moved.json()
    assert (written["key"], moved["key"]) == ("D", "E") and "\nK:E\n" in moved["abc"]
    assert [n["pitch"] + 2 for n in written["notes"]] == [n["pitch"] for n in moved["notes"]]
    # The chords move too (the accompaniment keeps its register, so a bass may go down rather than up).
    basses = [[(c["start"], c["pitch"] % 12) for c in plan["chords"] if c["part"] == "bass"] for plan in (written, moved)]
    assert [(t, (pc + 2) % 12) for t, pc in basses[0]] == basses[1] and len(basses[0]) > 10
    assert moved["svg"].count('class="keyAccid"') == written["svg"].count('class="keyAccid"') + 2 * 2  # 4 sharps, 2 staves
    ids = [n["id"] for n in moved["notes"]]
    assert all(f'id="{i}"' in moved["svg"] for i in ids)  # every note found on the score it comes with


@pytest.mark.parametrize("body, status, words", [
    ({"abc": REEL, "transpose": 13}, 422, "transpose"),
    ({"abc": REEL, "transpose": "2"}, 422, "transpose"),
    ({"abc": REEL.replace("K:G", "K:none"), "transpose": 2}, 400, "K:none"),
    ({"abc": "X:1\nT:Empty\nM:4/4\nK:D\n", "transpose": 0}, 400, "no notes"),
    ({"abc": "T:no X line"}, 422, "no tune found"),
    ({"abc": "X:1\nT:Long\nM:4/4\nL:1/1\nK:C\nC9999|\n"}, 413, "a render may last at most 1200 s")])
def test_the_api_refuses_bad_requests_with_one_message(client, body, status, words):
    r = client.post("/api/player", json=body)
    assert r.status_code == status and words in r.json()["detail"], r.text


def test_a_tune_of_several_voices_is_refused_with_one_message(client):
    duet = (Path(__file__).parent / "data" / "abc_anywhere" / "two_voices.abc").read_text()
    answer = client.post("/api/player", json={"abc": duet, "transpose": 0})
    assert answer.status_code == 400 and "plays tunes of one voice; this one has 2" in answer.json()["detail"]
