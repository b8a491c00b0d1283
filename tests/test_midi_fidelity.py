"""MIDI that breathes: the fidelity measures, and the shipped model's defaults judged by them.

The seeds here (31, 32) are not the ones the defaults were chosen on
(benchmarks/midi_fidelity.py, seed 900; docs/midi.md).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

from tunesmith.corpus.load import load_corpus
from tunesmith.insight.metrics import distribution, overlap
from tunesmith.modes.midi.fidelity import closes, shape, tonic
from tunesmith.music.midi import GridNote, MidiPiece, piece_from_text, text_problem

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "midi"
needs_shipped = pytest.mark.skipif(not (SHIPPED / "config.json").exists(), reason="no shipped MIDI model")


def chord(start: int, duration: int, *pitches: int) -> list[GridNote]:
    return [GridNote(start, p, duration, 80) for p in pitches]


def test_tonic_of_a_scale_and_of_a_minor_cadence():
    c_major = [GridNote(12 * i, p, 12, 80) for i, p in enumerate((60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60))]
    assert tonic(c_major) == 0
    a_minor = chord(0, 24, 45, 57, 60, 64) + chord(24, 24, 52, 56, 59, 64) + chord(48, 48, 45, 57, 60, 64)
    assert tonic(a_minor) == 9
    assert tonic([]) is None


def test_closing_chords_held_or_breathing_but_not_cut_short_or_ragged():
    assert closes(0, chord(0, 48, 48, 55, 64, 72), 48, 48)          # a whole-bar chord
    assert closes(24, chord(24, 12, 48, 55, 64), 48, 48)            # a quarter, then silence to the bar line
    assert not closes(36, chord(36, 12, 48, 55, 64), 48, 48)        # a quarter on the last beat: no breath
    assert not closes(24, chord(24, 6, 48, 55), 48, 48)             # shorter than a beat
    ragged = chord(24, 24, 48, 55) + chord(24, 12, 64)
    assert not closes(24, ragged, 48, 48)                           # voices let go at different times


def test_shape_counts_lengths_rests_and_phrase_endings():
    text = ("Tempo_80 TS_4/4\n"
            "Bar Pos_0 Vel_80 Pitch_48 Dur_12 Pitch_64 Dur_6 Pos_6 Pitch_62 Dur_6 Pos_12 Pitch_43 Dur_12 Pitch_67 Dur_12 "
            "Pos_24 Pitch_48 Dur_18 Pitch_64 Dur_18\n"
            "Bar Pos_0 Pitch_47 Dur_12 Pitch_62 Dur_12 Pos_12 Pitch_48 Dur_24 Pitch_60 Dur_24\n")
    s = shape(piece_from_text(text))
    assert s.bars == 2 and s.distinct_lengths == 4           # 12, 6, 18, 24
    assert s.rests == [6]                                     # the chord of beat 3 stops a dotted quarter in
    assert s.hold_bars == [1] and s.final_held and s.ends_on_tonic   # C major, closing on a held C chord


def _cli_pieces(monkeypatch, capsys, tmp_path: Path, *args: str) -> list[MidiPiece]:
    from test_midi_mode import run_cli

    out = tmp_path / "pieces.txt"
    code, _, err = run_cli(monkeypatch, capsys, "generate", "--mode", "midi", "-o", str(out), "--threads", "1", *args)
    assert code == 0, err
    blocks = [b for b in out.read_text().split("\n\n") if b.strip()]
    for block in blocks:
        assert text_problem(block.strip("\n") + "\n")[1] is None, block[:300]
    return [piece_from_text(b.strip("\n") + "\n") for b in blocks]


@needs_shipped
def test_default_sampling_gives_varied_rhythm_and_a_cadence(tmp_path, monkeypatch, capsys):
    pieces = _cli_pieces(monkeypatch, capsys, tmp_path, "-n", "8", "--bars", "16", "--seed", "31")
    shapes = [shape(p) for p in pieces]
    assert all(s.bars <= 16 for s in shapes)
    # The issue's target is 4; the held-out chorales' median is 5, which ABC's top-p 0.8 misses here (it gives 4).
    assert statistics.median(s.distinct_lengths for s in shapes) >= 5, [s.distinct_lengths for s in shapes]
    corpus = load_corpus(["bach-chorales"], None, "midi")
    real = distribution(n.duration for p in corpus.held_out for n in p.notes)
    assert overlap(distribution(v for s in shapes for v in s.lengths), real) >= 0.85
    assert sum(s.final_held for s in shapes) >= 7                  # the last bar closes on a chord
    assert sum(s.ends_on_tonic for s in shapes) >= 6               # ... with the tonic in the bass


@needs_shipped
def test_without_bars_the_piece_stops_at_a_cadence(tmp_path, monkeypatch, capsys):
    from tunesmith.modes.midi.writer import LONGEST_BARS, MIN_BARS

    pieces = _cli_pieces(monkeypatch, capsys, tmp_path, "-n", "6", "--seed", "32")
    for p in pieces:
        s = shape(p)
        assert MIN_BARS - 1 <= s.bars <= LONGEST_BARS + 2, s.bars   # (a pickup bar may be dropped)
        assert s.final_held, p.text.split("\n")[-2]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
