"""Corpora: the bundled collections (real data from music21's package) and the user's files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tunesmith.corpus.bundled import corpus_hash, load_bundled
from tunesmith.corpus.files import tunes_from_path
from tunesmith.corpus.load import load_corpus
from tunesmith.corpus.split import split_tunes
from tunesmith.errors import TunesmithError
from tunesmith.music.abc.tunes import join_tunes, parse_tunes


@pytest.fixture(scope="module")
def oneills():
    return list(load_bundled("oneills1850"))


# --- bundled corpora ---------------------------------------------------------

def test_oneills_size_and_numbering(oneills):
    assert len(oneills) > 1500
    assert [t.number for t in oneills] == list(range(1, len(oneills) + 1))


def test_oneills_has_no_duplicates(oneills):
    bodies = [t.text_without_number for t in oneills]
    assert len(set(bodies)) == len(bodies)


def test_oneills_every_tune_is_canonical(oneills):
    for tune in oneills:
        again = parse_tunes(tune.text)
        assert again == [replace(tune, number=1)], tune.text
        assert tune.text.isascii()
        assert tune.text.startswith(f"X:{tune.number}\nT:")


def test_oneills_whole_text_round_trips(oneills):
    assert parse_tunes(join_tunes(oneills)) == oneills


def test_oneills_headers_are_filled(oneills):
    assert all(t.key for t in oneills)
    assert all(t.unit for t in oneills)
    # Much of the collection is dance music: many tunes name a rhythm (explicitly or in the title).
    assert sum(t.rhythm is not None for t in oneills) > len(oneills) // 3


def test_jigs_are_all_six_eight():
    jigs = load_bundled("jigs")
    assert len(jigs) > 300
    assert {t.meter for t in jigs} == {"6/8"}
    assert len({t.text_without_number for t in jigs}) == len(jigs)


def test_unknown_bundled_name_is_an_error():
    with pytest.raises(TunesmithError, match="nosuchcorpus"):
        load_bundled("nosuchcorpus")


def test_corpus_hash_depends_on_content(oneills):
    assert corpus_hash(oneills) == corpus_hash(tuple(load_bundled("oneills1850")))
    assert corpus_hash(oneills) != corpus_hash(oneills[:-1])
    assert len(corpus_hash(oneills)) == 16


def test_bundled_names_resolve_before_paths(tmp_path, monkeypatch):
    # A bundled name is a corpus name even when no such file exists in the working folder.
    monkeypatch.chdir(tmp_path)
    corpus = load_corpus(["oneills1850"])
    assert corpus.sources == ["oneills1850"]
    assert len(corpus.tunes) == len(load_bundled("oneills1850"))


# --- train / held-out split ----------------------------------------------------

def test_split_is_deterministic(oneills):
    first = split_tunes(oneills)
    second = split_tunes(list(oneills))
    assert first == second


def test_split_holds_out_about_five_percent(oneills):
    train, held = split_tunes(oneills)
    assert 0.03 <= len(held) / len(oneills) <= 0.07
    assert len(train) + len(held) == len(oneills)


def test_split_sides_are_disjoint_and_cover_the_corpus(oneills):
    train, held = split_tunes(oneills)
    train_keys = {t.text_without_number for t in train}
    held_keys = {t.text_without_number for t in held}
    assert not train_keys & held_keys
    assert train_keys | held_keys == {t.text_without_number for t in oneills}
    # Order within each side is the corpus order.
    assert [t.number for t in train] == sorted(t.number for t in train)
    assert [t.number for t in held] == sorted(t.number for t in held)


def test_split_stable_when_tunes_are_added(oneills):
    small = oneills[:1000]
    train_small, held_small = split_tunes(small)
    train_all, held_all = split_tunes(oneills)
    assert held_small  # the check below is only meaningful when some are held out
    held_all_keys = {t.text_without_number for t in held_all}
    train_all_keys = {t.text_without_number for t in train_all}
    assert all(t.text_without_number in held_all_keys for t in held_small)
    assert all(t.text_without_number in train_all_keys for t in train_small)


def test_split_stable_when_tunes_are_renumbered_or_reordered(oneills):
    reordered = list(reversed(oneills))
    renumbered = [replace(t, number=i + 1) for i, t in enumerate(reordered)]
    _, held = split_tunes(oneills)
    _, held_again = split_tunes(renumbered)
    assert {t.text_without_number for t in held} == {t.text_without_number for t in held_again}


def test_split_of_two_tunes_holds_one_out(oneills):
    for pair in (oneills[0:2], oneills[2:4], oneills[4:6]):
        train, held = split_tunes(pair)
        assert len(held) >= 1 and len(train) + len(held) == 2


# --- the user's files ------------------------------------------------------------

TUNE_A = "X:1\nT:Alpha\nM:6/8\nK:D\nABc def|\n"
TUNE_B = "X:1\nT:Bravo\nM:4/4\nK:G\nGABc dedB|\n"
TUNE_C = "X:1\nT:Charlie\nM:3/4\nK:Am\nABc|\n"


def test_tunes_from_nested_folder(tmp_path):
    (tmp_path / "a.abc").write_text(TUNE_A)
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "b.abc").write_text("free text\n\n" + TUNE_B + "\n" + TUNE_A)
    (tmp_path / "sub" / "deeper" / "c.ABC").write_text(TUNE_C)
    (tmp_path / "sub" / "notes.txt").write_text("X:1\nT:Not ABC\nK:D\nabc\n")
    tunes = tunes_from_path(tmp_path)
    assert [t.title for t in tunes] == ["Alpha", "Bravo", "Alpha", "Charlie"]


def test_tunes_from_single_file(tmp_path):
    file = tmp_path / "tunes.txt"  # a named file is read whatever its suffix
    file.write_text(TUNE_A + "\n" + TUNE_B)
    assert [t.title for t in tunes_from_path(file)] == ["Alpha", "Bravo"]


def test_latin1_file_is_read(tmp_path):
    file = tmp_path / "latin.abc"
    file.write_bytes("X:1\nT:Caf\u00e9\nK:D\nABc|\n".encode("latin-1"))
    (tune,) = tunes_from_path(file)
    assert tune.title == "Cafe"


def test_load_corpus_dedupes_across_sources(tmp_path):
    one, two = tmp_path / "one.abc", tmp_path / "two.abc"
    one.write_text(TUNE_A + "\n" + TUNE_B)
    two.write_text(TUNE_B + "\n" + TUNE_C)
    corpus = load_corpus([str(one), str(two)])
    assert [t.title for t in corpus.tunes] == ["Alpha", "Bravo", "Charlie"]
    assert corpus.held_out and len(corpus.train) + len(corpus.held_out) == 3


def _error_for(path: Path) -> str:
    with pytest.raises(TunesmithError) as info:
        tunes_from_path(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    return message


def test_missing_path_is_an_error(tmp_path):
    assert "no such" in _error_for(tmp_path / "does" / "not" / "exist.abc")


def test_empty_file_is_an_error(tmp_path):
    empty = tmp_path / "empty.abc"
    empty.write_text("")
    assert "empty" in _error_for(empty)
    blank = tmp_path / "blank.abc"
    blank.write_text("  \n\n\t\n")
    assert "empty" in _error_for(blank)


def test_binary_file_is_an_error(tmp_path):
    binary = tmp_path / "model.abc"
    binary.write_bytes(b"X:1\nT:x\nK:D\nabc\n" + bytes(range(256)) * 4)
    assert "binary" in _error_for(binary)


def test_text_without_tunes_is_an_error(tmp_path):
    prose = tmp_path / "prose.abc"
    prose.write_text("These are my notes about tunes.\nK:D is a key.\n")
    assert "no ABC tunes" in _error_for(prose)


def test_folder_without_abc_files_is_an_error(tmp_path):
    (tmp_path / "readme.txt").write_text(TUNE_A)
    (tmp_path / "sub").mkdir()
    assert ".abc" in _error_for(tmp_path)


def test_empty_folder_is_an_error(tmp_path):
    _error_for(tmp_path)


def test_folder_whose_abc_files_hold_no_tunes_is_an_error(tmp_path):
    (tmp_path / "a.abc").write_text("just words\n")
    (tmp_path / "b.abc").write_text("X:1\nT:no key, no music\n")
    _error_for(tmp_path)


def test_bad_file_inside_folder_is_named(tmp_path):
    (tmp_path / "good.abc").write_text(TUNE_A)
    bad = tmp_path / "sub" / "bad.abc"
    bad.parent.mkdir()
    bad.write_bytes(b"\x00\x01\x02 binary")
    with pytest.raises(TunesmithError, match="bad.abc"):
        tunes_from_path(tmp_path)


def test_load_corpus_needs_two_tunes(tmp_path):
    one = tmp_path / "one.abc"
    one.write_text(TUNE_A)
    with pytest.raises(TunesmithError, match="at least 2"):
        load_corpus([str(one)])
    with pytest.raises(TunesmithError, match="--corpus"):
        load_corpus([])
