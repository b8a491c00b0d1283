"""tunesmith evaluate: the whole report for two models side by side, its files, and its folder written whole."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from tunesmith.checkpoint import load_checkpoint
from tunesmith.checkpoint import DEFAULT_MODEL
from tunesmith.corpus.bundled import load_bundled
from tunesmith.errors import TunesmithError
from tunesmith.insight import report as report_module
from tunesmith.corpus.load import load_corpus
from tunesmith.modes.abc.measures import profile
from tunesmith.insight.evaluate import Settings, bits, compare, evaluate, measure
from tunesmith.insight.measures import measures_for
from tunesmith.insight.reference import build_reference
from tunesmith.insight.report import build_document, write_report
from tunesmith.insight.visualize import held_out_texts
from tunesmith.models import get_preset
from tunesmith.music.abc.tunes import join_tunes
from tunesmith.train import new_trainer

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def token_run(tmp_path_factory):
    """A `small` abc-tokens LSTM trained for one epoch on the same 80 jigs as tiny_run."""
    out = tmp_path_factory.mktemp("runs") / "tokens"
    preset = get_preset("small")
    trainer = new_trainer(out, ["jigs"], preset.model, replace(preset.train, epochs=1, seed=2), limit=80,
                          codec_name="abc-tokens")
    trainer.run(show_progress=False)
    return out


@pytest.fixture(scope="module")
def side_by_side(tiny_run, token_run, tmp_path_factory):
    """The report for the char and the token model, with an extra held-out file."""
    extra = tmp_path_factory.mktemp("data") / "extra.abc"
    extra.write_text(join_tunes(list(load_bundled("jigs"))[200:210]))
    data = evaluate([tiny_run, token_run], Settings(n=6, seed=1, heldout=extra, max_length=400))
    out = tmp_path_factory.mktemp("reports") / "compare"
    files = write_report(data, out)
    return data, out, files


def test_the_report_has_every_part_for_both_models(side_by_side, tiny_run, token_run):
    data, out, files = side_by_side
    assert files == ["copying.png", "distributions.png", "generated-tiny.abc", "generated-tokens.abc",
                     "report.html", "report.json", "report.md"]
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(data, default=str))
    char, token = data["models"]
    assert (char["codec"], char["unit"], token["codec"], token["unit"]) == ("abc-chars", "char", "abc-tokens", "token")
    for m, run in ((char, tiny_run), (token, token_run)):
        # The held-out split is rebuilt exactly: the same figure training recorded for these weights.
        recorded = load_checkpoint(run).meta["metrics"]["held_out_bits_per_symbol"]
        assert m["heldout"]["split"]["bits_per_symbol"] == pytest.approx(recorded, abs=1e-4)
        assert m["heldout"]["file"]["pieces"] == 10 and m["heldout"]["file"]["bits_per_char"] > 0
        g = m["generated"]
        assert g["pieces"] == len(m["pieces"]) == 6 and len(g["per_piece"]) == 6
        for share in (g["validity"]["checker"], g["validity"]["judge"]["share"], g["copying"]["runs_in_training"]):
            assert share is None or 0.0 <= share <= 1.0
        assert g["validity"]["judge"]["name"] == "abc2midi"
        assert set(g["music"]) == {"pitch_class", "interval", "note_length", "pitch_range", "notes_per_bar", "key", "meter"}
        assert m["training"]["pieces"] + m["heldout"]["split"]["pieces"] == 80
        assert m["seconds"]["total"] > 0
        # Yang & Lerch's features: the generated tunes and alternate real ones against the real held-out tunes.
        f = m["features"]
        assert list(f["labels"]) == list(measures_for("abc").piece_features.labels)
        assert {"pitch_count", "pitch_class_transitions", "ioi", "two_repeats", "junk"} <= set(f["labels"])
        assert f["pieces"]["generated"] == 6 and sum(f["pieces"]["real_halves"]) == f["pieces"]["real"]
        for side in ("generated", "real_halves"):
            assert set(f[side]) == set(f["labels"])
            for row in f[side].values():
                assert (row["overlap"] is None) == (row["kl"] is None) == (row["note"] is not None)
                assert row["overlap"] is None or (0 <= row["overlap"] <= 1 and row["kl"] >= 0)
        assert f["generated"]["pitch_range"]["other"]["pieces"] == 6 and f["generated"]["pitch_range"]["overlap"]
    # Tokens are longer than characters: fewer of them, so more bits each, for about the same bits per char.
    assert token["heldout"]["split"]["symbols"] < char["heldout"]["split"]["symbols"]
    assert char["heldout"]["split"]["bits_per_char"] == pytest.approx(char["heldout"]["split"]["bits_per_symbol"])


def test_markdown_and_html_say_the_same_side_by_side(side_by_side):
    data, out, _ = side_by_side
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| measure"))
    assert header == "| measure | tiny | tokens | held-out jigs (real) |"  # one corpus: one real-tunes column
    char = data["models"][0]
    row = next(line for line in md.splitlines() if line.startswith("| pass our checker"))
    assert f"{char['generated']['validity']['checker']:.1%}" in row
    bits_row = next(line for line in md.splitlines() if line.startswith("| held-out bits per character"))
    assert f"{char['heldout']['split']['bits_per_char']:.3f}" in bits_row
    for text in ("pass abc2midi", "flagged", "overlap with training: pitch class", "distinct 4-bar runs",
                 "Features (Yang & Lerch)", "real vs real: KL",
                 "features (Yang & Lerch) vs real: mean overlapped area"):
        assert text in md and text.replace("&", "&amp;") in page
    rows = [line for line in md.splitlines() if line.startswith("| pitch range (semitones) |")]
    assert len(rows) == 2   # one table per model
    f = char["features"]["generated"]["pitch_range"]
    assert f"| {f['overlap']:.3f} | {f['kl']:.3f} |" in rows[0]
    assert '<img src="distributions.png"' in page and '<img src="copying.png"' in page
    for png in ("distributions.png", "copying.png"):
        data_bytes = (out / png).read_bytes()
        assert data_bytes[:8] == b"\x89PNG\r\n\x1a\n" and len(data_bytes) > 10_000
    assert (out / "generated-tiny.abc").read_text().count("X:") == 6


def test_a_copied_training_tune_is_flagged_in_the_report(side_by_side):
    data, _, _ = side_by_side
    reference = build_reference(["jigs"], 80, "abc")
    corpus = load_corpus(["jigs"], 80)
    copied = corpus.train[7]
    bars = len(profile(copied.text).bars)
    texts = [copied.text, corpus.held_out[0].text]
    result = compare(measure(texts, "abc"), reference)
    first = result["per_piece"][0]
    assert (first["flagged"], first["longest_run"], first["nearest_number"]) == (True, bars, copied.number)
    assert result["copying"]["flagged"] >= 1 and result["copying"]["runs_in_training"] > 0
    shown = copy.deepcopy(data)
    shown["models"][0]["generated"], shown["models"][0]["pieces"] = result, texts
    md = build_document(shown).markdown()
    row = next(line for line in md.splitlines() if line.startswith("| 1 |"))
    assert f"#{copied.number} {copied.title}" in row and f"| {bars} |" in row


def test_the_folder_is_written_whole_or_not_at_all(side_by_side, tmp_path, monkeypatch):
    data, _, _ = side_by_side
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(TunesmithError, match="not an earlier report"):
        write_report(data, mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    out = tmp_path / "report"
    write_report(data, out)
    (out / "report.md").write_text("old")
    monkeypatch.setattr(report_module, "_plot_distributions", lambda *a: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        write_report(data, out)
    assert (out / "report.md").read_text() == "old"  # the earlier report is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "report"]  # no half-built folder left
    monkeypatch.undo()
    write_report(data, out)
    assert (out / "report.md").read_text().startswith("# tunesmith evaluation")


def test_the_shipped_models_held_out_figure_is_reproduced():
    ckpt = load_checkpoint(DEFAULT_MODEL)
    result = bits(ckpt, held_out_texts(ckpt, limit=10_000))
    assert result["pieces"] == ckpt.meta["corpus"]["held_out_tunes"] == 241
    assert result["bits_per_symbol"] == pytest.approx(ckpt.meta["metrics"]["held_out_bits_per_symbol"], abs=1e-4)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunesmith.cli", *args], capture_output=True, text=True, timeout=120)


def test_cli_errors_name_the_option(tmp_path):
    zero = _cli("evaluate", "-n", "0", "-o", str(tmp_path / "r"))
    assert zero.returncode == 2 and "-n must be at least 1" in zero.stderr and "Traceback" not in zero.stderr
    missing = _cli("evaluate", "--heldout", str(tmp_path / "none.abc"), "-o", str(tmp_path / "r"))
    assert missing.returncode == 2 and "none.abc" in missing.stderr
    top_p = _cli("evaluate", "--top-p", "0", "-o", str(tmp_path / "r"))
    assert top_p.returncode == 2 and "--top-p" in top_p.stderr
    assert not (tmp_path / "r").exists()
