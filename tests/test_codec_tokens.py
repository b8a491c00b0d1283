"""The abc-tokens codec: musical tokens, lossless on every bundled tune, and it trains and generates."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tunesmith.checkpoint import load_checkpoint
from tunesmith.codecs import codec_from_dict, get_codec
from tunesmith.codecs.abc_tokens import TokenCodec, abc_tokens
from tunesmith.corpus.bundled import load_bundled
from tunesmith.errors import TunesmithError
from tunesmith.modes.abc import Style
from tunesmith.modes.abc.writer import generate_tunes
from tunesmith.music.abc.check import check_tune
from tunesmith.models import get_preset
from tunesmith.music.abc.tunes import parse_tunes
from tunesmith.train import new_trainer


def test_tokens_are_musical_units():
    toks = abc_tokens("X:12\nT:Jig\nM:6/8\nK:Dmix\n|:^c'3/2 z2 [CE]2 (3abc \"Am\"d>e|1 f:|2 g|]\n")
    assert toks[:4] == ["X:", "1", "2", "\n"]
    assert ["M:", "6/8", "\n", "K:", "Dmix"] == toks[9:14]
    for unit in ("|:", "^c'", "3/2", "z", "2", "[", "]", "(3", '"Am"', ">", "|1", ":|2", "|]"):
        assert unit in toks


def test_folk_vocabulary_is_small_and_mostly_tokens():
    texts = [t.text for t in load_bundled("folk")]
    codec = TokenCodec.fit(texts)
    assert 150 < len(codec) < 450
    ids = [i for t in texts[:200] for i in codec.encode(t)]
    assert len(ids) < 0.95 * sum(len(t) for t in texts[:200])  # fewer symbols than characters


def test_unknown_tokens_are_spelled_and_unknown_characters_refused():
    codec = TokenCodec.fit(["X:1\nT:a\nM:6/8\nK:D\nABc|\n"])
    assert codec.decode(codec.encode("X:1\nK:D\nAB|", "p")) == "X:1\nK:D\nAB|"
    with pytest.raises(TunesmithError, match="--primer"):
        codec.encode("X:1\nK:D\n^f'", "--primer")
    again = codec_from_dict(codec.to_dict())
    assert isinstance(again, TokenCodec) and again.vocab == codec.vocab
    assert get_codec("abc-tokens") is TokenCodec
    with pytest.raises(TunesmithError, match="--codec"):
        get_codec("midi-notes")


def test_a_token_model_trains_and_writes_tunes(tmp_path):
    preset = get_preset("small")
    trainer = new_trainer(tmp_path / "tok", ["jigs"], preset.model, replace(preset.train, epochs=2, seed=1),
                          limit=60, codec_name="abc-tokens")
    trainer.run(show_progress=False)
    curve = [r["held_out_bits_per_symbol"] for r in trainer.progress.history]
    assert curve[-1] < curve[0]
    ckpt = load_checkpoint(tmp_path / "tok")
    assert ckpt.meta["codec"]["name"] == "abc-tokens"
    tunes = generate_tunes(ckpt, 4, seed=1, style=Style(meter="6/8", key="D"), max_symbols=1200)
    parsed = parse_tunes("\n".join(tunes))
    assert [t.number for t in parsed] == [1, 2, 3, 4] and all(t.meter == "6/8" and t.key == "D" for t in parsed)
    # Even a two-epoch token model writes well-formed tunes: the constraints work on tokens too.
    assert all(check_tune(t) == [] for t in tunes), [check_tune(t) for t in tunes]
