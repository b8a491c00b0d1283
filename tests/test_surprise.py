"""The surprise map with the shipped model: each note's bits and alternatives, the painted score,
`visualize --surprise`, and fitting a rewritten bar back into its tune (modes/abc/reprime.py)."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import tunesmith
from tunesmith.checkpoint import DEFAULT_MODEL, SHIPPED_MODELS, load_checkpoint
from tunesmith.corpus.bundled import load_bundled
from tunesmith.errors import TunesmithError
from tunesmith.insight.surprise import SCALE_BITS, TOP, note_surprises, surprise_colour, surprise_map
from tunesmith.models.copy import Matcher
from tunesmith.modes.abc.reprime import check_alternative, primer_at, reach, reads_as_far, rest_of_bar
from tunesmith.music.abc.positions import body_offset, text_notes
from tunesmith.music.abc.wellformed import feed_text, initial_state
from tunesmith.render import render_svg
from tunesmith.render.notemap import NoteLink

torch.set_num_threads(1)
JIG = "X:3\nT:Test\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|fdf ecA|d3 d2:|\n"


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def jig_map(shipped):
    return surprise_map(shipped, JIG, render_svg(JIG))


def sampled_distribution(ckpt, text: str, k: int) -> np.ndarray:
    """What sampling draws character k of `text` from, worked out from scratch: a forward pass of the
    network over the text before it (after the two newlines every piece follows), its softmax, mixed
    with the copy model as generate.py mixes it (the match over the piece's own earlier characters)."""
    codec = ckpt.codec
    with torch.inference_mode():
        logits, _ = ckpt.model(torch.tensor([codec.encode("\n\n" + text[:k])]))
    p = torch.softmax(logits[0, -1].double(), -1).numpy()
    if ckpt.copy is not None:
        matcher = Matcher(ckpt.copy.min_match)
        for symbol in codec.encode(text[:k]):
            matcher.push(symbol)
        predicted, length = matcher.prediction
        weight = ckpt.copy.weight(length)
        p = (1 - weight) * p + weight * (np.arange(len(p)) == predicted)
    return p


def test_a_notes_bits_are_what_the_model_gives_its_characters(shipped, jig_map):
    assert shipped.copy is not None  # the shipped model samples with its copy model: so is the surprise read
    assert len(jig_map.notes) == len(text_notes(JIG)) and jig_map.unmapped == 0
    for n in jig_map.notes[::3]:
        ps = [sampled_distribution(shipped, JIG, k)[shipped.codec.index[JIG[k]]]
              for k in range(n.note.start, n.note.end)]
        assert n.bits == pytest.approx(-sum(math.log2(p) for p in ps), abs=1e-3), n.note
        assert n.p == pytest.approx(ps[0], rel=1e-4) and n.written == JIG[n.note.start]


def test_the_copy_model_counts_where_a_tune_repeats_itself(shipped):
    """The second half repeats the first: there the match predicts each next character, and the notes
    cost far fewer bits than the network alone gives them (as sampling draws them)."""
    tune = "X:1\nT:Twice\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|dfe dcB|AFA d2:|\n"
    links = [NoteLink(str(i), n) for i, n in enumerate(text_notes(tune))]
    mixed = note_surprises(shipped, tune, links)
    alone = note_surprises(replace(shipped, meta={k: v for k, v in shipped.meta.items() if k != "copy"}), tune, links)
    again = tune.index("dfe", tune.index("d2e"))
    first = [(m.bits, a.bits) for m, a in zip(mixed, alone) if m.note.start < tune.index("|", tune.index("dcB"))]
    assert first and all(m == pytest.approx(a) for m, a in first)  # nothing before has been seen twice
    repeated = [(m, a) for m, a in zip(mixed, alone) if m.note.start > again + 5]
    assert sum(m.bits for m, _ in repeated) < 0.6 * sum(a.bits for _, a in repeated)
    for m, _ in repeated[::2]:
        p = sampled_distribution(shipped, tune, m.note.start)[shipped.codec.index[m.written]]
        assert m.p == pytest.approx(p, rel=1e-4)


def test_alternatives_are_the_likeliest_well_formed_other_symbols(shipped, jig_map):
    assert reach(JIG) == (0, True)  # the tune is well-formed throughout, so every note's alternatives are checked
    vocab, body = shipped.codec.vocab, body_offset(JIG)
    for n in jig_map.notes:
        assert n.checked and 1 <= len(n.alternatives) <= TOP
        ps = [g.p for g in n.alternatives]
        assert ps == sorted(ps, reverse=True) and n.written not in [g.symbol for g in n.alternatives]
        state = feed_text(initial_state(JIG[:body]), JIG[body:n.note.start])
        allowed = [s for s in vocab if s != n.written and feed_text(state, s) is not None]
        assert all(g.symbol in allowed for g in n.alternatives)
        probs = sampled_distribution(shipped, JIG, n.note.start)
        best = sorted(allowed, key=lambda s: -probs[shipped.codec.index[s]])[:TOP]
        assert [g.symbol for g in n.alternatives] == best


def test_an_ill_formed_prefix_gives_unchecked_alternatives(shipped):
    tune = JIG.replace("AFA d2e", "AFA d2e2")  # a bar too long: nothing after it is well-formed
    found = surprise_map(shipped, tune, render_svg(tune))
    late = tune.index("fdf")
    assert all(n.checked == (n.note.start <= tune.index("e2")) for n in found.notes)
    assert all(len(n.alternatives) == TOP for n in found.notes if n.note.start >= late)


def test_the_painted_score_colours_each_note_and_has_a_legend(jig_map):
    svg = jig_map.svg
    painted = re.findall(r'<g id="([^"]+)" class="(?:note|rest) surprise"[^>]* fill="([^"]+)" color="\2" '
                         r'data-bits="([\d.]+)" data-start="(\d+)" data-end="(\d+)"><title>([^<]*)</title>', svg)
    assert len(painted) == len(jig_map.notes)
    by_id = {n.id: n for n in jig_map.notes}
    for element_id, fill, bits, start, end, title in painted:
        n = by_id[element_id]
        assert fill == surprise_colour(n.bits) and float(bits) == pytest.approx(n.bits, abs=1e-4)
        assert (int(start), int(end)) == (n.note.start, n.note.end) and f"{n.bits:.1f} bits" in title
    assert 'class="surprise-legend"' in svg and f"{SCALE_BITS:g}+ bits" in svg
    plain_height = float(re.search(r'viewBox="0 0 [\d.]+ ([\d.]+)"', render_svg(JIG)).group(1))
    assert float(re.search(r'viewBox="0 0 [\d.]+ ([\d.]+)"', svg).group(1)) == plain_height + 44


def test_the_colour_runs_from_blue_to_red():
    reds = [int(surprise_colour(b)[4:].split(",")[0]) for b in np.linspace(0, SCALE_BITS, 8)]
    assert reds == sorted(reds) and surprise_colour(0) == "rgb(40,90,210)"
    assert surprise_colour(SCALE_BITS) == surprise_colour(3 * SCALE_BITS) == "rgb(200,20,20)"


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    """The CLI run in `cwd` (where a relative output lands), on this checkout's package."""
    src = str(Path(tunesmith.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "tunesmith.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


def test_visualize_writes_the_surprise_map_as_svg(tmp_path):
    (tmp_path / "jig.abc").write_text(JIG)
    run = _cli("visualize", "--text", "jig.abc", "--surprise", "jig.svg", "--threads", "1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    svg = (tmp_path / "jig.svg").read_text()
    assert svg.count(" surprise\"") == len(text_notes(JIG)) and "surprise-legend" in svg
    assert "wrote jig.svg: 20 notes" in run.stderr and "bits per note" in run.stderr
    assert not (tmp_path / "viz.html").exists()  # only what was asked for
    # The same seed, the same file, byte for byte (verovio's ids come from the tune's checksum).
    for name in ("a.svg", "b.svg"):
        run = _cli("visualize", "--generate", "--seed", "8", "--surprise", name, "--threads", "1", cwd=tmp_path)
        assert run.returncode == 0, run.stderr
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_visualize_surprise_refuses_a_model_of_another_mode_and_a_tune_without_a_score(tmp_path):
    (tmp_path / "jig.abc").write_text(JIG)
    run = _cli("visualize", "--text", "jig.abc", "--surprise", "x.svg", "--model", str(SHIPPED_MODELS / "midi"),
               cwd=tmp_path)
    assert run.returncode == 2 and "--surprise" in run.stderr and "Traceback" not in run.stderr
    # A folk tune verovio crashes on (in its worker process): no score, so no map, and one message.
    crashes = next(t.text for t in load_bundled("folk") if t.title == "The Battle Hymn of the Republic")
    (tmp_path / "hymn.abc").write_text(crashes)
    run = _cli("visualize", "--text", "hymn.abc", "--surprise", "x.svg", cwd=tmp_path)
    assert run.returncode == 2 and "--surprise x.svg: sheet music: verovio crashed" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "x.svg").exists()


def test_a_primer_stops_at_a_note_and_a_bad_place_is_refused():
    at = JIG.index("dcB")
    assert primer_at(JIG, at, "e") == JIG[:at] + "e"
    with pytest.raises(TunesmithError, match="at 7: no note"):
        primer_at(JIG, 7, "e")
    with pytest.raises(TunesmithError, match="symbol 'B4'"):
        check_alternative(JIG, at, "B4")  # a bar too long
    check_alternative(JIG, at, "e")
    long_bar = JIG.replace("dfe", "dfee")
    with pytest.raises(TunesmithError, match="not well-formed before offset"):
        check_alternative(long_bar, long_bar.index("AFA"), "e")


def test_a_rewritten_bar_is_put_back_only_when_the_tune_stays_whole():
    at = JIG.index("dcB")
    # What the writer gives back: renumbered, the primer's body, then the model's text.
    written = "X:1\nT:Test\nM:6/8\nL:1/8\nK:D\nA|dfe ecA|d2e fdf|ecA d3:|\n"
    new, span = rest_of_bar(JIG, at, "e", written)
    assert new == JIG.replace("dfe dcB|", "dfe ecA|") and new[span[0]:span[1]] == "ecA"
    short = "X:1\nT:Test\nM:6/8\nL:1/8\nK:D\nA|dfe ec|A2e fdf|ecA d3:|\n"
    assert rest_of_bar(JIG, at, "e", short) is None  # a short bar does not fit where a full one was
    assert reads_as_far(JIG, JIG) and not reads_as_far(JIG.replace("d3 d2:|", "d3 d:|"), JIG)
