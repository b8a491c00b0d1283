"""The map from the notes of the engraved SVG to the characters of the ABC text, on real tunes.

The map aligns the two on pitch (render/notemap.py). What checks it here is
something the alignment does not use: the duration verovio gave each drawn
note (read from its own MEI, by the element's id) against the length written
in the text, and the characters at each note's offsets.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import verovio

from tunesmith.corpus.bundled import load_bundled
from tunesmith.music.abc.lexer import length
from tunesmith.music.abc.positions import bar_line_after, body_offset, note_at, placed, text_notes
from tunesmith.render import render_svg
from tunesmith.render.notemap import note_map, score_notes
from tunesmith.render.sheet import DEFAULT_WIDTH, engravable
from tunesmith.render.sheet_worker import OPTIONS

JIG = "X:1\nT:Test\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|fdf ecA|d3 d2:|\n"


@pytest.fixture(scope="module")
def folk():
    return load_bundled("folk")


@pytest.fixture(scope="module")
def engraver():
    """Verovio in this process, set as the sheet worker sets it: ids from the tune's checksum, so that
    an element of `render_svg`'s SVG has the same id here, where its MEI attributes can be asked."""
    verovio.enableLog(verovio.LOG_OFF)
    toolkit = verovio.toolkit()
    toolkit.setOptions({**OPTIONS, "pageWidth": DEFAULT_WIDTH})
    return toolkit


def unit_note(abc: str) -> Fraction:
    line = next(line for line in abc.split("\n") if line.startswith("L:"))
    return Fraction(line[2:].strip())


def plain_notes(abc: str) -> dict[int, Fraction]:
    """Offset -> written duration (in whole notes) of each note whose drawn duration is just its written
    one: not in a chord, grace group or tuplet, not half of a broken-rhythm pair."""
    unit, out = unit_note(abc), {}
    toks = placed(abc)
    skip: set[int] = set()
    in_chord = in_grace = False
    tuplet_left = 0
    for i, (offset, tok) in enumerate(toks):
        kind = tok.kind
        if kind in ("chord_open", "chord_close"):
            in_chord = kind == "chord_open"
        elif kind in ("grace_open", "grace_close"):
            in_grace = kind == "grace_open"
        elif kind == "tuplet":
            tuplet_left = int(tok.text[1:].split(":")[0])
        elif kind == "broken":  # the notes either side of `>`
            before = [o for o, t in toks[:i] if t.kind == "note"][-1:]
            after = [o for o, t in toks[i + 1:] if t.kind == "note"][:1]
            skip.update(before + after)
        elif kind == "note":
            if in_chord or in_grace or tuplet_left:
                skip.add(offset)
            else:
                pitch_end = len(tok.text.rstrip("0123456789/"))
                out[offset] = length(tok.text[pitch_end:]) * unit
            if tuplet_left and not in_grace:
                tuplet_left -= 1
    return {k: v for k, v in out.items() if k not in skip}


def drawn_duration(toolkit, element_id: str) -> Fraction:
    attrs = toolkit.getElementAttr(element_id)
    value = Fraction(1, int(attrs["dur"]))
    return value * (2 - Fraction(1, 2 ** int(attrs.get("dots", 0))))


def test_text_notes_are_the_characters_of_each_note_and_rest():
    notes = text_notes(JIG)
    assert [n.text for n in notes] == list("Adfedc") + ["B"] + list("AFA") + ["d2", "e"] + list("fdfecA") + ["d3", "d2"]
    for n in notes:
        assert JIG[n.start:n.end] == n.text
    assert notes[0].pitch == ("a", 4) and notes[1].pitch == ("d", 5)  # A below middle C's octave: MEI octave 4
    tune = "X:1\nT:T\nM:4/4\nL:1/8\nK:G\n{ag}[CEG]2 z2 x2 ^c'3/2 _B,/ Z|\n"
    assert [(n.text, n.pitch) for n in text_notes(tune)] == [
        ("a", ("a", 5)), ("g", ("g", 5)), ("C", ("c", 4)), ("E", ("e", 4)), ("G", ("g", 4)), ("z2", None),
        ("^c'3/2", ("c", 6)), ("_B,/", ("b", 3))]  # `x` (invisible) and `Z` (a measure rest) are not drawn notes
    assert body_offset(tune) == tune.index("{")
    assert note_at(tune, tune.index("^")).text == "^c'3/2" and note_at(tune, tune.index("^") + 1) is None
    assert bar_line_after(JIG, JIG.index("dfe")) == JIG.index("|AFA")


def test_every_note_of_real_tunes_is_mapped_to_its_own_characters(folk, engraver):
    """The first 40 folk tunes: every note and rest of the text is tied to one drawn element, in order,
    and verovio's duration for that element is the written one wherever nothing else (a tuplet,
    a broken rhythm, a chord) changes it."""
    checked = 0
    for tune in folk[:40]:
        abc = tune.text
        svg = render_svg(abc)
        links = note_map(abc, svg)
        written = text_notes(abc)
        assert [link.note for link in links] == written, tune.title
        assert len({link.id for link in links}) == len(links) == len(score_notes(svg))
        assert engraver.loadData(engravable(abc))
        durations = plain_notes(abc)
        for link in links:
            assert abc[link.note.start:link.note.end] == link.note.text
            if link.note.start in durations:
                assert drawn_duration(engraver, link.id) == durations[link.note.start], (tune.title, link.note)
                checked += 1
            if link.note.pitch is not None:  # the pitch verovio gave the element, from its MEI
                attrs = engraver.getElementAttr(link.id)
                assert (attrs["pname"], int(attrs["oct"])) == link.note.pitch
    assert checked > 2000


def test_notes_verovio_draws_otherwise_are_left_out_not_mismatched(folk, engraver):
    """Two folk tunes verovio reads differently from the text: an old `+E3A3+` chord it draws as more
    notes than written, and a `::` repeat after which it drops the tune's second part."""
    chords = next(t.text for t in folk if t.title == "Doherty's Fancy")
    svg = render_svg(chords)
    links = note_map(chords, svg)
    assert len(score_notes(svg)) > len(text_notes(chords)) == len(links)  # the extra drawn notes stay unmapped
    assert engraver.loadData(engravable(chords))
    durations = plain_notes(chords)
    assert all(drawn_duration(engraver, link.id) == durations[link.note.start]
               for link in links if link.note.start in durations)

    dropped = next(t.text for t in folk if t.title == "SKIN THE PEELER -- JIG")
    links = note_map(dropped, render_svg(dropped))
    repeat = dropped.index("::")
    assert links and all(link.note.start < repeat for link in links)
    assert len(links) == sum(n.start < repeat for n in text_notes(dropped))


def test_an_svg_without_pitches_maps_nothing():
    svg = render_svg(JIG).replace("data-pname", "data-other")
    assert score_notes(svg) and note_map(JIG, svg) == []
