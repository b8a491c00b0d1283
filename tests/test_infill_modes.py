"""Infill and variations for MIDI (bars) and tabla (cycles), with the shipped models on held-out pieces.

MIDI: the files are read back with mido (an independent reader): every note
outside the gap as it was, the new notes inside the gap and ended by its end,
the bar lines where they were. Tabla: the cycles outside the range, the
header and the landing as they were, every rewritten cycle passing the
tabla checker (the tala's matras, its vibhag marks). Both: the ranking picks
the candidate the model finds leads best into the rest (checked against a
forward pass over the whole version), same seed same output, bad ranges one
line and exit 2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from test_midi_codec import mido_notes
from test_midi_mode import run_cli
from tunesmith.checkpoint import load_checkpoint
from tunesmith.corpus.load import recorded_corpus
from tunesmith.errors import TunesmithError
from tunesmith.modes.midi import infill as midi_infill
from tunesmith.modes.midi.tables import Tables
from tunesmith.modes.midi.writer import fit_to_vocabulary
from tunesmith.modes.rewriting import unit_range
from tunesmith.modes.tabla import MODE as TABLA
from tunesmith.modes.tabla import infill as tabla_infill
from tunesmith.music.midi import STEPS_PER_BEAT, midi_bytes, piece_from_midi
from tunesmith.music.tabla.notation import TALAS, compositions_in_file, cycle_text
from tunesmith.score import continuation_bits

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIDI_MODEL, TABLA_MODEL = ROOT / "models" / "midi", ROOT / "models" / "tabla"


@pytest.fixture(scope="module")
def midi():
    ckpt = load_checkpoint(MIDI_MODEL)
    held = recorded_corpus(ckpt.meta["corpus"], "midi").held_out
    return ckpt, [p for p in held if len(p.bar_starts) - 1 >= 12 and len(p.meters) == 1]


@pytest.fixture(scope="module")
def tabla():
    ckpt = load_checkpoint(TABLA_MODEL)
    return ckpt, recorded_corpus(ckpt.meta["corpus"], "tabla").held_out


def bits_by_reading(ckpt, ids: list[int], begin: int) -> float:
    """-log2 P(ids[begin:] | ids[:begin]) by one plain forward pass over the whole piece (the scorer's judge)."""
    newline = ckpt.codec.index["\n"]
    with torch.inference_mode():
        logits, _ = ckpt.model(torch.tensor([[newline, newline] + ids]))
    logp = torch.log_softmax(logits[0].double(), -1)
    return -sum(float(logp[1 + i, ids[i]]) for i in range(begin, len(ids))) / math.log(2)


# -- MIDI -----------------------------------------------------------------------------------
def quarters(step: int) -> float:
    return step / STEPS_PER_BEAT


def test_midi_infill_file_keeps_every_note_outside_and_fills_the_bars(midi, tmp_path, monkeypatch, capsys):
    ckpt, held = midi
    piece = held[0]
    source, out = tmp_path / "piece.mid", tmp_path / "new.mid"
    source.write_bytes(midi_bytes(piece))
    code, _, err = run_cli(monkeypatch, capsys, "infill", str(source), "--model", str(MIDI_MODEL), "--bars", "5-8",
                           "-n", "2", "--candidates", "4", "--seed", "3", "-o", str(out))
    assert code == 0, err
    assert "bars 5-8 rewritten" in err and "wrote 2 MIDI files" in err
    start, end = quarters(piece.bar_starts[4]), quarters(piece.bar_starts[8])
    before = mido_notes(source.read_bytes())
    outside = [n for n in before if not start <= n[0] < end]
    versions = [tmp_path / "new-1.mid", tmp_path / "new-2.mid"]
    for path in versions:
        after = mido_notes(path.read_bytes())
        assert [n for n in after if not start <= n[0] < end] == outside       # every note outside as it was
        new = [n for n in after if start <= n[0] < end]
        assert new and max(e for _, e, _ in new) <= end                       # nothing new crosses the gap's end
        assert new != [n for n in before if start <= n[0] < end]
        back = piece_from_midi(path.read_bytes(), str(path))
        assert back.bar_starts == piece.bar_starts and back.meters == piece.meters   # every bar its meter's length
    assert versions[0].read_bytes() != versions[1].read_bytes()
    # the same seed, the same versions
    again = tmp_path / "again.mid"
    code, _, err = run_cli(monkeypatch, capsys, "infill", str(source), "--model", str(MIDI_MODEL), "--bars", "5-8",
                           "-n", "2", "--candidates", "4", "--seed", "3", "-o", str(again))
    assert code == 0, err
    assert (tmp_path / "again-1.mid").read_bytes() == versions[0].read_bytes()
    assert (tmp_path / "again-2.mid").read_bytes() == versions[1].read_bytes()


@pytest.mark.parametrize("where", ["middle", "end"])
def test_midi_chosen_version_is_the_best_ranked_by_a_forward_pass(midi, where):
    ckpt, held = midi
    piece = held[1]
    bars = len(piece.bar_starts) - 1
    spec = "6-7" if where == "middle" else f"{bars - 1}-{bars}"
    gap = midi_infill.bar_gap(piece, fit_to_vocabulary(piece, Tables(ckpt.codec)), spec)
    version = midi_infill.infill(ckpt, gap, 1, 4, seed=11)[0]
    assert len(version.group) == 4 and version.bits == min(b for _, b in version.group)
    assert gap.keeps_the_piece(version.piece)
    new = [n for n in version.piece.notes if gap.inside(n)]
    assert new and all(n.start + n.duration <= gap.end for n in new)
    # the scorer's bits on the continuation, against a forward pass over the whole version
    lines = version.piece.text.split("\n")
    ids = ckpt.codec.encode(version.piece.text + "\n", "version")
    head = len(ckpt.codec.encode("\n".join(lines[:gap.last + 1]) + "\n", "head"))
    assert version.bits == pytest.approx(bits_by_reading(ckpt, ids, head), rel=1e-4, abs=1e-3)
    if where == "end":  # the gap ends the piece: the writer's cadence rules end it, the bar lines stay
        assert version.piece.bar_starts == piece.bar_starts


def test_bars_that_only_hold_a_note_from_the_gap_are_rewritten_with_it(midi):
    ckpt, _ = midi
    held = recorded_corpus(ckpt.meta["corpus"], "midi").held_out
    piece = next(p for p in held if midi_infill.last_onset_bar(p) < len(p.bar_starts) - 1)  # a held last chord
    bars, last = len(piece.bar_starts) - 1, midi_infill.last_onset_bar(piece)
    view = fit_to_vocabulary(piece, Tables(ckpt.codec))
    with pytest.raises(TunesmithError, match=rf"--bars {last}: bars? [-\d]+ only holds? notes .* \(--bars {last}-{bars}\)"):
        midi_infill.bar_gap(piece, view, str(last))
    gap = midi_infill.bar_gap(piece, view, f"{last}-{bars}")
    version = midi_infill.infill(ckpt, gap, 1, 4, seed=13)[0]
    assert version.piece.bar_starts == piece.bar_starts and gap.keeps_the_piece(version.piece)
    assert last not in midi_infill.may_vary(piece)


def test_a_change_of_meter_opens_a_range_and_never_falls_inside_one(midi):
    ckpt, _ = midi
    train = recorded_corpus(ckpt.meta["corpus"], "midi").train
    piece = next(p for p in train if len(p.meters) > 1 and p.meters[1][0] + 3 < midi_infill.last_onset_bar(p))
    change = piece.meters[1][0] + 1                     # 1-based bar whose line says TS_
    view = fit_to_vocabulary(piece, Tables(ckpt.codec))
    with pytest.raises(TunesmithError, match=f"the meter changes at bar {change}"):
        midi_infill.bar_gap(piece, view, f"{change - 1}-{change}")
    gap = midi_infill.bar_gap(piece, view, f"{change}-{change + 1}")
    version = midi_infill.infill(ckpt, gap, 1, 4, seed=17)[0]
    assert version.piece.meters == piece.meters and gap.keeps_the_piece(version.piece)
    varied = midi_infill.vary(ckpt, piece, 0.2, 2, seed=17)     # runs are cut where the meter changes
    assert varied.piece.meters == piece.meters and varied.piece.bar_starts == piece.bar_starts


def test_a_tail_per_head_scores_as_one_tail_for_all(midi):
    ckpt, held = midi
    ids = ckpt.codec.encode(held[2].text, "piece")
    heads, tail = [ids[:40], ids[:40] + ids[40:45]], ids[60:90]
    one = continuation_bits(ckpt, heads, tail, shared=40)
    each = continuation_bits(ckpt, heads, [tail, tail], shared=40)
    assert np.allclose(one, each)
    mixed = continuation_bits(ckpt, heads, [tail, ids[60:70]], shared=40)
    assert mixed[0] == pytest.approx(one[0]) and mixed[1] < one[1]


def test_midi_vary_rewrites_about_the_share_asked(midi):
    ckpt, held = midi
    piece = held[3]
    bars = len(piece.bar_starts) - 1
    varied = midi_infill.vary(ckpt, piece, 0.3, 4, seed=5)
    assert varied.bars == bars and len(varied.rewritten) == round(0.3 * bars)
    assert set(varied.changed) <= set(varied.rewritten) and 1 not in varied.rewritten and bars not in varied.rewritten
    assert abs(varied.achieved - round(0.3 * bars) / bars) <= 1 / bars
    assert varied.piece.bar_starts == piece.bar_starts
    kept = [b for b in range(1, bars + 1) if b not in varied.rewritten]
    assert all(midi_infill.bar_notes(varied.piece, b) == midi_infill.bar_notes(piece, b) for b in kept)
    assert midi_infill.vary(ckpt, piece, 0.3, 4, seed=5).piece == varied.piece


def test_midi_bad_ranges_are_one_line_and_exit_2(midi, tmp_path, monkeypatch, capsys):
    _, held = midi
    source, out = tmp_path / "piece.mid", tmp_path / "out.mid"
    source.write_bytes(midi_bytes(held[0]))
    bars = len(held[0].bar_starts) - 1
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"MThd not really")
    cases = [
        (["--bars", f"5-{bars + 2}"], f"the piece has {bars} bars"),
        (["--bars", "0-3"], "the range must go up from bar 1"),
        (["--bars", "x"], "--bars 'x': give one bar or a range"),
        (["--cycles", "2-3"], "rewritten by whole bars: give --bars"),
        ([], "infill needs the bars to rewrite: --bars"),
        (["--bars", "2", "--tune", "2"], "a MIDI file, one piece"),
        (["--bars", "2", "-o", str(tmp_path / "out.abc")], "name a .mid file"),
    ]
    for extra, words in cases:
        code, stdout, err = run_cli(monkeypatch, capsys, "infill", str(source), "--model", str(MIDI_MODEL), *extra,
                                    *([] if "-o" in extra else ["-o", str(out)]))
        assert code == 2 and err.startswith("error: ") and words in err and err.count("\n") == 1, (extra, err)
        assert stdout == "" and not out.exists()
    code, _, err = run_cli(monkeypatch, capsys, "infill", str(junk), "--model", str(MIDI_MODEL), "--bars", "2")
    assert code == 2 and "corrupt MIDI file" in err and err.count("\n") == 1, err
    code, _, err = run_cli(monkeypatch, capsys, "vary", str(source), "--model", str(MIDI_MODEL), "--amount", "0")
    assert code == 2 and "--amount must be above 0" in err, err


# -- tabla ----------------------------------------------------------------------------------
def test_tabla_infill_rewrites_whole_cycles_and_keeps_the_rest(tabla, tmp_path, monkeypatch, capsys):
    ckpt, held = tabla
    comp = next(c for c in held if len(c.cycles) >= 4)
    source, out = tmp_path / "comp.txt", tmp_path / "new.txt"
    source.write_text(comp.file_text())
    code, _, err = run_cli(monkeypatch, capsys, "infill", str(source), "--model", str(TABLA_MODEL), "--cycles", "2-3",
                           "-n", "2", "--candidates", "4", "--seed", "3", "-o", str(out))
    assert code == 0, err
    assert "cycles 2-3 of" in err and "wrote 2 to" in err
    report = TABLA.check_file(out)                          # the tabla checker: matras per cycle, vibhag marks
    assert report.bad == 0 and len(report.pieces) == 2
    versions = compositions_in_file(out)
    tala = TALAS[comp.tala]
    old_lines = comp.file_text().split("\n")
    for version, text in zip(versions, out.read_text().split("\n\n")):
        lines = text.rstrip("\n").split("\n")
        header = len(old_lines) - 1 - len(comp.cycles) - 1          # title, tala, tempo, form lines
        changed = [i for i, (a, b) in enumerate(zip(old_lines, lines)) if a != b]
        assert len(lines) == len(old_lines) - 1 and changed            # same line count, something new
        assert all(header + 1 <= i <= header + 2 for i in changed)      # only the lines of cycles 2 and 3
        for cycle in version.cycles:
            assert len(cycle) == tala.matras
        assert version.cycles[1] != comp.cycles[1] or version.cycles[2] != comp.cycles[2]
        assert version.landing == comp.landing and version.cycles[0] == comp.cycles[0]
        assert cycle_text(tala, version.cycles[1]) in text             # the vibhag marks where the tala puts them
    first = out.read_text()
    code, _, err = run_cli(monkeypatch, capsys, "infill", str(source), "--model", str(TABLA_MODEL), "--cycles", "2-3",
                           "-n", "2", "--candidates", "4", "--seed", "3", "-o", str(out))
    assert code == 0 and out.read_text() == first


def test_tabla_chosen_version_is_the_best_ranked_by_a_forward_pass(tabla):
    ckpt, held = tabla
    comp = next(c for c in held if len(c.cycles) == 2 and c.form == "kaida")
    gap = tabla_infill.cycle_gap(comp, "1")
    version = tabla_infill.infill(ckpt, gap, 1, 4, seed=11)[0]
    assert version.bits == min(b for _, b in version.group) and version.comp.cycles[1:] == comp.cycles[1:]
    ids = ckpt.codec.encode(version.comp.text + "\n", "version")
    head = len(ckpt.codec.encode("\n".join(version.comp.text.split("\n")[:gap.header_lines() + 1]) + "\n", "head"))
    assert version.bits == pytest.approx(bits_by_reading(ckpt, ids, head), rel=1e-4, abs=1e-3)
    # a kaida's new cycle is made of the bols the rest of it uses, as the writer's variations are of the theme's
    material = tabla_infill.strokes_of(gap.outside())
    assert all(tabla_infill.in_material(b, material) for m in version.comp.cycles[0] for b in m if b != "-")


def test_tabla_vary_rewrites_about_the_share_asked(tabla):
    ckpt, held = tabla
    comp = next(c for c in held if len(c.cycles) >= 4)
    varied = tabla_infill.vary(ckpt, comp, 0.5, 4, seed=5)
    assert varied.cycles == len(comp.cycles) and len(varied.rewritten) == round(0.5 * len(comp.cycles))
    assert 1 not in varied.rewritten and set(varied.changed) <= set(varied.rewritten)
    assert abs(varied.achieved - len(varied.rewritten) / varied.cycles) <= 1 / varied.cycles
    assert varied.comp.landing == comp.landing
    assert tabla_infill.vary(ckpt, comp, 0.5, 4, seed=5).comp == varied.comp


def test_tabla_bad_ranges_are_one_line_and_exit_2(tabla, tmp_path, monkeypatch, capsys):
    _, held = tabla
    comp = next(c for c in held if len(c.cycles) == 2)
    source, out = tmp_path / "comp.txt", tmp_path / "out.txt"
    source.write_text(comp.file_text())
    two = tmp_path / "two.txt"
    two.write_text(comp.file_text() + "\n" + held[0].file_text())
    one = next(c for c in held if len(c.cycles) == 1)
    single = tmp_path / "one.txt"
    single.write_text(one.file_text())
    cases = [
        (source, ["--cycles", "2-5"], "the composition has 2 cycles"),
        (source, ["--cycles", "3-2"], "the range must go up from cycle 1"),
        (source, ["--bars", "2"], "rewritten by whole cycles: give --cycles"),
        (two, ["--cycles", "1"], "has 2 compositions; choose one with --tune"),
        (two, ["--cycles", "1", "--tune", "3"], "has compositions 1-2"),
    ]
    for path, extra, words in cases:
        code, stdout, err = run_cli(monkeypatch, capsys, "infill", str(path), "--model", str(TABLA_MODEL), *extra,
                                    "-o", str(out))
        assert code == 2 and err.startswith("error: ") and words in err and err.count("\n") == 1, (extra, err)
        assert stdout == "" and not out.exists()
    code, _, err = run_cli(monkeypatch, capsys, "vary", str(single), "--model", str(TABLA_MODEL), "-o", str(out))
    assert code == 2 and "has one cycle" in err and err.count("\n") == 1, err


def test_unit_range_names_the_flag_and_the_unit():
    assert unit_range("2-3", 4, "--cycles", "cycle", "the composition") == (2, 3)
    assert unit_range(" 4 ", 4, "--cycles", "cycle", "the composition") == (4, 4)
    with pytest.raises(TunesmithError, match=r"--cycles 5: the composition has 4 cycles \(1-4\)"):
        unit_range("5", 4, "--cycles", "cycle", "the composition")
