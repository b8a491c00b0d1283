"""tunesmith evaluate for MIDI and tabla models: their measures on hand-built pieces, and the whole report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tunesmith.checkpoint import load_checkpoint
from tunesmith.corpus.load import load_corpus
from tunesmith.errors import TunesmithError
from tunesmith.insight.evaluate import Settings, compare, evaluate, measure
from tunesmith.insight.measures import measures_for, symbol_features
from tunesmith.insight.metrics import overlap
from tunesmith.modes.midi.measures import NO_HANGING, bar_keys, round_trip
from tunesmith.modes.midi.measures import profile as midi_profile
from tunesmith.insight.reference import build_reference, distributions
from tunesmith.modes.tabla.measures import FLAG_CYCLES, IN_FORM, LANDS
from tunesmith.modes.tabla.measures import profile as tabla_profile
from tunesmith.music.tabla import TALAS

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(scope="module")
def chorales():
    return load_corpus(["bach-chorales"], None, "midi")


@pytest.fixture(scope="module")
def compositions():
    return load_corpus(["tabla"], None, "tabla")


# -- MIDI ---------------------------------------------------------------------

def _head(text: str, bars: int) -> str:
    """The header and first `bars` bar lines of a piece's token text."""
    return "\n".join(text.split("\n")[:1 + bars]) + "\n"


def test_a_copied_chorale_is_flagged_with_its_bar_count(chorales):
    reference = build_reference(["bach-chorales"], None, "midi")
    copied = chorales.train[10]
    whole = len(bar_keys(copied.text))
    # Six bars of another chorale, then a bar no chorale has: the run stops there.
    opening = _head(chorales.train[20].text, 6)
    novel = opening + "Bar Pos_0 Vel_80 Pitch_30 Dur_48 Pitch_31 Dur_48 Pitch_32 Dur_48\n"
    texts = [copied.text, novel, chorales.held_out[0].text]
    result = compare(measure(texts, "midi"), reference)
    first, second = result["per_piece"][:2]
    assert (first["flagged"], first["longest_run"], first["nearest_title"]) == (True, whole, copied.title)
    assert second["longest_run"] == len(bar_keys(opening)) >= 4 and second["flagged"]
    assert second["nearest_title"] == chorales.train[20].title
    assert result["copying"]["flagged"] >= 2 and result["copying"]["runs_in_training"] > 0
    assert set(result["music"]) == {"pitch_class", "interval", "note_length", "pitch_range", "notes_per_bar",
                                    "polyphony"}
    assert set(result["diversity"]) >= {"bars", "4-bar runs", "4-onset runs", "8-onset runs"}


def test_midi_validity_counts_hanging_notes_and_unfinished_bars(chorales):
    text = chorales.train[0].text
    good = midi_profile(text)
    assert good.checker_ok and good.bars_right == good.bars_total == text.count("Bar")
    assert good.checks == {NO_HANGING: True} and round_trip(text)
    # Three bars whose last note is held for two: it hangs past the end of the piece.
    three = "Tempo_80 TS_4/4\nBar Pos_0 Vel_80 Pitch_60 Dur_48\nBar Pos_0 Pitch_62 Dur_48\nBar Pos_0 Pitch_64 Dur_96\n"
    hanging = midi_profile(three)
    assert not hanging.checker_ok and hanging.checks == {NO_HANGING: False}
    assert (hanging.bars_right, hanging.bars_total) == (3, 3) and not round_trip(three)
    assert midi_profile(three.replace("Dur_96", "Dur_48")).checks == {NO_HANGING: True}
    # A position past the end of bar 2: bar 1 is whole, 2 is not, 3 was never read.
    broken = midi_profile(three.replace("Bar Pos_0 Pitch_62", "Bar Pos_60 Pitch_62"))
    assert not broken.checker_ok and (broken.bars_right, broken.bars_total) == (1, 3)


def test_midi_statistics_overlap_with_themselves_and_count_what_sounds(chorales):
    profiles = [midi_profile(p.text, False) for p in chorales.train[:40]]
    dists = distributions(profiles, "midi")
    for name, dist in dists.items():
        assert dist and overlap(dist, dict(dist)) == pytest.approx(1.0), name
    # Chorales are in four voices: at most onsets four notes sound.
    assert max(dists["polyphony"], key=dists["polyphony"].get) == 4
    assert overlap(dists["polyphony"], {1: 1.0}) < 0.05
    # A bass note under a held soprano is not the top voice.
    text = "Tempo_80 TS_4/4\nBar Pos_0 Vel_80 Pitch_48 Dur_12 Pitch_72 Dur_48 Pos_12 Pitch_50 Dur_12\n"
    p = midi_profile(text)
    assert p.pitches == [72] and p.values["polyphony"] == [2, 2] and p.notes_per_bar == [3]


# -- tabla --------------------------------------------------------------------

def test_a_copied_composition_is_flagged_with_its_cycle_count(compositions):
    reference = build_reference(["tabla"], None, "tabla")
    copied = next(c for c in compositions.train if len(c.cycles) == 3)
    one = next(c for c in compositions.train if len(c.cycles) == 2 and c.tala == copied.tala)
    lines = copied.text.split("\n")
    body = [i for i, line in enumerate(lines) if line.endswith("||")]
    # Its first cycle, then a cycle of silence no training piece has: one cycle shared, not flagged.
    rest = " | ".join(" ".join(["-"] * n) for n in TALAS[copied.tala].vibhags)
    partial = "\n".join(lines[:body[0] + 1] + [rest + " ||", "Dha"]) + "\n"
    texts = [copied.text, partial, one.text]
    result = compare(measure(texts, "tabla"), reference)
    first, second, third = result["per_piece"]
    assert (first["flagged"], first["longest_run"], first["nearest_title"]) == (True, 3, copied.title)
    assert (second["flagged"], second["longest_run"]) == (False, 1)
    assert third["flagged"] and third["longest_run"] == FLAG_CYCLES == 2
    assert result["copying"]["flagged"] == 2
    assert set(result["music"]) == {"bol", "density", "tala", "form", "silent"}
    assert set(result["diversity"]) >= {"cycles", "2-cycle runs", "4-bol runs", "8-bol runs"}


def test_tabla_validity_counts_complete_cycles_and_the_landing(compositions):
    comp = next(c for c in compositions.train if len(c.cycles) == 2 and c.tala == "teentaal")
    good = tabla_profile(comp.text)
    assert good.checker_ok and (good.bars_right, good.bars_total) == (2, 2)
    assert good.checks == {LANDS: True, IN_FORM: True}
    first, second, *rest = comp.text.split("\n")[2:]
    short = second.replace(" ||", "").rsplit(" ", 1)[0] + " ||"   # a matra missing in the second cycle
    bad = tabla_profile("\n".join(comp.text.split("\n")[:2] + [first, short] + rest))
    assert not bad.checker_ok and (bad.bars_right, bad.bars_total) == (1, 2)
    assert bad.checks == {LANDS: False, IN_FORM: False}
    no_landing = tabla_profile(comp.text.rstrip("\n").rsplit("\n", 1)[0] + "\n")
    assert no_landing.checker_ok and no_landing.checks == {LANDS: False, IN_FORM: False}
    assert good.values["density"] == [len([b for b in m if b != "-"]) for m in comp.matras()]
    assert good.values["silent"] == [m == ("-",) for m in comp.matras()]
    # The same cycles called a tihai are not one: no phrase played three times onto sam.
    assert tabla_profile(comp.text.replace(f"form: {comp.form}", "form: tihai")).checks == {LANDS: True, IN_FORM: False}


def test_tabla_statistics_overlap_with_themselves_and_disjoint_talas_do_not(compositions):
    profiles = [tabla_profile(c.text, False) for c in compositions.train]
    dists = distributions(profiles, "tabla")
    for name, dist in dists.items():
        assert dist and overlap(dist, dict(dist)) == pytest.approx(1.0), name
    teentaal = distributions([p for p in profiles if p.values["tala"] == ["teentaal"]], "tabla")
    dadra = distributions([p for p in profiles if p.values["tala"] == ["dadra"]], "tabla")
    assert overlap(teentaal["tala"], dadra["tala"]) == 0.0
    assert 0.0 < overlap(teentaal["bol"], dadra["bol"]) < 1.0


# -- the whole report -----------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunesmith.cli", *args], capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("mode,unit,bar,suffix", [("midi", "event", "bar", "txt"), ("tabla", "bol", "cycle", "tabla")])
def test_evaluate_writes_the_report_in_the_modes_units(mode, unit, bar, suffix, tmp_path):
    out = tmp_path / "report"
    run = _cli("evaluate", "--model", str(MODELS / mode), "-n", "4", "--seed", "1", "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert f"bits/{unit} held out" in run.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == ["copying.png", "distributions.png", f"generated-{mode}.{suffix}", "report.html", "report.json",
                     "report.md"]
    data = json.loads((out / "report.json").read_text())
    m = data["models"][0]
    assert (m["mode"], m["unit"], m["bar"]) == (mode, unit, bar)
    # The held-out split is rebuilt exactly: the figure training recorded for these weights.
    recorded = load_checkpoint(MODELS / mode).meta["metrics"]["held_out_bits_per_symbol"]
    assert m["heldout"]["split"]["bits_per_symbol"] == pytest.approx(recorded, abs=1e-4)
    g = m["generated"]
    assert g["pieces"] == len(m["pieces"]) == 4 and g["validity"]["checker"] == 1.0  # the writers keep the rules
    assert all(share == 1.0 for share in g["validity"]["checks"].values()) and g["validity"]["bars_right"] == 1.0
    assert all(v is not None for v in g["music"].values())
    features = m["features"]   # Yang & Lerch's, as the mode declares them
    assert list(features["labels"]) == list(measures_for(mode).piece_features.labels)
    assert features["pieces"]["generated"] == 4 and set(features["generated"]) == set(features["labels"])
    assert all(row["other"]["pieces"] == 4 for row in features["generated"].values())
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    for text in (f"held-out bits per {unit}", f"{bar}s with a training piece", f"distinct 4-{bar} runs"
                 if mode == "midi" else "distinct 2-cycle runs", f"{m['heldout']['split']['bits_per_symbol']:.3f}"):
        assert text in md and text in page
    for label in features["labels"].values():
        assert f"| {label} |" in md and label in page
    assert (out / "distributions.png").read_bytes()[:4] == b"\x89PNG"
    pieces = (out / f"generated-{mode}.{suffix}").read_text()
    check = _cli("check", "--mode", mode, str(out / f"generated-{mode}.{suffix}"))
    assert check.returncode == 0 and pieces.count("\n\n") >= 3, check.stdout + check.stderr


def test_models_of_two_modes_are_not_compared_and_auto_neurons_say_why():
    with pytest.raises(TunesmithError, match="different kinds of music"):
        evaluate([MODELS / "midi", MODELS / "tabla"], Settings(n=1))
    with pytest.raises(TunesmithError, match="--neuron N"):
        symbol_features(measures_for("tabla"), "Dha", ["Dha"])
