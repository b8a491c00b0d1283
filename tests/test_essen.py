"""The Essen folksong collection as bundled corpora, and the origin (O:) the model learns and `--origin` asks for."""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import replace

import pytest

from tunesmith.corpus.bundled import corpus_hash, load_bundled
from tunesmith.corpus.essen import FREE_METER, close_phrase_bars, essen_collection
from tunesmith.insight import abc2midi
from tunesmith.music.abc.check import check_text, check_tune
from tunesmith.music.abc.origins import essen_origin
from tunesmith.music.abc.tunes import join_tunes, parse_tunes

from conftest import train_small  # tests/conftest.py

TUNESMITH = [sys.executable, "-m", "tunesmith.cli"]
# The folk corpus's hash before the origin field existed: its canonical text must not change (shipped models).
FOLK_HASH = "ecb4d1359006e6cf"


@pytest.fixture(scope="module")
def essen():
    return essen_collection()


def test_counts_per_region(essen):
    assert essen.songs == 8462 and len(essen.files) == 27
    counts = {name: len(load_bundled(name)) for name in ("essen", "essen-germany", "essen-china", "essen-europe")}
    assert counts == {"essen": 7229, "essen-germany": 4757, "essen-china": 873, "essen-europe": 1593}
    # Every song kept has an origin; the regions cover all but the six from the Americas.
    assert all(t.origin for t in load_bundled("essen"))
    assert counts["essen"] - counts["essen-germany"] - counts["essen-china"] - counts["essen-europe"] == 6
    dropped = dict(essen.dropped)
    assert dropped[FREE_METER] == 218
    assert sum(dropped.values()) == essen.songs - len(essen.tunes) == 1233


def test_every_kept_song_passes_check(essen):
    text = join_tunes(list(load_bundled("essen")))
    reports = check_text(text)
    assert len(reports) == 7229
    bad = [(r.number, r.problems[0].message) for r in reports if r.problems]
    assert not bad, bad[:5]
    # Read back, the exported text is the same corpus (O: lines are kept by the general reader).
    assert corpus_hash(parse_tunes(text)) == corpus_hash(load_bundled("essen"))


@pytest.mark.skipif(not abc2midi.available(), reason="abc2midi is not installed")
def test_a_sample_plays_in_abc2midi():
    tunes = random.Random(16).sample(list(load_bundled("essen")), 24)
    for tune in tunes:
        verdict = abc2midi.judge(tune.text)
        assert verdict.ok, (tune.text, verdict)
        # abc2midi warns of a short last bar, the one that completes the pickup (ABC allows it, so does check).
        last_line = tune.text.count("\n")
        assert all(f"line-char {last_line}-" in w for w in verdict.bar_warnings), (tune.text, verdict)


def test_phrase_lines_get_their_bar_lines():
    raw = "X:1\nT:t\nO: Europa, Mitteleuropa, Deutschland\nM: 2/4\nL: 1/8\nK: G\nG | c2B2 | A2\nG2 | c4\n"
    tune = parse_tunes(raw)[0]
    assert tune.origin is None          # a raw Essen O: value is not a normalised origin
    fixed = close_phrase_bars(tune)
    assert fixed == "G | c2B2 | A2\nG2 | c4 |"   # A2 + G2 is one bar across the line end
    assert not check_tune(replace(tune, body=fixed).text)
    # Without the bar line, a line ending at a full bar runs into the next: one bar of 4/4 in 2/4.
    assert check_tune(replace(tune, body="G | c2B2 | A2G2\nc2B2 | c4").text)
    assert close_phrase_bars(replace(tune, body="G | c2B2 | A2G2\nc2B2 | c4")) == "G | c2B2 | A2G2 |\nc2B2 | c4 |"


def test_origins_are_normalised():
    assert essen_origin(" Europa, Mitteleuropa, Deutschland, Kassel") == "Germany"
    assert essen_origin(" Mitteleuropa, Deutschland (BRD) , Rheinland") == "Germany"
    assert essen_origin(" China, Sichuan, Xiushan") == "China"
    assert essen_origin(" Mitteleuropa, Niederlande, Flandern") == "Netherlands"
    assert essen_origin(" Europa, Mitteleuropa, Unter - Oesterreich") == "Austria"
    assert essen_origin(" Mitteleuropa") is None
    german = load_bundled("essen-germany")[0]
    assert german.text.split("\n")[:3] == ["X:1", "T:Das Hildebrandslied", "O:Germany"]
    assert german.rhythm is None        # Essen's R: is a genre ("Romanze, Ballade, Lied"), not a rhythm


def test_folk_corpus_is_unchanged():
    folk = load_bundled("folk")
    assert corpus_hash(folk) == FOLK_HASH
    assert not any(t.origin for t in folk)  # Ryan's O:SCOTCH. is free text, dropped as before


def test_corpus_list_shows_the_new_corpora():
    run = subprocess.run(TUNESMITH + ["corpus", "list", "--details"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for line in ("essen            7229", "essen-germany    4757", "essen-china       873", "essen-europe     1593"):
        assert line in run.stdout
    assert "218  free meter" in run.stdout and "kept 7229, dropped 1233" in run.stdout


def test_origin_with_the_shipped_model_is_a_clear_error():
    run = subprocess.run(TUNESMITH + ["generate", "--origin", "Germany", "-n", "1"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2
    assert "--origin Germany: this model's training corpus has no origins" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.fixture(scope="module")
def china_run(tmp_path_factory):
    return train_small(tmp_path_factory.mktemp("runs") / "china", ["essen-china"], epochs=1, limit=60)


def test_a_model_trained_on_china_writes_its_origin(china_run, tmp_path):
    out = tmp_path / "china.abc"
    run = subprocess.run(TUNESMITH + ["generate", "--model", str(china_run), "--origin", "China", "-n", "2",
                                      "--seed", "3", "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    reports = check_text(out.read_text())
    assert len(reports) == 2
    for tune, report in zip(out.read_text().split("\n\n"), reports):
        assert tune.split("\n")[2] == "O:China", tune
        assert not report.problems, (tune, report.problems)
    wrong = subprocess.run(TUNESMITH + ["generate", "--model", str(china_run), "--origin", "Germany", "-n", "1"],
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "no tunes from Germany; it knows China" in wrong.stderr
