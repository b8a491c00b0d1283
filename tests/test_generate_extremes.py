"""Generation at the edges of what is accepted: every setting either refused with the option named, or
giving well-formed tunes (issue 14: temperature Infinity gave a "tune" with no K: and no notes).

The command line and the web share these checks (`Sampling.check`, `Style.checked`, the ABC writer).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.errors import TunesmithError
from tunesmith.modes.abc import MODE as ABC
from tunesmith.modes.abc import Style
from tunesmith.modes.abc.masks import mask_cache
from tunesmith.modes.abc.writer import abc_writer, build_plan, generate_tunes
from tunesmith.music.abc.check import check_text
from tunesmith.music.abc.wellformed import feed_text, initial_state
from tunesmith.options import MAX_TEMPERATURE, MAX_TOP_K, Sampling
from tunesmith.sampling import choose


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_MODEL)


def well_formed(tune: str) -> bool:
    reports = check_text(tune)
    return len(reports) == 1 and not reports[0].problems and "\nK:" in tune


# -- what is refused ---------------------------------------------------------------------

@pytest.mark.parametrize("sampling, option", [
    (Sampling(temperature=math.inf), "--temperature"), (Sampling(temperature=math.nan), "--temperature"),
    (Sampling(temperature=1e308), "--temperature"), (Sampling(temperature=MAX_TEMPERATURE * 1.01), "--temperature"),
    (Sampling(temperature=0.0), "--temperature"), (Sampling(temperature=-1.0), "--temperature"),
    (Sampling(top_k=0), "--top-k"), (Sampling(top_k=MAX_TOP_K + 1), "--top-k"),
    (Sampling(top_p=math.nan), "--top-p"), (Sampling(top_p=0.0), "--top-p"), (Sampling(top_p=math.inf), "--top-p"),
])
def test_sampling_refuses_what_has_no_meaning(sampling, option):
    with pytest.raises(TunesmithError, match=option):
        sampling.check()


def test_sampling_accepts_its_extremes():
    for sampling in [Sampling(temperature=MAX_TEMPERATURE, top_k=MAX_TOP_K, top_p=1.0), Sampling(5e-324, 1, 5e-324)]:
        sampling.check()


@pytest.mark.parametrize("style, option", [
    (Style(length="1/3"), "--length"), (Style(length="1/1"), "--length"), (Style(length="1/128"), "--length"),
    (Style(length="2/8"), "--length"), (Style(meter="7/3"), "--meter"), (Style(meter="1/64"), "--meter"),
    (Style(meter="64/1"), "--meter"), (Style(meter="17/4"), "--meter"), (Style(meter="3/0"), "--meter"),
    (Style(meter="3/16", length="1/2"), "--meter 3/16 and --length 1/2"),
    (Style(meter="4/1", length="1/32"), "--meter 4/1 and --length 1/32"),  # a bar of 128 units
])
def test_style_refuses_what_the_sampler_cannot_keep(style, option):
    with pytest.raises(TunesmithError, match=option):
        style.checked()


@pytest.mark.parametrize("style", [Style(meter="6/8", length="1/2"), Style(meter="4/1"), Style(meter="1/16"),
                                   Style(meter="C|", length="1/64"), Style(meter="12/8", length="1/32")])
def test_style_accepts_meters_and_lengths_it_can_keep(style):
    assert style.checked() == style


def test_a_cap_too_short_for_a_tune_is_refused(shipped):
    with pytest.raises(TunesmithError, match="--max-length must be at least 128"):
        generate_tunes(shipped, 1, max_symbols=127)
    with pytest.raises(TunesmithError, match="--max-length 128: the header and primer"):
        generate_tunes(shipped, 1, max_symbols=128, primer="|:" + "d2B AFA|" * 10)


# -- the pieces of the fix --------------------------------------------------------------------

def test_a_tiny_temperature_draws_greedily_without_nan():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(64, 90)).astype(np.float32) * 20
    allowed = rng.random((64, 90)) < 0.3
    allowed[:, 0] = True
    masked = np.where(allowed, logits, -np.inf)
    for sampling in [Sampling(5e-324, None, None), Sampling(5e-324, None, 0.5), Sampling(1e-320, 3, 0.9)]:
        with np.errstate(invalid="raise", over="raise"):  # NaN and overflow, not the harmless underflow
            drawn = choose(masked, sampling, np.random.default_rng(2))
        assert allowed[np.arange(64), drawn].all()
        assert (drawn == masked.argmax(-1)).all()


def test_a_header_line_is_never_a_second_x(shipped):
    cache = mask_cache(shipped.codec)
    mask = cache.field_mask("")
    assert not mask[shipped.codec.index["X"]] and mask[shipped.codec.index["K"]] and mask[shipped.codec.index["T"]]
    only_key = cache.field_mask("", key_only=True)
    assert [shipped.codec.vocab[i] for i in np.flatnonzero(only_key)] == ["K"]


@pytest.mark.parametrize("body, ok", [("z:|c8|\n", False), ("\\\nz:|c8|\n", False), ("c8|\nz:|c8|\n", False),
                                      (" z8:|c8|\n", True), ("z8:|c8|\n", True), ("d8:|c8|\n", True),
                                      ("c8|z8:|\n", True)])
def test_a_line_never_starts_like_a_field(body, ok):
    # The checker reads `z:|...` at a line's start as a field line (`B:|` is music): the automaton agrees.
    state = feed_text(initial_state("M:4/4\nL:1/8\n"), body)
    assert (state is not None) == ok
    if ok:
        assert well_formed("X:1\nT:t\nM:4/4\nL:1/8\nK:D\n" + body)


# -- the extremes, with the shipped model ------------------------------------------------------

@pytest.mark.parametrize("sampling", [Sampling(10.0, None, None), Sampling(10.0, None, 1.0), Sampling(10.0, 1, None),
                                      Sampling(5e-324, None, 0.5)], ids=str)
@pytest.mark.parametrize("cap, style", [(128, Style()), (2000, Style()), (256, Style(meter="4/1")),
                                        (256, Style(meter="4/4", length="1/64")),
                                        (128, Style(meter="1/16", length="1/64"))], ids=str)
def test_every_accepted_setting_writes_well_formed_tunes(shipped, sampling, cap, style):
    tunes = generate_tunes(shipped, 12, seed=cap, sampling=sampling, style=style, max_symbols=cap)
    bad = [t for t in tunes if not well_formed(t)]
    assert not bad, bad[0]


def test_the_header_ends_in_its_share_of_the_cap(shipped):
    # At temperature 10 the model writes header lines of noise; the header gets a quarter of the cap.
    for tune in generate_tunes(shipped, 16, seed=4, sampling=Sampling(10.0, None, None), max_symbols=400):
        assert tune.index("\nK:") < 400 // 4 + 20 and well_formed(tune)  # a header value may finish; "Untitled 3"


def test_the_mode_declares_its_least_cap():
    assert ABC.min_length == 128


def drive(shipped, style: Style, cap: int, body: str, filler: str):
    """An ABC writer run by hand: a title, K:D, `body`, then `filler` again and again; where the writer
    allows one symbol only, that one. Every scripted symbol must be allowed when it comes."""
    codec = shipped.codec
    writer = abc_writer(shipped, build_plan(None, style), cap)
    script, at = "Test\nK:D\n" + body + filler * cap, 0
    while not writer.done:
        mask = writer.mask()
        if writer.queue:
            writer.push(0)  # forced: the writer writes its own
            continue
        symbol = codec.index[script[at]]
        if isinstance(mask, np.ndarray) and mask.sum() == 1 and not mask[symbol]:
            writer.push(int(mask.argmax()))
            continue
        assert mask is None or (mask[symbol] if isinstance(mask, np.ndarray) else mask.allows(symbol))
        writer.push(symbol)
        at += 1
    return writer, writer.tune(1)


def test_a_tune_that_cannot_end_before_the_cap_is_ended_by_the_writer(shipped):
    # After a repeat opens, a bar of 64 units filled one unit at a time reaches the finishing room
    # mid-bar, with nothing to cut back to: the writer closes the repeat (the shortest way: as a pickup).
    writer, tune = drive(shipped, Style(meter="4/1", length="1/16"), 128, "|:", "C")
    assert not writer.truncated and well_formed(tune), tune
    assert tune.endswith(":|\n"), tune


def test_a_tune_cut_at_the_cap_ends_after_its_last_bar_line(shipped):
    # A bar, then a repeat that never closes, on one line: at the cap it is cut after the last bar line
    # where it could end (not back to its header, the last line end).
    writer, tune = drive(shipped, Style(meter="2/4", length="1/8"), 200, "CDEF|CDEF|:", "CDEF|")
    assert writer.truncated and well_formed(tune), tune
    assert tune.endswith("\nK:D\nCDEF|CDEF|\n")
