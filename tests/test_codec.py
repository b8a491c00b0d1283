"""The character codec: fit, encode/decode, errors, and its saved form."""

from __future__ import annotations


import pytest

from tunesmith.codecs import CODECS, codec_from_dict
from tunesmith.codecs.abc_chars import CharCodec
from tunesmith.corpus.bundled import load_bundled
from tunesmith.errors import TunesmithError
from tunesmith.music.abc.tunes import join_tunes


@pytest.fixture(scope="module")
def corpus_text():
    return join_tunes(list(load_bundled("oneills1850")))


@pytest.fixture(scope="module")
def codec(corpus_text):
    return CharCodec.fit([corpus_text])


def test_vocabulary_is_sorted_unique_and_has_newline(codec, corpus_text):
    assert codec.vocab == sorted(set(corpus_text))
    assert "\n" in codec.vocab
    assert len(codec) == len(set(corpus_text))
    assert [codec.index[s] for s in codec.vocab] == list(range(len(codec)))


def test_fit_adds_newline_and_merges_texts():
    codec = CharCodec.fit(["ba", "ca"])
    assert codec.vocab == ["\n", "a", "b", "c"]
    assert codec.encode("abc\n") == [1, 2, 3, 0]
    assert CharCodec.fit([]).vocab == ["\n"]


def test_fit_is_independent_of_text_order():
    assert CharCodec.fit(["X:1\nabc", "K:D"]).vocab == CharCodec.fit(["K:D", "X:1\nabc"]).vocab


def test_unknown_character_names_place_and_character():
    codec = CharCodec.fit(["X:1\nT:abc\nK:D\n"])
    with pytest.raises(TunesmithError) as info:
        codec.encode("X:1\nT:ab@c~@", where="--primer")
    message = str(info.value)
    assert message.startswith("--primer:")
    assert "'@~'" in message  # each unknown character once, in order of appearance
    assert "vocabulary" in message


def test_unknown_character_default_place():
    codec = CharCodec.fit(["abc"])
    with pytest.raises(TunesmithError, match=r"^text: .*'\u20ac'"):
        codec.encode("a\u20acb")


def test_unknown_lists_each_once_in_order():
    codec = CharCodec.fit(["abc"])
    assert codec.unknown("xaybxz") == ["x", "y", "z"]
    assert codec.unknown("cab\n") == []


def test_to_dict_is_a_copy_of_the_state():
    codec = CharCodec.fit(["abc"])
    rebuilt = codec_from_dict(codec.to_dict())
    assert rebuilt.vocab is not codec.vocab
    assert rebuilt.index == codec.index


def test_codec_registry_knows_char_codec():
    assert CODECS["abc-chars"] is CharCodec


def test_unknown_codec_name_is_an_error():
    with pytest.raises(TunesmithError, match="bpe-tokens"):
        codec_from_dict({"name": "bpe-tokens", "vocab": ["a"]})
    with pytest.raises(TunesmithError, match="unknown codec"):
        codec_from_dict({"vocab": ["a"]})


@pytest.mark.parametrize("vocab", [None, "abc", ["a", 1], {"a": 0}])
def test_bad_vocabulary_is_an_error(vocab):
    with pytest.raises(TunesmithError, match="vocabulary"):
        codec_from_dict({"name": "abc-chars", "vocab": vocab})
