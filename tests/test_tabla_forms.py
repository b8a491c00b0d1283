"""Tabla forms: the plans the writer follows, reading a form back, and every generated composition in its form."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tunesmith.checkpoint import load_checkpoint
from tunesmith.corpus.tabla import load_bundled
from tunesmith.errors import TunesmithError
from tunesmith.modes import GenerateRequest
from tunesmith.modes.tabla import TablaOptions
from tunesmith.modes.tabla.forms import read_form
from tunesmith.modes.tabla.plans import FORMS, half, make_plan, strokes_of, variation_sizes
from tunesmith.modes.tabla.writer import generate_compositions
from tunesmith.music.tabla import CORPUS_TALAS, TALAS, has_bayan_open_matra, read_text, theka
from tunesmith.options import Sampling

torch.set_num_threads(1)
MODEL = Path(__file__).resolve().parents[1] / "models" / "tabla"
SEEDS = (11, 12)   # the seeds these tests use; docs/tabla.md measures on others


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(MODEL)


@pytest.mark.parametrize("tala", TALAS)
@pytest.mark.parametrize("form", FORMS)
def test_a_plan_fills_the_cycles_asked_exactly_or_is_refused(tala, form):
    t = TALAS[tala]
    for cycles in (1, 2, 3, 4, 7):
        plan = make_plan(form, t, cycles, random.Random(cycles))
        if plan is not None:
            assert plan.cycles == cycles and len(plan.slots) == cycles * t.matras + 1
            assert all(s.source < i for i, s in enumerate(plan.slots) if s.kind == "copy")   # copies look back
    own = make_plan(form, t, None, random.Random(0))
    assert own is not None and len(own.slots) == own.cycles * t.matras + 1


def test_without_cycles_each_form_is_as_long_as_the_corpus_makes_it():
    teentaal, rupak = TALAS["teentaal"], TALAS["rupak"]
    assert make_plan("theka", teentaal, None, random.Random(0)).cycles == 1
    assert {make_plan("tihai", teentaal, None, random.Random(s)).cycles for s in range(40)} == {1, 2}
    assert make_plan("kaida", teentaal, None, random.Random(0)).cycles == 3   # theme, variation, closing tihai
    assert make_plan("kaida", rupak, None, random.Random(0)).cycles == 6      # rupak's theme is two cycles
    assert make_plan("kaida", rupak, 1, random.Random(0)) is None             # ... so one cannot hold it
    assert make_plan("tukda", TALAS["dadra"], 1, random.Random(0)) is None
    assert [variation_sizes(n) for n in range(6)] == [[], [1], [2], [3], [2, 2], [3, 2]]


def test_every_corpus_composition_reads_as_in_its_form():
    wrong = [(c.title, read_form(c).why) for c in load_bundled("tabla") if not read_form(c).in_form]
    assert wrong == []


def _one(text: str):
    [reading] = read_text(text)
    assert reading.problems == []
    return reading.composition


def test_a_form_that_does_not_hold_is_read_as_out_of_its_form():
    text = "tala: keherwa\nform: tihai\nDha Ge Na Dha | Ge Na Dha - ||\nDha Ge Na Dha | - Dha Ge Na ||\nDha\n"
    reading = read_form(_one(text))      # theka's first three bols, then (Dha Ge Na Dha) - (...) - (...) onto sam
    assert reading.in_form and [(s.name, s.start, s.end) for s in reading.sections] == [
        ("theka", 0, 3), ("phrase 1", 3, 7), ("gap", 7, 8), ("phrase 2", 8, 12), ("gap", 12, 13), ("phrase 3", 13, 17)]
    assert not read_form(_one(text.replace("Dha Ge Na Dha | -", "Dha Ka Na Dha | -"))).in_form   # phrase 2 differs
    assert not read_form(_one(text.replace("Dha Ge Na Dha | Ge", "Dha Ge Dha Dha | Ge"))).in_form  # no theka before
    assert read_form(_one(text.replace("tihai", "tukda"))).in_form is False                  # a tukda needs a body
    kaida = _one("tala: teentaal\nform: kaida\nDha Dha Ti Ta | Dha Dha Tin Na | Ta Ta Ti Ta | Dha Dha Dhin Na ||\nDha\n")
    assert read_form(kaida).in_form
    assert not read_form(replace(kaida, cycles=(kaida.cycles[0][:8] * 2,))).in_form   # no khali half
    assert not read_form(replace(kaida, form="theka")).in_form


@pytest.mark.parametrize("tala", CORPUS_TALAS)   # the shipped model's talas; it refuses the others
@pytest.mark.parametrize("form", FORMS)
def test_every_generated_composition_is_in_its_form_and_lands_on_sam(model, tala, form):
    t = TALAS[tala]
    for cycles, seed in ((None, SEEDS[0]), (4, SEEDS[1])):
        request = GenerateRequest(n=6, seed=seed, options=TablaOptions(tala, cycles=cycles), primer=f"form: {form}\n",
                                  sampling=Sampling(top_p=1.0))
        for comp in generate_compositions(model, request):
            assert _one(comp.file_text()) == replace(comp, number=1, line=1)   # it reads back as written
            reading = read_form(comp)
            assert comp.form == form and reading.in_form, (reading.why, comp.text)
            assert cycles is None or len(comp.cycles) == cycles
            assert has_bayan_open_matra(comp.landing) or comp.landing == theka(t)[0]
            if form in ("kaida", "rela"):
                names = [s.name for s in reading.sections]
                assert names[0] == "theme" and (len(comp.cycles) * t.matras == 2 * half(t) or "tihai phrase 3" in names)
                theme = strokes_of(comp.matras()[:2 * half(t)])
                assert all(strokes_of(comp.matras()[s.start:(s.start + s.end) // 2]) <= theme   # bhari halves
                           for s in reading.sections if s.name.startswith("variation"))
                if tala != "deepchandi":   # the one tala whose theka has silent matras
                    gaps = sum(s.end - s.start for s in reading.sections if s.name == "gap")
                    assert sum(m == ("-",) for m in comp.matras()) == gaps   # silence only in the tihai's gaps


def test_the_model_chooses_only_forms_that_fit_and_open_with_the_primer(model):
    comps = generate_compositions(model, GenerateRequest(n=12, seed=SEEDS[0], options=TablaOptions("rupak", cycles=1),
                                                         sampling=Sampling(top_p=1.0)))
    assert {c.form for c in comps} <= {"tihai", "theka"} and all(read_form(c).in_form for c in comps)
    comps = generate_compositions(model, GenerateRequest(n=8, seed=SEEDS[1], options=TablaOptions("teentaal", cycles=2),
                                                         primer="theka"))
    assert all(c.form in ("theka", "tihai", "tukda") and read_form(c).in_form for c in comps)
    assert all(list(c.cycles[0]) == theka("teentaal") for c in comps)


@pytest.mark.parametrize("tala, cycles, primer, message", [
    ("rupak", 1, "form: kaida\n", "a kaida in 1 cycles of rupak: it cannot fill them (forms that fit 1 cycles: theka, tihai"),
    ("dadra", 1, "form: tukda\n", "a tukda in 1 cycles of dadra: it cannot fill them"),
    ("teentaal", 2, "form: kaida\ntheka", "a kaida in 2 cycles of teentaal: --primer does not open it"),
])
def test_a_form_that_cannot_be_written_is_a_clear_error(model, tala, cycles, primer, message):
    with pytest.raises(TunesmithError, match=message.replace("(", r"\(")):
        generate_compositions(model, GenerateRequest(n=1, options=TablaOptions(tala, cycles=cycles), primer=primer))


def test_the_web_grid_bands_each_matra_by_its_part_of_the_form():
    from tunesmith.web.tabla import grid

    kaida = next(c for c in load_bundled("tabla") if c.form == "kaida" and c.tala == "teentaal" and len(c.cycles) == 2)
    g = grid(kaida)
    assert g["in_form"] and [s["name"] for s in g["sections"]] == ["theme"]          # a corpus palta: one pair
    made = generate_compositions(load_checkpoint(MODEL), GenerateRequest(n=1, seed=SEEDS[0], primer="form: tihai\n",
                                                                         options=TablaOptions("teentaal", cycles=2)))
    g = grid(made[0])
    parts = [p for cycle in g["cycles"] for v in cycle for p in v["parts"]]
    assert parts[0] == "theka" and g["landing_part"] == "phrase 3"
    assert [s["name"] for s in g["sections"]][-3:] == ["phrase 1", "phrase 2", "phrase 3"]
