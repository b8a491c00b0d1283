"""ABC from anywhere: tunes as tunebook sites post them (tests/data/abc_anywhere/) render and play, or get one
clear message per thing tunesmith cannot do.

Several voices (`V:` blocks, inline `[V:2]`), lyrics, `%%` directives, `P:` parts in the header's order,
inline `[K:]` `[M:]` `[L:]`, decorations, grace notes, tuplets, broken rhythm, line continuations: each tune
is drawn (the staves counted in its SVG), played (voices together, parts in order) and its note onsets
compared with abc2midi's, the independent judge; its MusicXML is read back by music21. What is not supported
(a voice overlay, a tempo change, a setting that moves pitches, a macro, a part never marked) is named with
its line by `check`, the web editor and `render`, which writes no sound for such a tune.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunesmith.errors import TunesmithError
from tunesmith.insight import abc2midi
from tunesmith.insight.music21_judge import disagreement
from tunesmith.music.abc.check import check_text, check_tune
from tunesmith.music.abc.lexer import tokens
from tunesmith.music.abc.support import ignored, unplayable
from tunesmith.music.abc.to_events import (
    part_order,
    parts_in_playing_order,
    tune_events,
    tune_parts,
)
from tunesmith.music.abc.voices import split_voices, voice_streams
from tunesmith.render.musicxml import abc_to_musicxml, voices_musicxml
from tunesmith.render.sheet import render_svg
from tunesmith.render.tune import render_midi

DATA = Path(__file__).parent / "data" / "abc_anywhere"
PLAYABLE = ["two_voices", "inline_voices", "parts", "lyrics", "inline_fields"]
ROOT = Path(__file__).resolve().parents[1]


def tune(name: str) -> str:
    return (DATA / f"{name}.abc").read_text()


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunesmith", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


# -- abc2midi, the independent judge of timing ----------------------------------------------------------

def abc2midi_onsets(abc: str) -> list[tuple[Fraction, int]]:
    if not abc2midi.available():
        pytest.fail("abc2midi is not installed: run `make tools`")
    return abc2midi.note_onsets(abc)


def our_onsets(abc: str) -> list[tuple[Fraction, int]]:
    """Ours, as abc2midi.note_onsets gives its own: from the first note."""
    events = tune_parts(abc).melody
    first = min(e.start for e in events)
    return sorted((e.start - first, e.pitch) for e in events)


@pytest.mark.parametrize("name", PLAYABLE)
def test_note_onsets_agree_with_abc2midi(name):
    """Every note of every voice, at the time abc2midi plays it: voices together, parts in the P: order."""
    abc = tune(name)
    assert our_onsets(abc) == abc2midi_onsets(abc)


# -- voices ---------------------------------------------------------------------------------------------

def test_two_voices_play_together_from_the_start():
    """The cello (V:2, written after the whole fiddle part) starts with the fiddle, at 0; both repeat."""
    parts = tune_parts(tune("two_voices"))
    cello = [e for e in parts.melody if e.pitch < 55]
    fiddle = [e for e in parts.melody if e.pitch >= 55]
    # 4 bars with the first ending, 4 with the second: two half notes a bar
    assert [e.start for e in cello] == [Fraction(k, 2) for k in range(16)]
    assert fiddle[0].start == 0 and fiddle[0].pitch == 67 and cello[0].pitch == 43  # G and the low G,,
    assert len(fiddle) == 32 and parts.end == 8
    voices = split_voices(tune("two_voices"))
    assert [(v.id, v.name, v.clef) for v in voices] == [("1", "Fiddle", "treble"), ("2", "Cello", "bass")]
    assert [len(tune_events(v.text)) for v in voices] == [32, 16]


def test_inline_voices_split_inside_a_line():
    """`[V:1] ...` and `[V:2 clef=bass] ...` on lines of their own: voice 2 rests for the pickup, then plays."""
    voices = split_voices(tune("inline_voices"))
    assert [(v.id, v.clef) for v in voices] == [("1", ""), ("2", "bass")]
    melody = tune_parts(tune("inline_voices")).melody
    bass = [e for e in melody if e.pitch < 55]
    assert bass[0].start == Fraction(1, 8) and bass[0].pitch == 50  # D, after the pickup's rest
    assert melody[0].start == 0 and melody[0].pitch == 69  # the fiddle's pickup A


def test_a_line_with_two_voices_in_it():
    text = "X:1\nT:t\nM:2/4\nL:1/4\nK:C\n[V:1] c d | e f |] [V:2] C D | E F |]\n"
    voices = split_voices(text)
    assert [v.body for v in voices] == [["c d | e f |]"], ["C D | E F |]"]]
    assert our_onsets(text) == abc2midi_onsets(text)
    assert [len(stream) > 0 for stream in voice_streams(tokens(text))] == [True, True]


@pytest.mark.parametrize("name, staves", [("two_voices", 2), ("inline_voices", 2), ("parts", 1), ("lyrics", 1),
                                          ("inline_fields", 1)])
def test_the_score_has_a_staff_per_voice(name, staves):
    svg = render_svg(tune(name))
    measures = len(re.findall(r'class="measure\b', svg))
    assert measures > 0 and len(re.findall(r'class="staff\b', svg)) == staves * measures
    assert len(re.findall(r'class="note\b', svg)) > 0
    if name == "two_voices":
        assert "Fiddle" in svg and "Cello" in svg  # the staves' names, from name=
    if name == "lyrics":
        assert len(re.findall(r'class="syl\b', svg)) == 13  # every sung syllable of the two w: lines


@pytest.mark.parametrize("name", PLAYABLE)
def test_music21_hears_in_the_musicxml_what_we_play(name):
    """The MusicXML export (a part per voice, parts written out in playing order) against the MIDI's notes."""
    xml = abc_to_musicxml(tune(name))
    assert disagreement(tune(name), xml) is None
    assert xml.count("<part id=") == (2 if "voices" in name else 1)


def test_the_midi_file_plays_every_voice():
    midi = mido.MidiFile(file=io.BytesIO(render_midi(tune("two_voices"))))
    played = [m.note for t in midi.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert len(played) == 48 and min(played) == 43 and max(played) == 76


# -- parts ----------------------------------------------------------------------------------------------

def test_parts_play_in_the_header_order():
    """P:AABAC: each part as it would play on its own (its repeats expanded), in that order."""
    abc = tune("parts")
    head, body = abc.split("K:G\n")
    head = head.replace("P:AABAC\n", "") + "K:G\n"
    sections = dict(re.findall(r"P:([A-C])\n(.*?)(?=P:|\Z)", body, re.S))
    alone = {letter: [e.pitch for e in tune_events(head + music)] for letter, music in sections.items()}
    assert [e.pitch for e in tune_events(abc)] == alone["A"] * 2 + alone["B"] + alone["A"] + alone["C"]
    assert len(alone["A"]) == 12  # |: ... :| played twice within the part
    # without the header's order, the body is played as written, as if it marked no parts
    unordered = abc.replace("P:AABAC\n", "")
    assert tune_events(unordered) == tune_events(re.sub(r"^P:[A-C]\n", "", unordered, flags=re.M))
    assert "P:A\n" in parts_in_playing_order(abc) and parts_in_playing_order(abc).count("P:A\n") == 3


@pytest.mark.parametrize("value, order", [("AABB", list("AABB")), ("A2B", list("AAB")), ("(AB)2C", list("ABABC")),
                                          ("A.B.C", list("ABC")), ("((AB)2C)2", list("ABABCABABC")),
                                          ("ABab", None), ("Intro", None), ("(AB", None), ("A0", None),
                                          ("A)B", None), ("", None), ("ABA % Aird uses a da capo", list("ABA")), ("((((A9)9)9)9)", None)])
def test_part_orders_read(value, order):
    assert part_order(value) == order


def test_inline_part_marks_and_an_order_with_a_comment():
    """Aird's tunebooks write `P:OABA % Aird prints a da capo` and mark parts inline, `[P:A]\\`."""
    abc = ("X:1\nT:t\nM:2/4\nL:1/8\nP:OABA % a da capo\nK:D\n[P:O]\\\nA2\\\n[P:A]\\\n|d2 e2|f4 :|\n"
           "[P:B]\\\n|a2 g2|f4 |]\n")
    assert [e.pitch for e in tune_events(abc)] == [69, 74, 76, 78, 74, 76, 78, 81, 79, 78, 74, 76, 78, 74, 76, 78]
    assert our_onsets(abc) == abc2midi_onsets(abc) and unplayable(abc) == []
    assert disagreement(abc, abc_to_musicxml(abc)) is None


@pytest.mark.parametrize("setting, body", [
    ("%%MIDI transpose -12\nK:C\n", "c d e f|g4|]"),       # a tenor part written an octave up
    ("K:C clef=treble-8\n", "c d e f|g4|]"),                 # the octave clef says the same
    ("%%MIDI transpose 3\nK:G clef=bass-8\n", "G, A, B, C|D4|]"),
    ("%%MIDI nobarlines\nK:F\n", "_B B =B B c d _e e|f4|]"),  # an accidental holds for its note only
])
def test_sound_settings_are_played_as_abc2midi_plays_them(setting, body):
    """`%%MIDI transpose`, octave clefs and `%%MIDI nobarlines` change the sound: honoured, in MIDI and MusicXML."""
    abc = f"X:1\nT:t\nM:4/4\nL:1/4\n{setting}{body}\n"
    assert our_onsets(abc) == abc2midi_onsets(abc)
    assert unplayable(abc) == [] and ignored(abc) == []
    assert disagreement(abc, abc_to_musicxml(abc)) is None


def test_a_broken_rhythm_ratio_other_than_abcs_is_named():
    abc = "X:1\nT:t\nM:4/4\nL:1/8\n%%MIDI ratio 2 1\nK:C\nA>B c>d e>f g>a|]\n"
    (problem,) = unplayable(abc)
    assert problem.line == 5 and "played 3:1" in problem.message
    assert unplayable(abc.replace("ratio 2 1", "ratio 3 1")) == []


def test_a_part_the_order_names_but_the_body_never_marks_is_named():
    abc = tune("parts").replace("P:AABAC", "P:AABD")
    (problem,) = unplayable(abc)
    assert problem.line == 7 and "plays part D, which the body never marks" in problem.message


# -- what is not supported: one message each, with its line ------------------------------------------------

def test_what_cannot_be_played_is_named_with_its_line():
    report = check_text(tune("unsupported"))[0]
    named = [(p.line, p.message.split(":")[0]) for p in report.problems]
    assert (6, "V") in named  # V:1 octave=-1
    assert any(line == 7 and "voice overlay &" in m for line, m in [(p.line, p.message) for p in report.problems])
    assert any(line == 7 and m.startswith("tempo change Q:1/4=60") for line, m in
               [(p.line, p.message) for p in report.problems])
    with pytest.raises(TunesmithError) as refused:
        render_midi(tune("unsupported"))
    for what in ("line 6: V:1 octave=-1", "line 7: voice overlay &", "line 7: tempo change Q:1/4=60"):
        assert what in str(refused.value)
    assert render_svg(tune("unsupported")).count('class="note') > 0  # the score is still drawn


@pytest.mark.parametrize("line, what", [
    ("K:D exp ^f ^c ^g", "a key's own accidentals"),
    ("K:G transpose=-2", "the transpose= setting is not applied"),
    ("K:C clef=bass middle=d", "the middle= setting is not applied"),
])
def test_keys_that_move_pitches_are_named(line, what):
    abc = f"X:1\nT:t\nM:4/4\nL:1/8\n{line}\nCDEF GABc|]\n"
    (problem,) = unplayable(abc)
    assert problem.line == 5 and what in problem.message


def test_a_macro_is_named():
    abc = "X:1\nT:t\nM:4/4\nL:1/8\nm: ~G3 = G{A}G{F}G\nK:G\n~G3 B d2 e2|]\n"
    (problem,) = unplayable(abc)
    assert problem.line == 5 and "macros (m:) are not expanded" in problem.message


def test_what_is_ignored_is_a_warning_not_a_problem():
    report = check_text(tune("lyrics"))[0]
    assert report.problems == []
    assert [w.line for w in report.warnings] == [9, 10, 16]
    assert all("%%MIDI" in w.message for w in report.warnings[:2]) and "W: words" in report.warnings[2].message
    warned = ignored(tune("two_voices"))  # the file's lines: a comment comes before its X: line
    assert [w.line for w in warned] == [9, 15] and "not drawn in the score" in warned[1].message
    for name in PLAYABLE:
        assert check_text(tune(name))[0].problems == [], name


def test_render_writes_every_voice_and_says_what_it_cannot_do(tmp_path):
    out = tmp_path / "out"
    done = run("render", *(str(DATA / f"{name}.abc") for name in PLAYABLE), "--to", "midi,svg", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert len(list(out.glob("*.mid"))) == len(list(out.glob("*.svg"))) == len(PLAYABLE)
    assert "warning: " + str(DATA / "lyrics.abc") + ": X:4 (A Song with Words), line 9 of the tune: %%MIDI program 73" \
        in done.stderr
    refused = run("render", str(DATA / "unsupported.abc"), "--to", "midi,wav,svg", "-o", str(tmp_path / "bad"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    (line,) = [line for line in refused.stderr.splitlines() if line.startswith("not rendered:")]
    assert "X:6 (Things Not Played): midi, wav: not played: line 6: V:1 octave=-1" in line
    assert [p.suffix for p in (tmp_path / "bad").iterdir()] == [".svg"]


def test_the_web_editor_lists_problems_and_what_is_ignored(tmp_path):
    from fastapi.testclient import TestClient

    from tunesmith.web.app import create_app

    client = TestClient(create_app(db=tmp_path / "t.db", runs_dir=None))
    shown = client.post("/api/render", json={"abc": tune("unsupported")}).json()
    assert "<svg" in shown["svg"]  # still drawn
    messages = [p["message"] for p in shown["problems"]]
    assert any("voice overlay &" in m for m in messages) and any("tempo change" in m for m in messages)
    duet = client.post("/api/render", json={"abc": tune("two_voices").split("\n", 1)[1]}).json()
    assert [p["line"] for p in duet["problems"]] == [8, 14] and "Cello" in duet["svg"]
    saved = client.post("/api/tunes", json={"abc": tune("unsupported")}).json()
    sound = client.get(f"/api/tunes/{saved['id']}.wav")
    assert sound.status_code == 400 and "voice overlay &" in sound.json()["detail"]


# -- the reader never crashes on such text ------------------------------------------------------------------

PIECES = ["V:1", "V:2 clef=bass name=\"B\"", "V:", "[V:1]", "[V:2 octave=1]", "[V:", "P:A", "P:B", "P:AB2",
          "P:(A", "w: la la-la _ *", "W:words", "%%MIDI program 3", "%%score (1 2)", "% note", "&", "[Q:1/4=60]",
          "[K:G]", "[K:D exp ^f]", "[M:3/4]", "[L:1/16]", "[L:0/0]", "{/g}", "{ab}", "(3", "(3:2:4", ">", "<<",
          "!trill!", "+fermata+", "~", "|:", ":|2", "[|", "|]", "::", "[1", "\\", "C", "d2", "e/", "z", "[CEG]",
          "\"Am\"", "m:~G=GAG", "K:none", "M:none", "L:1/8", "T:x", " ", "\n"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.lists(st.sampled_from(PIECES), max_size=40), header=st.lists(st.sampled_from(
    ["V:1", "V:2 clef=bass", "P:AB", "P:A2", "%%MIDI program 1", "Q:1/4=90", "M:6/8"]), max_size=3))
def test_the_reader_never_crashes(body, header):
    text = "X:1\nT:f\n" + "\n".join(header) + "\nL:1/8\nK:D\n" + " ".join(body) + "\n"
    tune_parts(text)
    check_tune(text)
    ignored(text)
    parts_in_playing_order(text)
    voice_streams(tokens(text))
    for voice in split_voices(text):
        tune_parts(voice.text)
    try:
        voices_musicxml(text)
    except TunesmithError:
        pass  # a voice without notes: a clear message
    try:
        render_midi(text)
    except TunesmithError:
        pass
