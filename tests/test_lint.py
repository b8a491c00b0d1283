"""`tunesmith check --lint` and `--form`: idiomatic ABC, judged against the corpus and abc2midi.

Each lint rule is a construct folk tunes do not write; the corpus itself
must (almost) never trip them, abc2midi must agree that the construct is
odd where it has an opinion, and the shipped model's constrained output
must never trip them, even at settings that once produced them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.load import load_corpus
from tunesmith.insight.abc2midi import _run as abc2midi_output
from tunesmith.insight.abc2midi import available
from tunesmith.modes import GenerateRequest, get_mode
from tunesmith.modes.abc import Style
from tunesmith.music.abc.lint import DECORATIONS, RULES, lint_tune
from tunesmith.sampling import Sampling

HEAD = "X:1\nT:Lint\nM:4/4\nL:1/8\nK:D\n"
# One tune per rule; each body's bars are full, so the plain check passes them all.
CASES = {
    "slur-depth": ("(((AB)c) d4 | d8 |", "Slur within slur"),
    "empty-slur": ("() A2 B2 c2 d2 | d8 |", None),
    "slur-before-bar": ("A2 B2 c2 d2 (| d8) |", None),
    "empty-tuplet": ("(3 ) A2 d2 d4 | d8 |", "Different length notes in tuple"),
    "decoration": ("!mordant!A2 B2 c2 d2 | d8 |", "ignored"),
}


def rules_of(text: str) -> list[str]:
    return [p.message[1:].split("]")[0] for p in lint_tune(text)]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunesmith.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_finds_its_construct_and_only_it(rule):
    body, _ = CASES[rule]
    assert rules_of(HEAD + body + "\n") == [rule]


def test_a_clean_tune_has_no_finding():
    tune = HEAD + '|:"D"(3ABA !trill!d2 (de) f2 | ~g2 (fe) {g}d4 :|\n'
    assert lint_tune(tune) == []


def test_findings_name_their_line_and_column():
    found = lint_tune(HEAD + "A2 B2 c2 d2 |\nA2 () B2 c2 d2 |\n", first_line=10)
    assert [(p.line, p.col, p.bar) for p in found] == [(16, 4, 2)]


@pytest.mark.skipif(not available(), reason="abc2midi is installed by `make tools`")
@pytest.mark.parametrize("rule", [r for r, (_, said) in CASES.items() if said])
def test_abc2midi_agrees(rule):
    body, said = CASES[rule]
    assert said in abc2midi_output(HEAD + body + "\n", 20.0)
    assert said not in abc2midi_output(HEAD + "A2 B2 c2 d2 | d8 |\n", 20.0)


def test_the_corpus_almost_never_trips_a_rule():
    corpus = load_corpus(["folk"], None, "abc")
    texts = [t.text for t in corpus.train + corpus.held_out]
    flagged = [t for t in texts if lint_tune(t)]
    assert len(texts) > 4000 and len(flagged) / len(texts) < 0.005  # 12 of 4,399: !Segno!, !sf!, free text


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_MODEL)


@pytest.mark.parametrize("style, sampling", [
    ({}, Sampling(temperature=1.2, top_p=1.0)),
    ({"meter": "3/4", "rhythm": "waltz"}, Sampling(temperature=1.0, top_p=1.0)),
    ({"key": "Ador", "rhythm": "reel", "form": "none"}, Sampling(temperature=1.3, top_p=1.0)),
])
def test_generated_tunes_trip_no_rule(shipped, style, sampling):
    # The settings where junk was worst before the automaton learned the corpus's shapes.
    tunes = get_mode("abc").write(shipped, GenerateRequest(n=12, seed=31, sampling=sampling, options=Style(**style)))
    found = {i: [p.message for p in lint_tune(t)] for i, t in enumerate(tunes)}
    assert not any(found.values()), found


def test_the_automaton_writes_only_known_decorations():
    from tunesmith.music.abc.wellformed import feed_text, initial_state

    start = initial_state("M:4/4\nL:1/8")
    assert feed_text(start, "!trill!A") is not None
    assert feed_text(start, "!mordant!") is None and feed_text(start, "!.g2(BG)!") is None
    assert all(feed_text(start, f"!{name}!A") is not None for name in DECORATIONS)


@pytest.mark.parametrize("text, ok", [
    (".d", True), (".[df]", True), (".z", True), (".~d", True), ("!trill!.d", True),
    (". d", False), (".(d", False), (".!trill!d", False), ('~"D"d', False), (".{g}d", False), (".(3ddd", False),
    ("~[df]", False),  # abc2midi 4.84: "Rolls and trills not supported in chords"
])
def test_a_mark_is_followed_by_what_abc2midi_reads(text, ok):
    # abc2midi 4.84 reads each refused one as a malformed note, but `.(d`, which the automaton refuses
    # itself (no slur or tuplet after a decoration).
    from tunesmith.music.abc.wellformed import feed_text, initial_state

    assert (feed_text(initial_state("M:4/4\nL:1/8"), text) is not None) == ok


@pytest.mark.skipif(not available(), reason="abc2midi is installed by `make tools`")
def test_no_staccato_in_a_hornpipe():
    # abc2midi swings a hornpipe's note pairs and cannot when one carries a staccato dot.
    from tunesmith.music.abc.wellformed import feed_text, initial_state

    head = "X:1\nT:H\nM:2/4\nL:1/16\nR:hornpipe\nK:Bb\n"
    assert "Cannot apply broken rhythm" in abc2midi_output(head + "BABG .FEFG |\n", 20.0)
    assert feed_text(initial_state(head), "BABG .F") is None
    assert feed_text(initial_state(head.replace("R:hornpipe", "R:reel")), "BABG .F") is not None


def test_check_lint_and_form_on_the_command_line(tmp_path):
    path = tmp_path / "tunes.abc"
    path.write_text(HEAD + "|:A2 B2 c2 d2 | d8 :|\n|:f2 e2 d2 c2 | d8 :|\n\n"
                    + HEAD.replace("X:1", "X:2") + "() A2 B2 c2 d2 | d8 |\n")
    plain = cli("check", str(path))
    assert plain.returncode == 0, plain.stderr
    linted = cli("check", "--lint", str(path))
    assert linted.returncode == 1 and f"{path}:14:1: tune X:2 (Lint): [empty-slur]" in linted.stdout
    form = cli("check", "--form", "--json", str(path))
    assert form.returncode == 0
    first, second = json.loads(form.stdout)[str(path)]
    assert first["form"]["parts"] == [[2, True], [2, True]] and first["form"]["ends_on_tonic"]
    assert first["form"]["text"].startswith("AABB, 2+2 bars")
    assert second["form"]["parts"] == [[2, False]]
    refused = cli("check", "--mode", "tabla", "--lint", str(path))
    assert refused.returncode == 2 and "--lint is for mode abc" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.skipif(not available(), reason="abc2midi is installed by `make tools`")
def test_the_judge_sets_aside_abc2midis_own_hornpipe_swing():
    from tunesmith.insight.abc2midi import judge

    head = "X:1\nT:H\nM:2/4\nL:1/16\nR:hornpipe\nK:Bb\n"
    swung = head + "(BA)(BG) .F(EFG) | ABcd .e2(AG) |\n"
    assert "Cannot apply broken rhythm" in abc2midi_output(swung, 20.0)  # abc2midi's swing, from R: alone
    assert "Cannot apply broken rhythm" not in abc2midi_output(swung.replace("R:hornpipe\n", ""), 20.0)
    assert judge(swung).ok and judge(swung).set_aside
    broken = head + "(BA)(BG) .F(EFG) | ABcd .e2(AG) | A2 ^^^ d4 |\n"  # a real error too
    assert not judge(broken).ok
