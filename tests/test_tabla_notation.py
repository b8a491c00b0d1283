"""The tabla notation: bols and their spellings, talas, the reader/checker, timing."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tunesmith.errors import TunesmithError
from tunesmith.music.tabla import (TALAS, compositions_in_file, get_tala, hits, normalise, parse_matras, read_file,
                                   read_text, theka)

KAIDA = """title: Delhi kaida
tala: teentaal
tempo: 90
form: kaida
Dha Dha Ti Ta | Dha Dha Tin Na | Ta Ta Ti Ta | Dha Dha Dhin Na ||
Dha
"""


def only(text: str):
    [reading] = read_text(text)
    return reading


def messages(text: str) -> list[str]:
    return [p.message for p in only(text).problems]


@pytest.mark.parametrize("name", list(TALAS))
def test_every_theka_is_one_cycle_of_its_tala(name):
    tala = TALAS[name]
    matras = theka(tala)
    assert len(matras) == tala.matras == sum(tala.vibhags)
    reading = only(f"tala: {name}\n{tala.theka}\n")
    assert reading.problems == [] and reading.composition.cycles == (tuple(matras),)


def test_issue_tala_facts():
    assert [(t.name, t.matras, t.shape) for t in (get_tala("Tintal"), get_tala("jhaptal"), get_tala("RUPAK"))] == [
        ("teentaal", 16, "4+4+4+4"), ("jhaptaal", 10, "2+3+2+3"), ("rupak", 7, "3+2+2")]
    assert TALAS["teentaal"].khali_vibhags() == (2,) and TALAS["rupak"].khali_vibhags() == (0,)
    assert TALAS["teentaal"].mark_at(8) == "0" and TALAS["teentaal"].mark_at(12) == "3"


@pytest.mark.parametrize("spelling, bol", [("Dhaa", "Dha"), ("Dhā", "Dha"), ("DHA", "Dha"), ("Teen", "Tin"),
                                           ("Dheen", "Dhin"), ("Tu", "Tun"), ("Ghe", "Ge"), ("Tirkit", "Tirakita"),
                                           ("TiRaKiTa", "Tirakita"), ("Terekite", "Tirakita"), ("DhaGe", "Dhage"),
                                           ("Kath", "Kat"), ("-", "-")])
def test_spellings_normalise(spelling, bol):
    assert normalise(spelling) == bol


def test_a_composition_reads_and_writes_back_canonically():
    reading = only(KAIDA.replace("Dhin", "Dheen").replace("Ti Ta |", "Tee Taa |", 1))
    comp = reading.composition
    assert reading.problems == [] and comp.title == "Delhi kaida" and comp.tempo == 90 and comp.form == "kaida"
    assert comp.file_text() == KAIDA
    assert comp.text == KAIDA.split("\n", 1)[1].replace("tempo: 90\n", "")
    assert only(comp.file_text()).composition == comp


def test_bols_sharing_a_matra_in_brackets_or_joined():
    comp = only("tala: dadra\n[Dha Ge] DhaTi [Ti Ra Ki Ta] | [- Dha] Tirakita [Na Na Na] ||\nDha\n").composition
    assert comp.cycles[0] == (("Dhage",), ("Dha", "Ti"), ("Tirakita",), ("-", "Dha"), ("Tirakita",),
                              ("Na", "Na", "Na"))
    assert comp.text.split("\n")[1] == "Dhage [Dha Ti] Tirakita | [- Dha] Tirakita [Na Na Na] ||"


def test_unknown_bol_names_line_column_cycle_and_nearest_spelling():
    reading = only(KAIDA.replace("Tin Na", "Tin Naa |", 1).replace("Dha Dha Dhin Na ||", "Dha Dha Dhin Na ||\n"
                                                                   "Dha Dha Tirkt Ta | Dha Dha Tin Na | "
                                                                   "Ta Ta Ti Ta | Dha Dha Dhin Na ||"))
    [problem] = [p for p in reading.problems if "unknown" in p.message]
    assert (problem.line, problem.col, problem.cycle) == (6, 9, 2)
    assert problem.message == "unknown bol 'Tirkt'; did you mean 'Tirakita'?"


def test_a_cycle_with_the_wrong_count_is_named_with_its_line():
    text = KAIDA.replace("Dha\n", "Dha Dha Ti Ta | Dha Dha Tin | Ta Ta Ti Ta | Dha Dha Dhin Na ||\nDha\n")
    [problem] = only(text).problems
    assert (problem.line, problem.col, problem.cycle) == (6, 1, 2)
    assert problem.message == "cycle 2 has 15 matras; teentaal has 16 (4+4+4+4)"


def test_vibhag_marks_in_the_wrong_place():
    [problem] = only("tala: jhaptaal\nDhi Na Dhi | Dhi Na | Ti Na | Dhi Dhi Na ||\n").problems
    assert problem.message == "cycle 1: vibhags of 3+2+2+3 matras; jhaptaal divides its 10 as 2+3+2+3"


def test_an_unclosed_cycle_and_a_silent_landing():
    assert messages("tala: dadra\nDha Dhi Na | Dha Ti Na ||\nDha Dhi Na\n") == [
        "cycle 2 is not closed with '||' (3 of 6 matras)"]
    assert "lands on a silent matra" in messages("tala: dadra\nDha Dhi Na | Dha Ti Na ||\n-\n")[0]


def test_header_problems():
    assert messages("tala: teentala\nDha ||\n") == [
        "unknown tala 'teentala'; did you mean 'teentaal'? (known: teentaal, jhaptaal, ektaal, rupak, keherwa, "
        "dadra, jhoomra, deepchandi, adachautal, tilwada, dhamar, chautal, sooltaal)"]
    assert messages("tala: dadra\ntempo: 0\nDha Dhi Na | Dha Ti Na ||\n") == [
        "tempo '0': must be a number of matras per minute above 0 and at most 1000"]
    assert messages("Dha Dhi Na | Dha Ti Na ||\n") == [
        "no 'tala:' line; write one before the bols, e.g. 'tala: teentaal'"]
    assert messages("tala: dadra\nlaya: drut\nDha Dhi Na | Dha Ti Na ||\n")[0].startswith("unknown header field 'laya'")


def test_bracket_problems():
    assert messages("tala: dadra\n[Dha [Ti] Dhi Na | Dha Ti Na ||\n")[0].startswith("'[' inside a bracket group")
    assert messages("tala: dadra\n[] Dhi Na Dha | Dha Ti Na ||\n")[0] == "empty brackets '[]'"
    assert "'|' inside brackets; close the group with ']' first" in messages("tala: dadra\n[Dha Dhi Na | Dha Ti Na ||\n")


def test_several_compositions_per_file_with_comments(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("# my riyaz\n" + KAIDA + "\n\ntala: rupak  # starts on khali\nTin Tin Na | Dhi Na | Dhi Na ||\n")
    first, second = read_file(path)
    assert first.problems == second.problems == [] and second.line == 10
    assert [c.tala for c in compositions_in_file(path)] == ["teentaal", "rupak"]


def test_bad_files_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n# nothing\n")
    with pytest.raises(TunesmithError, match=r"empty.txt: no tabla compositions found; a composition is a .tala:. line"):
        read_file(empty)
    bad = tmp_path / "bad.txt"
    bad.write_text(KAIDA.replace("Tin Na", "Tin"))
    with pytest.raises(TunesmithError, match=r"bad.txt:5:1: cycle 1: cycle 1 has 15 matras"):
        compositions_in_file(bad)


def test_primer_fragments_must_fit_the_tala():
    tala = TALAS["teentaal"]
    assert len(parse_matras("Dha Dhin Dhin Dha | Dha", tala, "--primer")) == 5
    with pytest.raises(TunesmithError, match="'|' after matra 3"):
        parse_matras("Dha Dhin Dhin | Dha", tala, "--primer")
    with pytest.raises(TunesmithError, match="did you mean 'Dhin'"):
        parse_matras("Dha Dhinn", tala, "--primer")


def test_stroke_times_divide_each_matra():
    tala = TALAS["dadra"]
    played = hits([("Dha",), ("Dha", "Tirakita"), ("-",), ("Dhage",), ("Ti",), ("Na",), ("Dha",)], tala)
    assert [(h.start, h.bol, h.accent) for h in played] == [
        (0, "Dha", 2), (1, "Dha", 0), (Fraction(3, 2), "Ti", 0), (Fraction(13, 8), "Ra", 0),
        (Fraction(7, 4), "Ki", 0), (Fraction(15, 8), "Ta", 0), (3, "Dha", 1), (Fraction(7, 2), "Ge", 0),
        (4, "Ti", 0), (5, "Na", 0), (6, "Dha", 2)]
    assert played[0].strokes == ("Na", "Ge")
