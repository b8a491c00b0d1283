"""Tabla for practice (issue 19, item 3): the talas added against a reference table, the lehra, the tempo ramp,
layakari, `tunesmith render` of tabla files, and the tab's player whose matra count follows the audio
(headless chromium; its screenshot is kept in out/test-artifacts/web-tabla-practice.png).

The reference table is written out here, in the references' own spellings (docs/tabla.md, "More talas",
names the sources), and mapped to tunesmith's bols by the spellings the docs give, so a theka, a vibhag or a
clap in the wrong place fails.
"""

from __future__ import annotations

import io
import subprocess
import sys
import wave
from pathlib import Path

import pytest
# The browser fixtures (a `tunesmith serve` subprocess, chromium, a page that may only reach it) are shared.
from test_web_browser import ARTIFACTS, ROOT, browser, page, server  # noqa: F401

from tunesmith.modes.tabla.practice import theka_composition
from tunesmith.music.tabla import TALAS, get_tala, hits, read_text, theka
from tunesmith.music.tabla.lehra import nagma
from tunesmith.render.audio import SAMPLE_RATE
from tunesmith.render.tabla_practice import Practice, lehra_cycle, practice_audio, practice_wav

# name: (matras, vibhags, marks: X sam, 0 khali, numbers tali, theka as Courtney / Bhatkhande write it)
REFERENCE = {
    "adachautal": (14, (2, 2, 2, 2, 2, 2, 2), ("X", "2", "0", "3", "0", "4", "0"),
                   "Dhin TiRaKiTa | Dhi Na | Tu Na | Kat Ta | TiRaKiTa Dhin | Na Dhin | Dhin Na"),
    "tilwada": (16, (4, 4, 4, 4), ("X", "2", "0", "3"),
                "Dha TiRaKiTa Dhin Dhin | Dha Dha Tin Tin | Ta TiRaKiTa Dhin Dhin | Dha Dha Dhin Dhin"),
    "dhamar": (14, (5, 2, 3, 4), ("X", "2", "0", "3"), "Ka Dhi Ta Dhi Ta | Dha S | Ga Ti Ta | Ti Ta Ta S"),
    "chautal": (12, (2, 2, 2, 2, 2, 2), ("X", "0", "2", "0", "3", "4"),
                "Dha Dha | Din Ta | KiTa Dha | Din Ta | TiTa KaTa | GaDi GaNa"),
    "sooltaal": (10, (2, 2, 2, 2, 2), ("X", "0", "2", "3", "0"), "Dha Dha | Din Ta | KiTa Dha | TiTa KaTa | GaDi GaNa"),
}
# The references' spellings in tunesmith's bols (docs/tabla.md); a word not here is already one.
SPELLING = {"Din": ("Dhin",), "Tu": ("Tun",), "S": ("-",), "Ga": ("Ge",), "TiRaKiTa": ("Tirakita",),
            "KiTa": ("Ki", "Ta"), "TiTa": ("Ti", "Ta"), "KaTa": ("Ka", "Ta"), "GaDi": ("Ge", "Ti"), "GaNa": ("Ge", "Na")}
OTHER_NAMES = {"Ada Chautal": "adachautal", "Tilwara": "tilwada", "Dhamaar": "dhamar", "Chartal": "chautal",
               "Sultal": "sooltaal", "Shooltal": "sooltaal"}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunesmith", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def frames(wav_bytes: bytes) -> int:
    with wave.open(io.BytesIO(wav_bytes)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (SAMPLE_RATE, 2, 1)
        return w.getnframes()


# -- the talas ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", REFERENCE)
def test_each_new_tala_is_the_references(name):
    matras, vibhags, marks, written = REFERENCE[name]
    tala = TALAS[name]
    assert (tala.matras, tala.vibhags, tala.marks) == (matras, vibhags, marks)
    assert tala.khali_vibhags() == tuple(i for i, m in enumerate(marks) if m == "0")
    want = [SPELLING.get(word, (word,)) for word in written.split() if word != "|"]
    assert theka(tala) == want
    [reading] = read_text(f"tala: {name}\n{tala.theka}\n{tala.theka.split()[0]}\n")   # it reads as one cycle
    assert reading.problems == [] and [len(c) for c in reading.composition.cycles] == [matras]


def test_the_new_talas_go_by_their_other_names():
    assert {spelling: get_tala(spelling).name for spelling in OTHER_NAMES} == OTHER_NAMES


def test_the_shipped_model_refuses_a_tala_it_never_saw_by_name(tmp_path):
    done = run("generate", "--mode", "tabla", "--tala", "dhamar", "-n", "1", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("error: --tala dhamar: this model never saw it (it knows dadra, deepchandi, "
                                   "ektaal, jhaptaal, jhoomra, keherwa, rupak, teentaal)")


# -- the lehra, the ramp, layakari --------------------------------------------------------------

@pytest.mark.parametrize("name, tempo", [("teentaal", 90), ("dhamar", 97), ("sooltaal", 133.3), ("rupak", 61)])
def test_the_lehra_is_one_cycle_long_to_the_sample(name, tempo):
    tala = TALAS[name]
    notes = nagma(tala)
    assert notes[0].start == 0 and notes[0].semitones == 0                    # Sa on sam
    assert all(a.start + a.length == b.start for a, b in zip(notes, notes[1:]))
    assert notes[-1].start + notes[-1].length == tala.matras and notes[-1].semitones == -1   # Ni leads to sam
    audio = lehra_cycle(tala, tempo, "D")
    assert len(audio) == round(tala.matras * 60 / tempo * SAMPLE_RATE)
    assert abs(audio[len(audio) // 2]) > 0 or abs(audio[len(audio) // 3]) > 0   # it sounds


def test_a_tempo_ramp_sets_each_cycles_length_in_the_rendered_strokes_and_lehra():
    tala = TALAS["teentaal"]
    comp = theka_composition(tala)
    played = practice_audio(comp, Practice(60, ramp_to=120, ramp_cycles=4, lehra=True, sa="E"))
    per_cycle = sum(len(h.strokes) for h in hits(theka(tala), tala))
    sams = [played.strokes[k * per_cycle][0] for k in range(5)]               # 4 cycles, then the landing sam
    lengths = [b - a for a, b in zip(sams, sams[1:])]
    want = [16 * 60 / t * SAMPLE_RATE for t in (60, 80, 100, 120)]
    assert all(abs(got - w) <= 1 for got, w in zip(lengths, want)), (lengths, want)
    # the lehra's notes tile the playback, and a cycle's first note starts on its sam's stroke
    notes = played.notes
    assert all(a[1] == b[0] for a, b in zip(notes, notes[1:]))
    assert [n[0] for n in notes if n[2] == notes[0][2]][:5] == sams             # Sa comes on every sam only
    assert len(played.audio) == notes[-1][1] == round(played.schedule.total_seconds * SAMPLE_RATE)
    # a ramp longer than the composition plays it over until the ramp is done, then it lands
    assert len(comp.cycles) == 1 and len(played.schedule.tempos) == 5


@pytest.mark.parametrize("laya", [2, 3, 4])
def test_layakari_puts_laya_times_the_bols_in_a_cycle_against_the_same_theka(laya):
    text = "tala: keherwa\nDha Ge Na Ti | Na Ka Dhi Na ||\nDha Ge Na Ti | Na Ka Dhi Na ||\nDha\n"
    comp = read_text(text)[0].composition
    one = practice_audio(comp, Practice(120, theka=True))
    fast = practice_audio(comp, Practice(120, laya=laya, theka=True))
    cycle = round(8 * 60 / 120 * SAMPLE_RATE)
    for k in range(2):                                                       # each of the two cycles
        def inside(strokes):
            return sum(k * cycle <= start < (k + 1) * cycle for start, _ in strokes)
        assert inside(fast.strokes) == laya * inside(one.strokes)
        assert inside(fast.theka_strokes) == inside(one.theka_strokes) > 0   # the theka keeps the tala's tempo
    assert len(fast.audio) == len(one.audio) == round((2 * 8 + 1) * 60 / 120 * SAMPLE_RATE)
    assert fast.strokes[-1][0] == 2 * cycle                                  # and still lands on sam


@pytest.mark.parametrize("name", TALAS)
def test_every_talas_theka_plays_for_practice_with_all_the_layers(name):
    tala = TALAS[name]
    played = practice_audio(theka_composition(tala), Practice(240, laya=2, ramp_to=300, ramp_cycles=2, lehra=True,
                                                             sa="G", theka=True, drone=True))
    seconds = tala.matras * 60 / 240 + tala.matras * 60 / 300 + 60 / 300      # two cycles, then the landing sam
    assert len(played.audio) == round(seconds * SAMPLE_RATE) and float(abs(played.audio).max()) > 0.5
    assert played.notes[-1][1] == len(played.audio) and played.theka_strokes and played.strokes


def test_same_seed_same_practice_audio_and_settings_out_of_range_are_refused():
    comp = theka_composition(TALAS["chautal"])
    p = Practice(100, laya=2, lehra=True, sa="Bb", theka=True, drone=True)
    assert practice_wav(comp, p, seed=3) == practice_wav(comp, p, seed=3)
    from tunesmith.errors import TunesmithError
    for bad, words in ((Practice(100, laya=5), "laya 5"), (Practice(100, sa="H"), "sa 'H'"),
                       (Practice(100, ramp_to=120), "ramp-to"), (Practice(0), "tempo 0")):
        with pytest.raises(TunesmithError, match=words):
            practice_audio(comp, bad)


# -- tunesmith render ----------------------------------------------------------------------

DHAMAR = "title: Dhamar theka\ntala: dhamar\ntempo: 70\nKa Dhi Ta Dhi Ta | Dha - | Ge Ti Ta | Ti Ta Ta - ||\nKa\n"


def test_render_plays_a_tabla_file_with_a_lehra_a_ramp_and_layakari(tmp_path):
    (tmp_path / "comp.txt").write_text(DHAMAR)
    done = run("render", "comp.txt", "--to", "wav", "--lehra", "--sa", "D", "--laya", "2", "--tempo", "80",
               "--ramp-to", "120", "--ramp-cycles", "3", "-o", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    seconds = sum(14 * 60 / t for t in (80, 100, 120)) + 60 / 120                # three cycles, then the landing sam
    assert frames((tmp_path / "out" / "comp.wav").read_bytes()) == round(seconds * SAMPLE_RATE)
    plain = run("render", "comp.txt", cwd=tmp_path)                              # as written: WAV and MIDI
    assert plain.returncode == 0 and sorted(p.name for p in tmp_path.glob("comp.*")) == ["comp.mid", "comp.txt",
                                                                                          "comp.wav"]
    assert frames((tmp_path / "comp.wav").read_bytes()) == round(15 * 60 / 70 * SAMPLE_RATE)


@pytest.mark.parametrize("args, message", [
    (["comp.txt", "--lehra", "--sa", "H"], "error: comp.txt: composition 1: sa 'H': a key from C to B"),
    (["comp.txt", "--laya", "5"], "error: comp.txt: composition 1: laya 5: layakari plays the bols at 1, 2, 3 or 4"),
    (["comp.txt", "--lehra", "--to", "midi"], "error: comp.txt: --lehra shapes the WAV only"),
    (["comp.txt", "--to", "svg"], "error: comp.txt: a tabla composition renders as wav and midi, not svg"),
    (["comp.txt", "--transpose", "2"], "error: --transpose: for ABC tunes"),
    (["tune.abc", "--lehra"], "error: --lehra: for tabla compositions; tune.abc: ABC"),
])
def test_render_refuses_what_it_cannot_play_by_name_and_writes_nothing(tmp_path, args, message):
    (tmp_path / "comp.txt").write_text(DHAMAR)
    (tmp_path / "tune.abc").write_text("X:1\nT:A\nM:4/4\nL:1/8\nK:D\nABcd efga|\n")
    done = run("render", *args, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith(message) and len(done.stderr.splitlines()) == 1, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comp.txt", "tune.abc"]


# -- the web page -----------------------------------------------------------------------------

def test_the_practice_api_gives_the_ramps_timing_and_refuses_bad_settings_by_name():
    from fastapi.testclient import TestClient

    from tunesmith.web.app import create_app

    import tempfile
    tmp = Path(tempfile.mkdtemp())
    client = TestClient(create_app(db=tmp / "t.db", runs_dir=tmp / "no-runs"))
    r = client.get("/api/tabla/theka/Sultal/practice?lehra=1&sa=D&tempo=60&ramp_to=120&ramp_cycles=3")
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["tala"] == "sooltaal" and plan["tempos"] == [60, 90, 120, 120]
    assert plan["cycle_starts"] == pytest.approx([0, 10.0, 10 + 10 * 60 / 90, 10 + 10 * 60 / 90 + 5])
    wav = client.get(plan["wav"])
    assert wav.status_code == 200 and frames(wav.content) == round(plan["total_seconds"] * SAMPLE_RATE)
    for query, status, words in (("laya=5", 422, "laya 5"), ("sa=H", 422, "sa 'H'"), ("speed=2", 422, "speed: not"),
                                 ("tempo=0", 422, "tempo: 0 is not between"), ("ramp_cycles=3", 422, "ramp-to")):
        r = client.get(f"/api/tabla/theka/dhamar/practice?{query}")
        assert r.status_code == status and words in r.json()["detail"], r.text
    assert client.get("/api/tabla/theka/nosuch").status_code == 404


def test_the_matra_count_moves_over_the_grid_to_the_last_matra_while_it_plays(page):  # noqa: F811
    page.goto("/tabla")
    page.select_option("#theka-tala", "sooltaal")  # a tala no shipped model writes: the theka menu has all 13
    page.click("#practise-theka")
    card = page.locator("#results article.theka")
    card.locator("table.tala-grid tr.counter th.count").nth(9).wait_for(timeout=20_000)
    assert card.locator("tr.counter th.count").all_inner_texts() == [str(i) for i in range(1, 11)]
    card.locator("form.practice input[name=tempo]").fill("300")               # 10 matras in 2 s
    card.locator("form.practice input[name=lehra]").check()
    card.locator("form.practice select[name=sa]").select_option("D")
    card.locator("button.practise").click()
    count = "#results article.theka output.matra-count"
    seen = set()
    for matra in ("2", "5", "10"):                                          # it moves, and reaches the last matra
        page.wait_for_function(f"() => document.querySelector('{count}').dataset.matra === '{matra}'", timeout=20_000)
        lit = card.locator("tr.counter th.count.now").all_inner_texts()
        seen.add(matra)
        moved_on = ["1"] if matra == "10" else [str(int(matra) + 1)]            # (by the time it is read)
        assert lit in ([matra], moved_on)                                       # the lit matra is the one counted
    assert seen == {"2", "5", "10"}
    assert "of 10" in page.locator(count).inner_text()
    src = card.locator("audio").get_attribute("src")
    assert src.startswith("/api/tabla/theka/sooltaal/practice.wav?") and "lehra=1" in src and "sa=D" in src
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-tabla-practice.png"), full_page=True)
