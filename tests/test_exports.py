"""MusicXML and PDF exports: MusicXML read back by music21, PDF pages rasterised by PDFium, transposition, errors.

music21's MusicXML parser is the judge of our MusicXML (it shares no code
with our writer): with its repeats expanded and ties joined, it must hear
exactly the notes `to_events` plays (onset, pitch, duration). PDFs are
opened by pypdf and by PDFium (pypdfium2), which counts their pages, reads
their text and draws them: the staff lines must be there in the pixels.
"""

from __future__ import annotations

import io
import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from fractions import Fraction as F
from pathlib import Path

import mido
import numpy as np
import pypdfium2
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.bundled import load_bundled
from tunesmith.insight.music21_judge import disagreement, music21_notes, our_notes
from tunesmith.modes.abc.writer import generate_tunes
from tunesmith.music.abc.to_events import tune_parts
from tunesmith.render.files import RenderOptions, render_one
from tunesmith.render.musicxml import abc_to_musicxml
from tunesmith.render.pdf import blocks_of, lay_out, render_book, render_pdf

ROOT = Path(__file__).resolve().parents[1]
HEAD = "X:{n}\nT:{title}\nM:{meter}\nL:1/8\nK:{key}\n"
# Each tune has what a score must keep: the comment says what.
FEATURES = {
    "repeats and endings, a pickup": (
        "6/8", "D", 'A|:"D"dfe dcB|AFA d2e|1 fdf ecA|d3 d2:|2 fed ecA|d3-d2||'),
    "triplets, ties across the bar, broken rhythm": (
        "4/4", "G", "(3GAB (3cBA G2-|G2 A>B c<d e2|(3:2:3 gfe d4 z2|]"),
    "chords, chord symbols, grace notes, accidentals carried through the bar": (
        "3/4", "Ador", '"Am"[A,CE]2 {g}^c2 c2|"G/B"[B,DG]3 =c/2d/2 e2|"Em7"[E4G4]z2|]'),
    "a pickup, long notes split in tied values, whole-bar rests": (
        "4/4", "F", "c|A5 B3|Z2|c7 z|f15 z|]"),
    "a key and meter change in the body, an x rest, dotted notes": (
        "2/4", "Bb", "B3/2c/2 d2|[K:E]e3 x|[M:3/4]E4 F2|G6|]"),
    "a second part with its own endings after a repeat (no |:)": (
        "2/4", "C", "C D :| E F |[1 G A :|[2 B c |]"),
    "endings that start inside a bar, a pitch twice in a chord": (
        "2/4", "D", "A>BAF|[=Bdgg]2 f2|Tf2 [1 d2:|\\\n[2 d ||"),
    "odd lengths: a quintuplet, a 1/3 of a unit, :: between parts": (
        "3/4", "Em", "(5EFGAB c2 d2|E/3F/3G/3 A2 B2 c2::e6|f6:|"),
}


def tune(name: str, n: int = 1) -> str:
    meter, key, body = FEATURES[name]
    return HEAD.format(n=n, title=name.split(",")[0].title(), meter=meter, key=key) + body + "\n"


@pytest.mark.parametrize("name", list(FEATURES))
def test_music21_hears_in_our_musicxml_exactly_the_notes_we_play(name):
    abc = tune(name)
    assert disagreement(abc, abc_to_musicxml(abc)) is None
    assert our_notes(abc), "the tune has notes"


def test_the_score_keeps_repeats_endings_tuplets_chords_and_the_pickup_as_notation():
    xml = ET.fromstring(abc_to_musicxml(tune("repeats and endings, a pickup")).split("\n", 2)[2])
    measures = xml.findall("part/measure")
    assert measures[0].get("number") == "0" and measures[0].get("implicit") == "yes"  # the pickup A
    assert [r.get("direction") for r in xml.iter("repeat")] == ["forward", "backward"]
    assert [(e.get("number"), e.get("type")) for e in xml.iter("ending")] == [
        ("1", "start"), ("1", "stop"), ("2", "start"), ("2", "discontinue")]
    assert xml.find("part/measure/attributes/key/fifths").text == "2"
    assert xml.find("part/measure/attributes/time/beat-type").text == "8"
    assert [h.find("root/root-step").text for h in xml.iter("harmony")] == ["D"]

    xml = ET.fromstring(abc_to_musicxml(tune("triplets, ties across the bar, broken rhythm")).split("\n", 2)[2])
    modified = [(t.find("actual-notes").text, t.find("normal-notes").text) for t in xml.iter("time-modification")]
    assert modified == [("3", "2")] * 9  # (3GAB (3cBA (3:2:3 gfe
    assert [t.get("type") for t in xml.iter("tuplet")] == ["start", "stop"] * 3
    assert [t.get("type") for t in xml.iter("tie")] == ["start", "stop"]  # G2-|G2
    # beamed as written together: (3GAB, (3cBA, A>B, c<d, (3:2:3 gfe
    assert [b.text for b in xml.iter("beam")] == ["begin", "continue", "end"] * 2 + ["begin", "end"] * 2 + [
        "begin", "continue", "end"]

    xml = ET.fromstring(abc_to_musicxml(tune("chords, chord symbols, grace notes, accidentals carried through the "
                                             "bar")).split("\n", 2)[2])
    assert len(list(xml.iter("chord"))) == 2 + 2 + 1  # [A,CE] [B,DG] [E4G4]: every note after the first
    assert [h.find("kind").get("text") for h in xml.iter("harmony")] == ["m", "", "m7"]
    assert len(list(xml.iter("grace"))) == 1
    # ^c2 c2: both sharp (the second by the bar's carried accidental), only the first with its sign
    c_sharps = [n for n in xml.iter("note") if n.findtext("pitch/step") == "C" and n.findtext("pitch/alter") == "1"]
    assert len(c_sharps) == 2 and [n.findtext("accidental") for n in c_sharps] == ["sharp", None]


def test_the_same_tune_gives_the_same_bytes():
    abc = tune("repeats and endings, a pickup")
    assert abc_to_musicxml(abc) == abc_to_musicxml(abc)


def _sample(corpus: str, k: int, seed: int) -> list[str]:
    tunes = list(load_bundled(corpus))
    return [t.text for t in random.Random(seed).sample(tunes, k)]


def test_corpus_tunes_read_back_the_same_including_repeats_endings_triplets_and_chords():
    """A seeded sample of the folk corpus, and the first four of its tunes with endings, with tuplets
    and with chords (the benchmark samples with seed 1; the Essen songs are in the benchmark: reading
    that corpus takes most of a minute)."""
    folk = list(load_bundled("folk"))[:2000]
    special = [t.text for t in folk if "[2" in t.body or "|2" in t.body][:4]
    special += [t.text for t in folk if "(3" in t.body][:4] + [t.text for t in folk if re.search(r"\[[A-Ga-g]", t.body)][:4]
    tunes = special + _sample("folk", 16, seed=19)
    wrong = [(abc.split("\n", 2)[1], why) for abc in tunes if (why := disagreement(abc, abc_to_musicxml(abc)))]
    assert wrong == []
    assert len(special) == 12


@pytest.fixture(scope="module")
def generated():
    """Ten tunes of the shipped model (seed 19: not the benchmark's)."""
    return generate_tunes(load_checkpoint(DEFAULT_MODEL), 10, seed=19)


def test_generated_tunes_read_back_the_same(generated):
    wrong = [(abc.split("\n", 2)[1], why) for abc in generated if (why := disagreement(abc, abc_to_musicxml(abc)))]
    assert wrong == []


# -- PDF -------------------------------------------------------------------------------------------------------------


def pages_of(pdf: bytes) -> list[np.ndarray]:
    """Every page drawn by PDFium at 100 dpi, as grey levels (0 black .. 255 white)."""
    doc = pypdfium2.PdfDocument(pdf)
    return [np.asarray(page.render(scale=100 / 72).to_pil().convert("L")) for page in doc]


def text_of(pdf: bytes) -> str:
    doc = pypdfium2.PdfDocument(pdf)
    return "\n".join(page.get_textpage().get_text_range() for page in doc)


def staff_lines(page: np.ndarray) -> int:
    """Rows of pixels dark across most of the page: the lines of the staves (a few pixels tall each)."""
    dark_rows = (page < 128).mean(axis=1) > 0.6
    return int(np.sum(dark_rows[1:] & ~dark_rows[:-1]))  # count the starts of dark runs


def test_one_tune_is_an_a4_page_with_its_title_and_staves():
    abc = tune("repeats and endings, a pickup")
    pdf = render_pdf(abc, "Repeats")
    assert pdf.startswith(b"%PDF-") and len(PdfReader(io.BytesIO(pdf)).pages) == 1
    box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (210, 297)  # A4, mm
    assert "Repeats And Endings" in text_of(pdf)
    (page,) = pages_of(pdf)
    assert staff_lines(page) >= 5  # at least one staff of five lines drawn
    assert 0.005 < (page < 128).mean() < 0.2  # ink, but not a black page
    assert render_pdf(abc, "Repeats") == pdf  # the same bytes again: no dates in the file


def test_a_tunebook_has_every_tune_on_pages_counted_and_numbered():
    tunes = _sample("folk", 9, seed=23)
    pdf, failed = render_book(tunes, "Nine")
    assert failed == []
    expected = len(lay_out([blocks_of(abc) for abc in tunes]))
    pages = pages_of(pdf)
    assert expected >= 2 and len(pages) == expected == len(PdfReader(io.BytesIO(pdf)).pages)
    text = text_of(pdf)
    for abc in tunes:
        assert re.search(r"^T:(.*)$", abc, re.M).group(1).strip() in text
    assert all(f"{i} / {expected}" in text for i in range(1, expected + 1))
    assert all(staff_lines(page) >= 5 for page in pages)
    assert PdfReader(io.BytesIO(pdf)).metadata.title == "Nine"


def test_a_long_tune_goes_on_over_pages():
    body = tune("repeats and endings, a pickup").split("K:D\n")[1]
    long = HEAD.format(n=1, title="Long", meter="6/8", key="D") + body * 40
    pdf = render_pdf(long, "Long")
    pages = pages_of(pdf)
    assert len(pages) >= 2 and all(staff_lines(p) >= 5 for p in pages)


# -- transposition, the command, the web -----------------------------------------------------------------------------


def tunesmith(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunesmith.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_render_writes_musicxml_pdf_and_a_tunebook_all_transposed_alike(tmp_path):
    book = tmp_path / "set.abc"
    book.write_text(tune("repeats and endings, a pickup", 1) + "\n" + tune("triplets, ties across the bar, broken "
                                                                           "rhythm", 2))
    run = tunesmith("render", str(book), "--to", "musicxml,midi,pdf", "--book", "--transpose", "2",
                    "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["set-1-repeats-and-endings.mid", "set-1-repeats-and-endings.musicxml",
                     "set-2-triplets.mid", "set-2-triplets.musicxml", "set.pdf"]
    original = tune("repeats and endings, a pickup", 1)
    moved = [(onset, pitch + 2, length) for onset, pitch, length in our_notes(original)]
    xml = (tmp_path / "out" / "set-1-repeats-and-endings.musicxml").read_text()
    assert music21_notes(xml) == moved
    assert ET.fromstring(xml.split("\n", 2)[2]).find("part/measure/attributes/key/fifths").text == "4"  # D -> E
    midi = mido.MidiFile(tmp_path / "out" / "set-1-repeats-and-endings.mid")
    played = [m.note for m in midi.tracks[1] if m.type == "note_on" and m.velocity]
    assert played == [e.pitch + 2 for e in sorted(tune_parts(original).melody, key=lambda e: (e.start, e.pitch))]
    pdf = (tmp_path / "out" / "set.pdf").read_bytes()
    assert len(pages_of(pdf)) >= 1 and "Repeats And Endings" in text_of(pdf) and "Triplets" in text_of(pdf)
    assert pdf != render_pdf(original, "set")  # another key, other pages
    as_written = render_one(original, "musicxml", RenderOptions())
    assert render_one(original, "musicxml", RenderOptions(transpose=2)) != as_written


@pytest.mark.parametrize("args, message", [
    (["--to", "musicxml", "--transpose", "13"], "--transpose 13: give a number of semitones from -12 to 12"),
    (["--to", "musicxml", "--book"], "--book makes a PDF tunebook: add pdf to --to"),
    (["--to", "pdf,fax"], "'fax' is not a kind; choose from midi, wav, svg, musicxml, pdf"),
    (["--to", "pdf", "--transpose", "-3", "pipes.abc"], "--transpose -3: 1 of 2 tunes have no key to move; "
                                                        "nothing was written: pipes.abc: X:2 (Pipes): K:Hp"),
])
def test_bad_options_and_untransposable_tunes_exit_2_with_one_line(tmp_path, args, message):
    (tmp_path / "pipes.abc").write_text(tune("repeats and endings, a pickup") + "\nX:2\nT:Pipes\nM:2/4\nL:1/8\nK:Hp\n"
                                                                                 "ABcd|]\n")
    files = [a for a in args if a.endswith(".abc")] or ["pipes.abc"]
    run = tunesmith("render", *files, *[a for a in args if not a.endswith(".abc")], cwd=tmp_path)
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipes.abc"]  # nothing written


def test_web_downloads_musicxml_and_pdf_in_any_key(tmp_path):
    from tunesmith.web.app import create_app

    client = TestClient(create_app(db=tmp_path / "t.db", runs_dir=None))
    abc = tune("repeats and endings, a pickup")
    saved = client.post("/api/tunes", json={"abc": abc}).json()
    assert set(saved["files"]) == {"abc", "mid", "wav", "svg", "musicxml", "pdf"}
    xml = client.get(saved["files"]["musicxml"])
    assert xml.status_code == 200 and xml.headers["content-type"] == "application/vnd.recordare.musicxml+xml"
    assert music21_notes(xml.text) == our_notes(abc)
    up = client.get(saved["files"]["musicxml"] + "?transpose=-5")
    assert music21_notes(up.text) == [(o, p - 5, d) for o, p, d in our_notes(abc)]
    assert 'filename="' in up.headers["content-disposition"] and "-5.musicxml" in up.headers["content-disposition"]
    pdf = client.get(saved["files"]["pdf"] + "?transpose=3")
    assert pdf.headers["content-type"] == "application/pdf" and len(pages_of(pdf.content)) == 1
    abc_up = client.get(saved["files"]["abc"] + "?transpose=2").text
    assert "K:E" in abc_up and our_notes(abc_up) == [(o, p + 2, d) for o, p, d in our_notes(abc)]
    assert client.get(saved["files"]["pdf"] + "?transpose=13").status_code == 422
    pipes = client.post("/api/tunes", json={"abc": "X:1\nT:Pipes\nM:2/4\nL:1/8\nK:Hp\nABcd|]\n"}).json()
    refused = client.get(pipes["files"]["musicxml"] + "?transpose=1")
    assert refused.status_code == 400 and "K:Hp is not a key that can be transposed" in refused.json()["detail"]


def test_durations_in_the_score_sum_to_the_tunes_length():
    """The <duration>s of every measure, over <divisions>, add up to the tune's end as to_events counts it
    (repeats not expanded: this tune has none)."""
    abc = tune("a pickup, long notes split in tied values, whole-bar rests")
    root = ET.fromstring(abc_to_musicxml(abc).split("\n", 2)[2])
    divisions = int(root.find("part/measure/attributes/divisions").text)
    total = sum(int(n.findtext("duration")) for n in root.iter("note") if n.find("chord") is None
                and n.find("grace") is None)
    assert F(total, divisions * 4) == tune_parts(abc).end
