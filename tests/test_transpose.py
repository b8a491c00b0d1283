"""Transposition (music/abc/transpose.py) judged by abc2midi and our reader, and training on transposed copies.

The whole folk corpus by hand (docs/augmentation.md): every tune whose K: is
a key, by -5, -2, +2, +5 and +7, against abc2midi's MIDI; here a sample
keeps the tests to seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunesmith.corpus.augment import augment, common_keys
from tunesmith.corpus.bundled import corpus_hash
from tunesmith.corpus.load import load_corpus
from tunesmith.errors import TunesmithError
from tunesmith.insight import abc2midi
from tunesmith.models import get_preset
from tunesmith.music.abc.bars import read_bars
from tunesmith.music.abc.check import check_tune
from tunesmith.music.abc.to_events import key_signature, tune_parts
from tunesmith.music.abc.transpose import NotTransposable, transpose_key, transpose_tune
from tunesmith.train import new_trainer, resume_trainer
from tunesmith.insight.abc2midi import melody as midi_melody

MOVES = (-5, -2, 2, 5, 7)
TUNESMITH = [sys.executable, "-m", "tunesmith.cli"]


@lru_cache(maxsize=1)
def folk():
    return load_corpus(["folk"], None, "abc").tunes


def sample(every: int) -> list:
    """Every `every`-th folk tune whose keys can move (a spread over all four collections)."""
    out = []
    for tune in folk()[::every]:
        try:
            transpose_tune(tune.text, 2)
        except NotTransposable:
            continue
        out.append(tune)
    return out


@lru_cache(maxsize=None)
def moved(text: str, k: int) -> str:
    return transpose_tune(text, k)


def head(body: str, key: str = "D", meter: str = "4/4") -> str:
    return f"X:1\nT:t\nM:{meter}\nL:1/8\nK:{key}\n{body}\n"


# -- hand examples ---------------------------------------------------------------

@pytest.mark.parametrize("key, k, expected", [
    ("D", 1, "Eb"), ("D", 2, "E"), ("G", -5, "D"), ("Ador", 2, "Bdor"), ("E Minor", 2, "F# Minor"),
    ("Bb", 2, "C"), ("F#m", -2, "Em"), ("Em", 4, "G#m"), ("Dmix", 7, "Amix"), ("Gm", 1, "G#m"),
    ("C", 6, "F#"), ("C", -6, "Gb"), ("A", 1, "Bb"), ("Bm", 1, "Cm"), ("EDor", -2, "DDor"),
])
def test_keys_move_to_the_spelling_with_fewer_accidentals(key, k, expected):
    assert transpose_key(key, k)[0] == expected


@pytest.mark.parametrize("key", ["Hp", "HP", "none", "Dmix=c", "D clef=treble", "Bn", ""])
def test_a_tune_without_a_key_is_refused(key):
    with pytest.raises(NotTransposable):
        transpose_tune(head("ABcd efga|", key), 2)


def test_a_body_key_that_is_not_a_key_is_refused():
    with pytest.raises(NotTransposable):
        transpose_tune(head("ABcd efga|\nK:Hp\nABcd efga|"), 2)


def test_hand_examples():
    # ^c in D is already C sharp: written as it was (an accidental written stays written).
    assert transpose_tune(head("^c2 d2 e2 f2|"), 2) == head("^d2 e2 f2 g2|", "E")
    # A bar's accidental carries to the end of the bar; the next bar needs its own.
    assert transpose_tune(head("=c2 c2 B2 c2|c8|", "D"), 2) == head("=d2 d2 c2 d2|d8|", "E")
    # Naturals and flats that need a natural where the new key has a sharp; one that needs nothing.
    assert transpose_tune(head("_B2 B2 =F2 F2|", "G"), 2) == head("=c2 c2 =G2 G2|", "A")
    assert transpose_tune(head("_B2 F2 G4|", "C"), 2) == head("=c2 G2 A4|", "D")
    # Octave marks: B,, up a semitone is C, (a C at the octave below is written with one comma fewer).
    assert transpose_tune(head("B,,2 b'2 c'2 C,2|", "C"), 1) == head("C,2 c''2 d'2 D,2|", "Db")
    assert transpose_tune(head("B,,2 b'2 c'2 C,2|", "C"), -1) == head("A,,2 a'2 b2 B,,2|", "B")
    # Chords, grace notes, chord symbols (a bass too); annotations and decorations stay.
    assert transpose_tune(head('"Am"[CEG]2 {g}A2 "D7/F#"!trill!d2 "^Segno""fine"c2|'), 2) == \
        head('"Bm"[DFA]2 {a}B2 "E7/G#"!trill!e2 "^Segno""fine"d2|', "E")
    # A key change in the body (a line and an inline field) moves by the same interval.
    assert transpose_tune(head("ABcd efga|\nK:G\nGABc d4|[K:Em] E8|"), -2) == head("GABc defg|\nK:F\nFGAB c4|[K:Dm] D8|", "C")


def test_more_than_a_double_sharp_goes_to_the_next_letter():
    # Bb -> B keeps the letters: ^^F (a G) up a semitone would be F with three sharps; it is written ^G.
    text = head("^^F2 G2 A4|", "Bb")
    out = transpose_tune(text, 1)
    assert [e.pitch + 1 for e in tune_parts(text).melody] == [e.pitch for e in tune_parts(out).melody]
    assert read_bars(out)[0].duration == read_bars(text)[0].duration


def test_key_signature_reads_every_sharp_and_flat_tonic():
    assert key_signature("G#m") == {letter: 1 for letter in "FCGDA"}
    assert key_signature("D#m") == {letter: 1 for letter in "FCGDAE"}
    assert key_signature("Abm") == {letter: -1 for letter in "BEADGCF"}
    assert key_signature("Bb") == {"B": -1, "E": -1}


# -- the corpus, judged ----------------------------------------------------------

@pytest.mark.skipif(not abc2midi.available(), reason="abc2midi is not installed")
def test_abc2midi_hears_every_note_moved_by_exactly_k():
    tunes = sample(40)  # ~110 tunes x 5 moves, ~8 s; the whole corpus by hand: docs/augmentation.md
    assert len(tunes) > 100
    wrong = []
    for tune in tunes:
        base = midi_melody(tune.text)
        assert base, tune.title
        for k in MOVES:
            if midi_melody(moved(tune.text, k)) != [p + k for p in base]:
                wrong.append((tune.number, k))
    assert not wrong


def _parts(text: str, k: int = 0):
    parts = tune_parts(text)
    melody = [(e.start, e.duration, e.pitch + k) for e in parts.melody]
    chords: dict = {}
    for e in parts.accompaniment:  # chord voicings wrap in their register: compare pitch classes
        chords.setdefault((e.start, e.duration), set()).add((e.pitch + k) % 12)
    return melody, chords


def test_our_reader_hears_every_note_and_chord_moved_by_exactly_k():
    tunes = sample(25)
    assert len(tunes) > 150
    wrong = [(t.number, k) for t in tunes for k in MOVES if _parts(moved(t.text, k)) != _parts(t.text, k)]
    assert not wrong


def test_check_finds_nothing_new_and_bars_keep_their_lengths():
    for tune in sample(25):
        problems = Counter(p.message for p in check_tune(tune.text))
        bars = [b.duration for b in read_bars(tune.text)]
        for k in MOVES:
            text = moved(tune.text, k)
            assert Counter(p.message for p in check_tune(text)) == problems, (tune.number, k)
            assert [b.duration for b in read_bars(text)] == bars


def test_there_and_back_gives_the_original_text():
    # Every transposable folk tune comes back byte for byte (checked by hand over the whole corpus).
    wrong = [(t.number, k) for t in sample(25) for k in MOVES if transpose_tune(moved(t.text, k), -k) != t.text]
    assert not wrong


def test_only_text_that_is_music_changes():
    tune = next(t for t in sample(25) if '"' in t.body and "{" in t.body)
    out = moved(tune.text, 5)
    assert len(out.splitlines()) == len(tune.text.splitlines())
    for a, b in zip(tune.text.splitlines(), out.splitlines()):
        if not a.startswith("K:"):
            assert [c for c in a if not c.isalpha() and c not in "^_=,'#"] == \
                   [c for c in b if not c.isalpha() and c not in "^_=,'#"]


# -- generated tunes ---------------------------------------------------------------

KEYS = ["C", "G", "D", "A", "E", "B", "F#", "F", "Bb", "Eb", "Ab", "Db", "Am", "Em", "Bm", "F#m", "C#m", "Dm", "Gm",
        "Cm", "Ador", "Edor", "Dmix", "Amix", "Gmix", "Bphr", "Flyd", "Bloc", "C#", "Cb", "G#m", "Ebm"]
note = st.builds(lambda acc, letter, marks: acc + letter + marks, st.sampled_from(["", "", "", "^", "_", "=", "^^", "__"]),
                 st.sampled_from("CDEFGABcdefgab"), st.sampled_from(["", "", ",", "'"]))
item = st.one_of(
    note.map(lambda n: n + "2"),
    st.tuples(note, note).map(lambda ns: ns[0] + ns[1]),
    st.tuples(note, note, note).map(lambda ns: f"[{''.join(ns)}]2"),
    st.tuples(note, note).map(lambda ns: f"{{{ns[0]}}}{ns[1]}2"),
    st.tuples(st.sampled_from(["Am", "D7/F#", "Bb", "C#m7", "G/B", "Ebdim"]), note).map(lambda c: f'"{c[0]}"{c[1]}2'),
    note.map(lambda n: n + "-|" + n[-1]),  # a tie across a bar line (the bar is not counted here)
)
bar = st.lists(item, min_size=4, max_size=4).map(lambda items: " ".join(items) + "|")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(KEYS), st.lists(bar, min_size=1, max_size=4), st.integers(-11, 11))
def test_generated_tunes_move_without_crashing_and_keep_their_bars(key, bars, k):
    text = head("".join(bars), key)
    out = transpose_tune(text, k)
    assert [b.duration for b in read_bars(out)] == [b.duration for b in read_bars(text)]
    assert _parts(out) == _parts(text, k)
    assert len(check_tune(out)) == len(check_tune(text))


# -- augmentation --------------------------------------------------------------------

def test_common_keys_come_from_the_corpus():
    keys = common_keys(load_corpus(["folk"], None, "abc").train)
    assert keys["major"] == [(7, "G"), (2, "D"), (9, "A")]
    assert {name for _, name in keys["minor"]} == {"E", "A", "G"}


def test_augmented_copies_are_well_formed_in_range_and_leave_held_out_alone():
    corpus = load_corpus(["folk"], 150, "abc")
    copies, record = augment(corpus.train, corpus.held_out, "common")
    assert record["added"] == len(copies) > 100 and record["augmented_hash"] == corpus_hash(copies)
    low, high = record["range"]
    for copy in copies:
        assert not check_tune(copy.text)
        pitches = [e.pitch for e in tune_parts(copy.text).melody]
        assert low <= min(pitches) and max(pitches) <= high
    texts = {t.text_without_number for t in corpus.tunes}
    assert not any(c.text_without_number in texts for c in copies)
    assert augment(corpus.train, corpus.held_out, "common") == (copies, record)  # deterministic
    assert augment(corpus.train, corpus.held_out, "none") == ([], None)
    with pytest.raises(TunesmithError, match="--transpose"):
        augment(corpus.train, corpus.held_out, "sideways")


def test_training_with_transpose_records_counts_keeps_held_out_and_resumes(tmp_path):
    preset = get_preset("small")
    config = replace(preset.train, epochs=1, seed=3, batch=16, seq=64)
    plain = new_trainer(tmp_path / "plain", ["jigs"], preset.model, config, limit=40)
    run = subprocess.run(TUNESMITH + ["train", "--corpus", "jigs", "--limit", "40", "--preset", "small", "--epochs", "1",
                                      "--batch", "16", "--seq", "64", "--seed", "3", "--transpose", "common",
                                      "--out", str(tmp_path / "aug"), "--no-progress", "--threads", "1"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "--transpose common: +" in run.stderr
    saved = json.loads((tmp_path / "aug" / "latest" / "config.json").read_text())
    record = saved["corpus"]["augmentation"]
    assert saved["train"]["transpose"] == "common" and record["added"] > 20
    before = plain.corpus.describe()
    assert saved["corpus"]["held_out_hash"] == before["held_out_hash"]
    assert saved["corpus"]["train_hash"] == before["train_hash"]
    resumed = resume_trainer(tmp_path / "aug", epochs=2)
    assert resumed.corpus.augmentation == record
    assert len(resumed.train_ids) == saved["corpus"]["train_tunes"] + record["added"]
    assert all(not check_tune(t.text) for t in resumed.corpus.augmented)
    resumed.run(show_progress=False)
    assert len(json.loads((tmp_path / "aug" / "latest" / "config.json").read_text())["progress"]["history"]) == 2
    again = subprocess.run(TUNESMITH + ["train", "--resume", str(tmp_path / "aug"), "--transpose", "all12"],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode != 0 and "--transpose" in again.stderr
    # Copies made by other code (say a checker that now refuses some): the resume says how they differ.
    latest = tmp_path / "aug" / "latest" / "config.json"
    edited = json.loads(latest.read_text())
    then = edited["corpus"]["augmentation"]
    then |= {"augmented_hash": "0" * 16, "added": then["added"] + 6,
             "dropped": {**then["dropped"], "check": then["dropped"].get("check", 0) - 6}}
    latest.write_text(json.dumps(edited))
    with pytest.raises(TunesmithError) as refused:
        resume_trainer(tmp_path / "aug", epochs=3)
    said = str(refused.value)
    assert f"{record['added']:,} copies now, {record['added'] + 6:,} then" in said
    assert f"dropped by check: {record['dropped'].get('check', 0):,} now" in said and "resume it with" in said


def test_transpose_is_for_abc_only(tmp_path):
    preset = get_preset("small")
    with pytest.raises(TunesmithError, match="--transpose"):
        new_trainer(tmp_path / "t", ["bach-chorales"], preset.model, replace(preset.train, transpose="common"), mode="midi")
