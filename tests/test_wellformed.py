"""Well-formed generation: the ABC automaton, its masks, and the tunes it lets a model write."""

from __future__ import annotations

import random
import re
import subprocess
import sys

import pytest

from tunesmith.checkpoint import load_checkpoint
from tunesmith.checkpoint import DEFAULT_MODEL
from tunesmith.codecs import CharCodec, TokenCodec
from tunesmith.modes.abc.masks import MaskCache
from tunesmith.corpus.bundled import load_bundled
from tunesmith.modes.abc.writer import generate_tunes
from tunesmith.insight.abc2midi import judge
from tunesmith.music.abc.check import check_tune
from tunesmith.music.abc.wellformed import can_end, closed, feed_text, initial_state, may_end_now
from tunesmith.modes.abc import Style
from tunesmith.options import Sampling

JIG_HEAD = "X:1\nT:Test\nM:6/8\nL:1/8\nK:D\n"


def run(body: str, head: str = JIG_HEAD):
    """The automaton's state after `body`, or None where it refused a character."""
    return feed_text(initial_state(head), body)


def test_a_whole_jig_is_accepted_and_may_end():
    body = "A|:dfa afd|gbg fed|cde fga|1 gfe d2A:|2 gfe d3||\n"
    state = run(body)
    assert state is not None and can_end(state)
    assert run(body + "\n").ctx == "end"


@pytest.mark.parametrize("body, why", [
    ("def gfe d2|", "a bar of 5/8 in 6/8 after the first"),
    ("def gfe|def g4", "a note longer than what is left of the bar"),
    ("def gfe|d>e2", "a broken rhythm between notes of unequal length"),
    ("def gfe|d3-e", "a tie to another pitch"),
    ("def gfe|[df|", "a chord left open at a bar line"),
    ("def gfe|\"Am\n", "a chord symbol left open at a newline"),
    ("def gfe|(3de|", "a tuplet with notes missing at a bar line"),
    ("def gfe|:dfa afd|:d", "a repeat opened twice"),
    ("|:def gfe|dfa d3-:|", "a tie across a repeat line"),
    ("def gfe|dfa d3-||", "a tie across a double bar"),
    ("def gfe|dfa d2 d-\n", "a line ending right after a tie"),
    ("def gfe|dfa afd|\n|\n|", "a third bar line running: a line of bare bar lines"),
    ("def gfe|dfa (|", "a slur opened before a bar line"),
    ("def gfe|dfa (\n", "a slur opened at a line end"),
    ("def gfe|{g}~d", "a roll after grace notes (abc2midi: intervening note needed between grace notes)"),
    ("def gfe|~[df", "a rolled chord (abc2midi: rolls and trills not supported in chords)"),
    ("def gfe|~.[df", "a rolled chord, another mark between"),
])
def test_malformed_continuations_are_refused(body, why):
    assert run(body) is None, why


def test_what_the_corpus_does_with_ties_and_bar_lines_stays_allowed():
    assert run("def gfe|dfa d3-|d3 fed|") is not None          # a tie across a plain bar line
    assert run("def gfe|dfa afd|\n|dfa afd|") is not None     # a line-start bar after a line-end bar
    assert run("def gfe|dfa afd:|\n|:dfa afd|") is not None
    assert run("def gfe|(df)a (3def|") is not None


def test_the_tune_may_not_end_with_a_repeat_or_first_ending_open():
    assert can_end(run("|:dfa afd|gbg fed:|\n"))
    assert not can_end(run("|:dfa afd|gbg fed|\n"))          # `|:` never closed
    assert not can_end(run("dfa afd|1 gbg fed:|\n"))         # waiting for the second ending
    assert not can_end(run("dfa afd|gbg f2\n"))              # no bar line after the last bar


def test_a_pickup_pairs_with_the_last_bar_of_its_section():
    assert can_end(run("A|dfa afd|gbg fe:|\n"))              # 1/8 pickup + 5/8 = one bar
    assert not can_end(run("A|dfa afd|gbg f:|\n"))           # 1/8 + 4/8: not a bar
    # A section's own pickup, after `|:`, counts for the section's last bar.
    assert can_end(run("dfa afd|gbg fe:|\n|:A|dfa afd|gbg fe:|\n"))


def walk(cache: MaskCache, head: str, rng: random.Random, steps: int = 800):
    """A random walk through what the masks allow; returns the text when the tune ended."""
    state, text = initial_state(head), ""
    newline = cache.symbols.index("\n")
    for step in range(steps):
        if step > steps // 3:
            state = closed(state)  # as the sampler does with a long tune
        mask = cache.mask(state)
        allowed = [i for i, ok in enumerate(mask) if ok]
        assert allowed, f"dead end after {text[-60:]!r}"
        if state.closing and (may_end_now(state) or (mask[newline] and state.linestart)):
            choice = newline  # end the tune as soon as it may
        else:
            weights = [6 if cache.symbols[i].strip("'^_=,") in list("ABCDEFGabcdefg|") else 1 for i in allowed]
            choice = rng.choices(allowed, weights)[0]
        text += cache.symbols[choice]
        state = cache.next(state, choice)
        if state.ctx == "end":
            return head + text
    return None


def test_a_states_mask_is_what_its_own_characters_allow():
    """Masks are shared by states with one mask_key, and by note letters alike: check that premise.

    For every state of random walks (both codecs), the shared mask must
    say of every symbol exactly what feeding that symbol to the state
    itself says.
    """
    for codec_class in (CharCodec, TokenCodec):
        codec = codec_class.fit([t.text for t in load_bundled("jigs")[:300]])
        cache, rng = MaskCache(codec), random.Random(11)
        for k in range(12):
            walk(cache, "X:1\nT:Walk\n" + HEADS[k % len(HEADS)], rng, steps=300)
        states = list(cache.nodes)
        assert len(states) > 500
        for state in states:
            own = [feed_text(state, sym) is not None for sym in cache.symbols]
            assert list(cache.mask(state)) == own, state


HEADS = ["M:6/8\nL:1/8\nK:D\n", "M:3/4\nL:1/8\nK:G\n", "M:C|\nK:Ador\n", "M:2/4\nL:1/16\nK:F\n", "M:9/8\nL:1/8\nK:Em\n"]


@pytest.mark.parametrize("codec_class", [CharCodec, TokenCodec])
def test_random_walks_never_dead_end_and_every_finished_tune_checks_clean(codec_class):
    codec = codec_class.fit([t.text for t in load_bundled("jigs")[:300]])
    cache, rng, finished = MaskCache(codec), random.Random(7), 0
    for k in range(40):
        text = walk(cache, "X:1\nT:Walk\n" + HEADS[k % len(HEADS)], rng)
        if text is not None:
            finished += 1
            tune = text.rstrip("\n") + "\n"
            assert check_tune(tune) == [], tune
    assert finished >= 32  # a walk ends once it closes up, as the sampler makes a long tune do


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_MODEL)


def test_shipped_model_tunes_are_well_formed_by_our_checker_and_abc2midi(shipped):
    """Every tune passes our checker and abc2midi finds no error; abc2midi's bar-length warnings are allowed in one
    tune of the 24 at most: where a short bar is carried over several repeat and section lines in a row, abc2midi
    counts bars otherwise than our checker (the known case below; 1-2 % of tunes in docs/abc.md)."""
    tunes = generate_tunes(shipped, 24, seed=5)
    warned = 0
    for tune in tunes:
        assert check_tune(tune) == [], tune
        verdict = judge(tune)
        assert verdict.ok, (verdict, tune)
        warned += bool(verdict.bar_warnings)
    assert warned <= 1


CARRIED_TWICE = """X:3
T:The Humors of June
M:C
L:1/8
K:G
G | G>ABc dedc | B>GAG B2 c>A | GAGE DGGE | CDEF G3 D |
G>ABG dGAB | =c>d e/c/d/e/ de dB | dg gd/B/ AG AG | BGAF G2 ||
(D>E) | GAGE DGGE | D>G AG || G>A BA/G/ | AF DD |: D2 de |
f/e/f/g/ fe/d/ cG FA | G3/2E/2 d>B ce dc/A/ | BGAF G2 G2 | GB de/f/ g3 g/2a/2 |
b>gag fd dg/2a/2 |
b>gag fd dg/2a/2 |
b>gag fd dg/2a/2 | g>d d/c/B/2c/2 dB G2 | GB de/f/ g3 g/2a/2 |
bg ag/2f/2 ec BG/2A/2 | G>A BA/G/ DG G2 | GB (d/2e/2f/2d/2) cAFA | G3 G G2 :|
z2 | f/2-f/2(d/2c/2 d/2e/2f/2g/2) dc dG | F/2-F/2 D/2D/2 (D/2E/2 d/2-d/2)(c/2A/2 d)(c/2A/2) || B :|
d |:g f> d(f/2a/2 gf g/2a/2 |
g2 fg/2a/2 bg g2 |\\
b2 gg b/g/4a/4g/4f/2 b/2a/2g/2) d/2c/4 | BB/2c/2d>fg2g2:|
"""


@pytest.mark.xfail(strict=True, reason="a short bar carried over `||`, then `:|` and `|:` running: abc2midi counts "
                                       "the last bar one eighth long where our checker and the automaton find it full")
def test_a_bar_carried_over_several_repeat_lines_in_a_row_is_read_as_abc2midi_reads_it():
    assert check_tune(CARRIED_TWICE) == []
    assert not judge(CARRIED_TWICE).bar_warnings, judge(CARRIED_TWICE)


def test_free_sampling_is_what_the_constraints_fix(shipped):
    free = generate_tunes(shipped, 24, seed=5, free=True)
    assert sum(bool(check_tune(t)) for t in free) >= 1  # free sampling does break bars
    assert generate_tunes(shipped, 3, seed=5) == generate_tunes(shipped, 3, seed=5)  # and the same seed, the same tunes


def test_styles_and_primers_stay_well_formed(shipped):
    tunes = generate_tunes(shipped, 8, seed=2, style=Style(meter="3/4", key="G", rhythm="waltz"))
    tunes += generate_tunes(shipped, 8, seed=2, style=Style(meter="6/8"), primer="|:dfa afd|")
    for tune in tunes:
        assert check_tune(tune) == [], tune


def test_a_hot_model_still_writes_a_header_of_fields_ending_in_k(shipped):
    """At temperature 1.3 without top-p the model once began the music with no K: line, unconstrained."""
    tunes = generate_tunes(shipped, 40, seed=9, sampling=Sampling(temperature=1.3, top_p=None))
    for tune in tunes:
        head = tune.split("\nK:")[0].split("\n")
        assert "\nK:" in tune and all(re.match(r"[A-Z]:", line) for line in head), tune
        assert check_tune(tune) == [], tune


def test_cli_free_flag(tmp_path):
    out = tmp_path / "free.abc"
    done = subprocess.run([sys.executable, "-m", "tunesmith.cli", "generate", "-n", "2", "--seed", "1", "--free",
                           "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert out.read_text().count("X:") == 2


def test_a_primer_no_well_formed_tune_starts_with_is_refused(tmp_path):
    out = tmp_path / "x.abc"
    done = subprocess.run([sys.executable, "-m", "tunesmith.cli", "generate", "-n", "1", "--meter", "6/8",
                           "--primer", "|:dfa afd|g2|", "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 2 and "--primer" in done.stderr and "--free" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()
    # --free samples it anyway
    free = subprocess.run([sys.executable, "-m", "tunesmith.cli", "generate", "-n", "1", "--meter", "6/8", "--free",
                           "--primer", "|:dfa afd|g2|", "-o", str(out)], capture_output=True, text=True)
    assert free.returncode == 0 and "|:dfa afd|g2|" in out.read_text()


def test_no_double_repeat_after_a_close_without_an_open():
    # abc2midi: "found :: before |:" once a `:|` has closed the repeat from the start (seed 5, tune 19, once)
    start = initial_state("M:2/4\nL:1/8")
    assert feed_text(start, "A4|B4:|c4|d4::") is None
    assert feed_text(start, "A4|B4::c4|d4:|") is not None
    assert feed_text(start, "A4|B4:|c4|d4|:e4") is not None
    tune = "X:1\nT:t\nM:2/4\nL:1/8\nK:D\nA4|B4:|c4|d4::e4|f4:|\n"
    assert [p.message.split(" (")[0] for p in check_tune(tune)] == [":: after :| with no |: to repeat from"]


def test_a_tune_of_rests_alone_may_not_end():
    """`check` refuses a tune with no note ("no music after the K: line"): the automaton must not end one."""
    header = "M:4/4\nL:1/4\n"
    rests = feed_text(initial_state(header), "z4|z4|\n")
    assert rests is not None and not can_end(rests)
    assert can_end(feed_text(initial_state(header), "z4|c4|\n"))
    assert can_end(feed_text(initial_state(header), "z2[ce]2|\n"))
