"""Every codec in the registry, on the real corpus of its mode: lossless, saved and restored alike, clear errors.

The tests are parametrised over `tunesmith.codecs.CODECS` itself, so a codec
added there is tested here without editing this file, on its mode's first
bundled corpus (or the one `CORPUS` names); a codec that no mode takes, or
whose mode bundles no corpus, fails loudly.

Each codec is fitted the way `tunesmith train` fits it (on the texts of every
piece of the loaded, deduplicated corpus) and sees each piece the way the
training streams do (`tune_symbols`: the piece and the blank line after it).
Whole corpora, no slices: folk 4399 tunes (both ABC codecs), bach-chorales
411 chorales, tabla 832 compositions. `folk-midi` is left out: the first time
it is converted from ABC it takes about 30 s, and its tunes are folk's.
"""

from __future__ import annotations

import json
from functools import lru_cache

import pytest

from tunesmith.codecs import CODECS, Codec, codec_from_dict
from tunesmith.corpus.load import load_corpus
from tunesmith.data import tune_symbols
from tunesmith.errors import TunesmithError
from tunesmith.modes import available_modes, get_mode

# The bundled corpus a mode is tested on, where it is not its first: the largest that loads in about a second.
CORPUS = {"abc": "folk"}

# A character no corpus has (checked below against each vocabulary).
FOREIGN = "\u2603"


def mode_of_codec(name: str) -> str:
    """The one mode that takes codec `name` (a test failure when none or several do)."""
    modes = [m for m in available_modes() if name in {c.name for c in get_mode(m).codecs}]
    if len(modes) != 1:
        pytest.fail(f"codec {name!r} is taken by {len(modes)} modes ({', '.join(modes) or 'none'}); "
                    "each registered codec must belong to exactly one mode to be tested on its corpus")
    return modes[0]


@lru_cache(maxsize=None)
def corpus_texts(mode: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(piece texts the codec is fitted on, texts the model sees) of the mode's bundled corpus."""
    bundled = list(get_mode(mode).corpora())
    if not bundled:
        pytest.fail(f"mode {mode!r} bundles no corpus, so its codecs cannot be tested on real pieces")
    name = CORPUS.get(mode, bundled[0])
    assert name in get_mode(mode).corpora(), f"{name!r} is not a bundled corpus of mode {mode!r}"
    pieces = load_corpus([name], mode=mode).tunes
    return tuple(p.text for p in pieces), tuple(tune_symbols(p) for p in pieces)


class Case:
    """One codec fitted on its mode's corpus, with every piece encoded once."""

    def __init__(self, name: str):
        self.name = name
        self.mode = mode_of_codec(name)
        fit_texts, self.texts = corpus_texts(self.mode)
        self.codec: Codec = CODECS[name].fit(list(fit_texts))
        self.ids = [self.codec.encode(t, f"piece {i}") for i, t in enumerate(self.texts)]


@pytest.fixture(scope="module", params=list(CODECS))
def case(request) -> Case:
    return Case(request.param)


def test_every_piece_round_trips(case):
    codec = case.codec
    assert len(case.texts) > 100, f"{case.name}: only {len(case.texts)} pieces in its corpus"
    for i, (text, ids) in enumerate(zip(case.texts, case.ids)):
        assert all(0 <= j < len(codec) for j in ids), f"{case.name}: piece {i} has ids outside the vocabulary"
        assert codec.decode(ids) == text, f"{case.name}: piece {i} does not decode to itself"
    # The stream training cuts into batches: pieces' ids one after another decode to the pieces' texts.
    assert codec.decode([j for ids in case.ids for j in ids]) == "".join(case.texts)


def test_saved_vocabulary_encodes_identically(case):
    saved = json.loads(json.dumps(case.codec.to_dict()))  # as a checkpoint's config.json keeps it
    assert saved["name"] == case.name
    rebuilt = codec_from_dict(saved)
    assert type(rebuilt) is type(case.codec)
    assert rebuilt.vocab == case.codec.vocab
    for i, (text, ids) in enumerate(zip(case.texts, case.ids)):
        assert rebuilt.encode(text) == ids, f"{case.name}: piece {i} encodes differently after saving"
    assert rebuilt.decode(case.ids[0]) == case.texts[0]


@pytest.mark.parametrize("where_in_piece", ["own line", "end of a line"])
def test_unknown_symbol_is_a_tunesmith_error_naming_where(case, where_in_piece):
    assert FOREIGN not in "".join(case.codec.vocab)
    text = case.texts[0]
    lines = text.split("\n")
    if where_in_piece == "own line":
        middle = max(1, len(lines) // 2)
        lines.insert(middle, FOREIGN)
    else:  # the last line with music on it
        last = max(i for i, line in enumerate(lines) if line)
        lines[last] += " " + FOREIGN
    bad = "\n".join(lines)
    with pytest.raises(TunesmithError) as info:   # a KeyError or any other exception fails the test
        case.codec.encode(bad, "--primer")
    message = str(info.value)
    assert message.startswith("--primer: "), message
    assert FOREIGN in message, message


def test_newline_is_a_symbol_and_a_blank_line_ends_every_piece(case):
    codec = case.codec
    assert "\n" in codec.index, f"{case.name} has no newline symbol"
    newline = codec.index["\n"]
    assert codec.encode("\n") == [newline]
    assert codec.encode("\n\n") == [newline, newline]
    assert codec.decode([newline, newline]) == "\n\n"
    for i, ids in enumerate(case.ids):
        assert ids[-2:] == [newline, newline], f"{case.name}: piece {i} does not end with a blank line"
