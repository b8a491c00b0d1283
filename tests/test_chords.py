"""Chord symbols written into tunes (music/abc/harmonise.py) and training on harmonised copies (`--chords`).

The copies are judged by `tunesmith check`, our reader (melody unchanged, the
chords sound as an accompaniment), abc2midi (the same melody, no new error)
and the well-formed automaton; a tiny run shows that the chords become cheap
to predict, and the option's errors exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest

from conftest import train_small  # tests/conftest.py
from tunesmith.checkpoint import load_checkpoint
from tunesmith.corpus.augment import harmonised_copies
from tunesmith.corpus.bundled import corpus_hash, load_bundled
from tunesmith.corpus.load import load_corpus
from tunesmith.errors import TunesmithError
from tunesmith.insight import abc2midi
from tunesmith.insight.evaluate import bits, char_bits
from tunesmith.models import get_preset
from tunesmith.music.abc.bars import read_bars
from tunesmith.music.abc.check import check_tune
from tunesmith.music.abc.harmonise import (NotHarmonisable, chord_symbol_spans, chords_of_key, harmonise,
                                           has_chord_symbols, without_chord_symbols)
from tunesmith.music.abc.lexer import tokens
from tunesmith.music.abc.to_events import tune_parts
from tunesmith.music.abc.tunes import parse_tunes
from tunesmith.music.abc.wellformed import can_end, feed_text, initial_state
from tunesmith.music.chords import parse_chord
from tunesmith.train import new_trainer, resume_trainer

TUNESMITH = [sys.executable, "-m", "tunesmith.cli"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def head(body: str, key: str = "D", meter: str = "4/4") -> str:
    return f"X:1\nT:t\nM:{meter}\nL:1/8\nK:{key}\n{body}\n"


def chords(text: str) -> list[str]:
    """The chord symbols of a tune, in order, without quotes."""
    return [t.text.strip('"') for t in tokens(text) if t.kind == "chord_symbol" and parse_chord(t.text)]


@lru_cache(maxsize=1)
def sample() -> list:
    """Every 30th folk tune that `check` passes (about 120, from all four collections)."""
    return [t for t in load_bundled("folk")[::30] if not check_tune(t.text)]


@lru_cache(maxsize=None)
def harmonised(text: str) -> str:
    return harmonise(text)


# -- hand examples ---------------------------------------------------------------

def test_a_chord_a_bar_from_the_melody_and_the_key():
    text = head("A2|d2f2 a2f2|g2b2 d'2b2|c2e2 g2e2|d2f2 d4|]")
    out = harmonise(text)
    assert out == head('A2|"D"d2f2 a2f2|"G"g2b2 d\'2b2|"A7"c2e2 g2e2|"D"d2f2 d4|]')  # no chord on the pickup


def test_the_chord_changes_at_the_half_bar_when_the_halves_want_it():
    out = harmonise(head("d2f2 g2b2|a2f2 d4|]"))
    assert chords(out) == ["D", "G", "D"]
    assert out.startswith(head("").rstrip("\n") + '\n"D"d2f2 "G"g2b2|')


def test_minor_keys_have_the_harmonic_dominant():
    out = harmonise(head("A2c2 e2c2|^G2B2 e2B2|A2c2 e2c2|^G2B2 d2B2|A8|]", key="Am"))
    assert chords(out) == ["Am", "E", "Am", "E7", "Am"]
    assert {c.name for c in chords_of_key("Am")} >= {"Am", "Dm", "Em", "C", "F", "G", "E", "E7"}
    assert {c.name for c in chords_of_key("Ador")} == {"Am", "Bm", "C", "D", "Em", "G"}  # no diminished triad
    assert {c.name for c in chords_of_key("Bb")} >= {"Bb", "Eb", "F", "F7", "Gm", "Cm"}   # roots spelled by the key


def test_chord_symbols_go_before_decorations_and_tuplets_after_grace_notes():
    out = harmonise(head("~d2f2 (3agf e2|{g}f2d2 !trill!e4|]"))
    assert '"D"~d2' in out and '{g}"D"f2' in out
    out = harmonise(head("(3dfa d2 d4|]"))
    assert out.split("\n")[-2].startswith('"D"(3dfa')


def test_no_chord_on_a_bar_tied_over_or_of_rests_and_a_tie_is_not_a_new_note():
    out = harmonise(head("d8-|d8|z8|d2f2 a4|]"))
    assert out.split("\n")[-2] == '"D"d8-|d8|z8|"D"d2f2 a4|]'


def test_refusals_name_their_reason():
    cases = {
        head('"G"d2f2 a2f2|]'): "own_chords",
        head("d2f2 a2f2|]", key="Hp"): "no_key",
        head("d2f2 a2f2|]", key="Dmix=c"): "no_key",
        "X:1\nT:t\nL:1/8\nK:D\nd2f2 a2f2|]\n": "no_meter",
    }
    for text, reason in cases.items():
        with pytest.raises(NotHarmonisable) as refused:
            harmonise(text)
        assert refused.value.reason == reason and isinstance(refused.value, TunesmithError)
    # Annotations are not chords: a tune with "D.C." or a fingering is harmonised.
    assert chords(harmonise(head('d2f2 "D.C."a2"4"f2|]'))) == ["D"]
    assert not has_chord_symbols(head('"^Segno"d2f2 a2f2|]'))


# -- the corpus, judged ------------------------------------------------------------

def test_copies_keep_every_bar_and_check_finds_nothing():
    for tune in sample():
        out = harmonised(tune.text)
        assert not check_tune(out), tune.number
        assert [b.duration for b in read_bars(out)] == [b.duration for b in read_bars(tune.text)]
        assert parse_tunes(out)[0].text_without_number == out.split("\n", 1)[1]  # canonical: reads back the same
        assert without_chord_symbols(out) == tune.text  # only chord symbols were added


def test_our_reader_hears_the_same_melody_with_chords_under_most_of_it():
    on_chord = total = 0.0
    for tune in sample():
        before, after = tune_parts(tune.text), tune_parts(harmonised(tune.text))
        assert after.melody == before.melody
        assert after.accompaniment and not before.accompaniment
        for note in after.melody:
            sounding = {e.pitch % 12 for e in after.accompaniment if e.start <= note.start < e.start + e.duration}
            total += float(note.duration)
            on_chord += float(note.duration) * (note.pitch % 12 in sounding)
    # 79 % of the melody's time is a chord tone (the Nottingham and abc2midi transcriptions' own chords: 75 %).
    assert on_chord / total > 0.72


@pytest.mark.skipif(not abc2midi.available(), reason="abc2midi is not installed")
def test_abc2midi_hears_the_same_melody_and_no_new_error():
    for tune in sample()[::3]:
        out = harmonised(tune.text)
        assert abc2midi.melody(out) == abc2midi.melody(tune.text), tune.number
        before, after = abc2midi.judge(tune.text), abc2midi.judge(out)
        assert len(after.errors) == len(before.errors) and len(after.set_aside) == len(before.set_aside), tune.number


def test_what_the_automaton_accepts_stays_accepted():
    def accepted(text: str) -> bool:
        header, rest = text.split("\nK:", 1)
        state = feed_text(initial_state(header), rest.split("\n", 1)[1])
        return state is not None and can_end(state)

    originals = [t for t in sample() if accepted(t.text)]
    assert len(originals) > 20
    assert all(accepted(harmonised(t.text)) for t in originals)


def test_harmonised_copies_are_recorded_deterministic_and_leave_held_out_alone():
    corpus = load_corpus(["folk"], 150, "abc")
    copies, record = harmonised_copies(corpus.train, corpus.held_out, "add")
    assert record["added"] == len(copies) > 100 and record["harmonised_hash"] == corpus_hash(copies)
    assert record["chord_symbols"] == sum(len(chords(c.text)) for c in copies)
    assert sum(record["dropped"].values()) + len(copies) == len(corpus.train)
    assert all(not check_tune(c.text) and chords(c.text) for c in copies)
    texts = {t.text_without_number for t in corpus.tunes}
    assert not any(c.text_without_number in texts for c in copies)
    assert harmonised_copies(corpus.train, corpus.held_out, "add") == (copies, record)
    assert harmonised_copies(corpus.train, corpus.held_out, "none") == ([], None)
    with pytest.raises(TunesmithError, match="--chords sideways"):
        harmonised_copies(corpus.train, corpus.held_out, "sideways")


# -- training ------------------------------------------------------------------------

def test_training_with_chords_records_keeps_held_out_and_resumes(tmp_path):
    preset = get_preset("small")
    plain = new_trainer(tmp_path / "plain", ["jigs"], preset.model, replace(preset.train, epochs=1), limit=40)
    run = subprocess.run(TUNESMITH + ["train", "--corpus", "jigs", "--limit", "40", "--preset", "small", "--epochs", "1",
                                      "--seed", "3", "--chords", "add", "--transpose", "common",
                                      "--out", str(tmp_path / "aug"), "--no-progress", "--threads", "1"],
                         capture_output=True, text=True, timeout=300, env=ENV)
    assert run.returncode == 0, run.stderr
    assert "--chords add: +" in run.stderr and "--transpose common: +" in run.stderr
    saved = json.loads((tmp_path / "aug" / "latest" / "config.json").read_text())
    record, moved = saved["corpus"]["chords"], saved["corpus"]["augmentation"]
    assert saved["train"]["chords"] == "add" and record["added"] > 40  # the tunes and their transposed copies
    before = plain.corpus.describe()
    assert saved["corpus"]["held_out_hash"] == before["held_out_hash"]
    assert saved["corpus"]["train_hash"] == before["train_hash"]
    resumed = resume_trainer(tmp_path / "aug", epochs=2)
    assert resumed.corpus.harmonisation == record
    assert len(resumed.train_ids) == saved["corpus"]["train_tunes"] + moved["added"] + record["added"]
    resumed.run(show_progress=False)
    assert len(json.loads((tmp_path / "aug" / "latest" / "config.json").read_text())["progress"]["history"]) == 2


def test_a_model_trained_with_chords_predicts_them_far_better(tiny_run, tmp_path_factory):
    """The same tiny run as conftest's (80 jigs, 3 epochs, seed 1), with harmonised copies: chord symbols of
    held-out tunes it never saw cost a fraction of what they cost the model trained without."""
    chorded = train_small(tmp_path_factory.mktemp("runs") / "chords", ["jigs"], epochs=3, limit=80, chords="add")
    plain, with_chords = load_checkpoint(tiny_run), load_checkpoint(chorded)
    texts = [harmonise(t.text) for t in load_corpus(["jigs"], 80, "abc").held_out]

    def chord_bits(ckpt) -> float:
        chord_chars = [per_char[start:end] for text, per_char in zip(texts, char_bits(ckpt, texts))
                       for start, end in chord_symbol_spans(text)]
        return float(np.nanmean(np.concatenate(chord_chars)))

    assert sum(len(chords(t)) for t in texts) > 20
    assert chord_bits(with_chords) < 0.5 * chord_bits(plain)


def test_char_bits_spread_the_training_metric_over_characters(tiny_model):
    texts = [t.text for t in load_corpus(["jigs"], 80, "abc").held_out]
    per_char = char_bits(tiny_model, texts)
    assert [len(b) for b in per_char] == [len(t) + 1 for t in texts]
    scored = np.concatenate(per_char)
    assert np.isnan(scored[0]) and np.isnan(scored).sum() < 16 * 2
    assert np.nanmean(scored) == pytest.approx(bits(tiny_model, texts)["bits_per_char"], rel=1e-5)


def test_chords_is_for_abc_only(tmp_path):
    preset = get_preset("small")
    with pytest.raises(TunesmithError, match="--chords add: chord symbols are for ABC tunes"):
        new_trainer(tmp_path / "t", ["bach-chorales"], preset.model, replace(preset.train, chords="add"), mode="midi")


@pytest.mark.parametrize("args, message", [
    (["--chords", "sideways"], "--chords sideways: choose one of none, add"),
    (["--chords", "add", "--mode", "midi"], "--chords add: chord symbols are for ABC tunes; mode midi takes --chords none"),
])
def test_bad_chords_exit_2_with_one_message(tmp_path, args, message):
    argv = ["train", "--corpus", "jigs", "--limit", "10", "--out", str(tmp_path / "run"), *args]
    run = subprocess.run(TUNESMITH + argv, capture_output=True, text=True, timeout=120, env=ENV)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "run").exists()


def test_resume_refuses_chords(tmp_path, tiny_run):
    run = subprocess.run(TUNESMITH + ["train", "--resume", str(tiny_run), "--chords", "add"],
                         capture_output=True, text=True, timeout=120, env=ENV)
    assert run.returncode == 2 and "--chords" in run.stderr and "Traceback" not in run.stderr


def test_chord_counts_in_the_folk_corpus():
    """Why the augmentation: the folk collections print almost no chord symbols (2 tunes, whose "A" "B" "C"
    are section letters), while their quoted text is fingerings and directions."""
    quoted = Counter(t.kind == "chord_symbol" and parse_chord(t.text) is not None
                     for tune in load_bundled("folk") for t in tokens(tune.body) if t.kind == "chord_symbol")
    assert quoted[True] == 5 and quoted[False] > 4000


@pytest.mark.skipif(not abc2midi.available(), reason="needs abc2midi (Debian package abcmidi)")
def test_a_bass_note_in_lower_case_is_read_as_abc2midi_reads_it(tmp_path):
    """"G/b" is G over B, as in tunebooks; abc2midi plays its bass, and so must our reader."""
    import mido

    tune = 'X:1\nT:Lower-case basses\nM:4/4\nL:1/8\nK:G\n"G/b"GABc "Am/c"d2B2|"D7/f#"A4 "Em/g"G4|]\n'
    assert [parse_chord(c).bass for c in ("G/b", "Am/c", "D7/f#", "Em/g", "F/bb")] == [11, 0, 6, 7, 10]
    ours = [min(n.pitch for n in tune_parts(tune).accompaniment if n.start == start) % 12
            for start in sorted({n.start for n in tune_parts(tune).accompaniment})]
    path = tmp_path / "t.abc"
    path.write_text(tune)
    subprocess.run(["abc2midi", str(path), "-o", str(tmp_path / "t.mid")], check=True, capture_output=True)
    track = mido.MidiFile(tmp_path / "t.mid").tracks[-1]
    at, lowest = 0, {}
    for msg in track:
        at += msg.time
        if msg.type == "note_on" and msg.velocity and msg.note < 55:  # the chord's bass register
            lowest[at] = min(lowest.get(at, 127), msg.note)
    basses = [lowest[t] % 12 for t in sorted(lowest)]  # abc2midi strikes the bass again on the bar's later beats
    theirs = [b for i, b in enumerate(basses) if i == 0 or b != basses[i - 1]]
    assert ours == theirs == [11, 0, 6, 7]
