"""Headers drawn as the corpus writes them (issue 15): the table, the draw, and tunes that carry it."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.load import load_corpus
from tunesmith.errors import TunesmithError
from tunesmith.modes import GenerateRequest, get_mode
from tunesmith.modes.abc import Style
from tunesmith.modes.abc.headers import HeaderTable, table_of
from tunesmith.music.abc.check import check_tune, tune_blocks


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(["folk"])


@pytest.fixture(scope="module")
def table(corpus):
    return HeaderTable.of_tunes(corpus.train)


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_MODEL)


def test_the_table_counts_every_training_tune_and_survives_json(corpus, table):
    assert sum(n for _, n in table.rows) == len(corpus.train)
    assert HeaderTable.from_json(table.to_json()) == table
    assert HeaderTable.from_json(None) is None and HeaderTable.from_json([["6/8", 3]]) is None


def test_the_shipped_model_keeps_the_table_of_its_training_tunes(shipped, table):
    assert table_of(shipped.meta) == table


def test_draws_follow_the_corpus_shares(corpus, table):
    rng = np.random.default_rng(99)
    drawn = Counter(table.draw(Style(), rng).meter for _ in range(4000))
    real = Counter(t.meter for t in corpus.train)
    for meter in ("6/8", "C|", "2/4", "C", "3/4"):
        assert abs(drawn[meter] / 4000 - real[meter] / len(corpus.train)) < 0.03, meter


def test_a_batch_holds_the_corpus_shares_to_within_one_tune_and_each_tune_follows_them(corpus, table):
    """Systematic sampling: a batch of n headers has each key within one tune of n x its share; a single
    header is rng.choice's draw, and the first header of many batches follows the shares."""
    real = Counter(t.key for t in table_rows_expanded(table))
    total = sum(real.values())
    for seed in (3, 4):
        batch = Counter(s.key for s in table.draw_many(Style(), np.random.default_rng(seed), 200))
        assert sum(batch.values()) == 200
        for key, count in real.items():
            assert abs(batch[key] - 200 * count / total) < 1 + 1e-9, (key, batch[key], 200 * count / total)
    assert table.draw(Style(), np.random.default_rng(8)) == table.draw_many(Style(), np.random.default_rng(8), 1)[0]
    firsts = Counter(table.draw_many(Style(), np.random.default_rng(1000 + i), 7)[0].meter for i in range(3000))
    trained = Counter(t.meter for t in corpus.train)
    for meter in ("6/8", "C|", "2/4", "C"):
        assert abs(firsts[meter] / 3000 - trained[meter] / len(corpus.train)) < 0.03, meter


def table_rows_expanded(table):
    """The headers the draw chooses among (keys the checker reads), one Style per training tune."""
    from tunesmith.modes.abc.headers import KEY_RE, FIELDS

    return [Style(**dict(zip(FIELDS, row))) for row, n in table.rows
            if row[3] is None or KEY_RE.match(row[3].replace(" ", "")) for _ in range(n)]


def test_fixed_fields_are_kept_and_the_rest_agrees_with_them(corpus, table):
    rng = np.random.default_rng(5)
    reel_meters = {t.meter for t in corpus.train if t.rhythm == "reel"}
    for _ in range(200):
        style = table.draw(Style(rhythm="reel", key="Ador"), rng)
        assert style.rhythm == "reel" and style.key == "Ador" and style.meter in reel_meters
        assert style.length is not None
    jig = table.draw(Style(meter="6/8"), rng)
    assert jig.meter == "6/8" and jig.rhythm in (None, "jig", "slide", "double jig", "single jig", "jig set")


def test_a_pair_the_corpus_never_writes_is_refused_with_what_it_does(table):
    with pytest.raises(TunesmithError, match=r"--rhythm reel --meter 3/4: no reel .* in C\| \(\d+%\)"):
        table.draw(Style(rhythm="reel", meter="3/4"), np.random.default_rng(0))


def test_a_key_or_length_the_corpus_lacks_is_kept(table):
    style = table.draw(Style(key="C#loc", length="1/4"), np.random.default_rng(0))
    assert style.key == "C#loc" and style.length == "1/4" and style.meter is not None


def test_generated_tunes_carry_drawn_headers_and_agree_with_the_style(shipped, corpus):
    mode = get_mode("abc")
    tunes = mode.write(shipped, GenerateRequest(n=12, seed=77, options=Style(rhythm="hornpipe")))
    meters = {t.meter for t in corpus.train if t.rhythm == "hornpipe"}
    for tune in tunes:
        fields = dict(re.findall(r"^([MLRK]):(.*)$", tune, re.MULTILINE))
        assert fields["R"] == "hornpipe" and fields["M"] in meters and "L" in fields
        assert not check_tune(tune)


def test_a_checkpoint_without_the_table_lets_the_model_write_its_header(shipped):
    mode = get_mode("abc")
    old = replace(shipped, meta={**shipped.meta, "corpus": {k: v for k, v in shipped.meta["corpus"].items()
                                                            if k != "profile"}})
    request = GenerateRequest(n=3, seed=4)
    assert table_of(old.meta) is None
    assert mode.write(old, request) != mode.write(shipped, request)
    assert all(len(tune_blocks(t)) == 1 for t in mode.write(old, request))


def test_the_primer_narrows_the_draw_to_meters_it_fits(shipped):
    tunes = get_mode("abc").write(shipped, GenerateRequest(n=6, seed=3, primer="|:d2B AFA|dBA FED|"))
    for tune in tunes:
        assert re.search(r"^M:(6/8|3/4)\nL:1/8$", tune, re.MULTILINE), tune  # a whole bar of six eighths
        assert not check_tune(tune)
