"""The bundled tabla corpus (expansion rules), the bol codec, and users' own files as training sources."""

from __future__ import annotations

from collections import Counter

import pytest

from tunesmith.codecs import CODECS
from tunesmith.corpus.load import load_corpus
from tunesmith.corpus.tabla import load_bundled
from tunesmith.corpus.tabla.expand import PALTAS_PER_THEME, khali_half
from tunesmith.errors import TunesmithError
from tunesmith.modes import get_mode
from tunesmith.music.tabla import CORPUS_TALAS, has_bayan_open_matra, read_text

MODE = get_mode("tabla")


@pytest.fixture(scope="module")
def corpus():
    return MODE.dedupe(load_bundled("tabla"))


def test_a_few_hundred_compositions_in_several_talas_and_forms(corpus):
    assert len(corpus) >= 500
    talas = Counter(c.tala for c in corpus)
    assert set(talas) == set(CORPUS_TALAS) and talas["rupak"] >= 80 and talas["jhaptaal"] >= 80
    assert set(Counter(c.form for c in corpus)) == {"theka", "kaida", "rela", "tihai", "tukda"}
    assert MODE.count_corpus("tabla")[0] == len(corpus)
    assert set(MODE.corpora()) == {"tabla", "tabla-thekas", "tabla-kaidas", "tabla-tihais"}


def test_every_composition_checks_and_reads_back_as_itself(corpus):
    for comp in corpus:
        [reading] = read_text(comp.file_text())
        assert reading.problems == [], (comp.title, reading.problems)
        assert reading.composition == comp
        assert comp.landing is not None and comp.landing != ("-",)


def test_the_classic_delhi_kaida_follows_the_khali_rule(corpus):
    theme = next(c for c in corpus if c.title == "Kaida 1 in teentaal, theme")
    assert theme.text.split("\n")[2] == "Dha Dha Ti Ta | Dha Dha Tin Na | Ta Ta Ti Ta | Dha Dha Dhin Na ||"
    for comp in corpus:
        if comp.form in ("kaida", "rela"):
            matras = [m for cycle in comp.cycles for m in cycle]
            half = len(matras) // 2
            assert matras[half:] == khali_half(matras[:half])
            assert not any(has_bayan_open_matra(m) for m in matras[half:half + half // 2]), comp.title


def test_each_theme_has_its_paltas_ending_with_the_theme(corpus):
    themes = [c for c in corpus if c.title.endswith("theme")]
    assert len(themes) >= 30
    for theme in themes:
        name = theme.title.rsplit(",", 1)[0]
        paltas = [c for c in corpus if c.title.startswith(name + ", palta")]
        assert 1 <= len(paltas) <= PALTAS_PER_THEME
        bhari = [m for cycle in theme.cycles for m in cycle][: len(theme.matras()) // 2]
        for palta in paltas:
            matras = [m for cycle in palta.cycles for m in cycle]
            assert matras[len(matras) // 2 - len(bhari): len(matras) // 2] == bhari  # W + H


def test_tihais_repeat_their_phrase_three_times_onto_sam(corpus):
    tihais = [c for c in corpus if c.form == "tihai"]
    assert len(tihais) >= 200
    for comp in tihais:
        matras = comp.matras()
        gap = int(comp.title[-1])
        for p in range(1, len(matras) // 3 + 1):
            phrase = matras[-p:]
            step = p + gap
            if matras[-step - p:-step] == phrase and matras[-2 * step - p:-2 * step] == phrase:
                break
        else:
            pytest.fail(f"{comp.title}: no phrase repeated three times onto sam")


def test_codec_is_lossless_on_every_composition(corpus):
    texts = [c.text + "\n" for c in corpus]
    codec = CODECS["tabla-bols"].fit(texts)
    assert "\n" in codec.index and "Tirakita" in codec.index and "tala: rupak" in codec.index
    assert len(codec) < 60
    for text in texts:
        ids = codec.encode(text)
        assert codec.decode(ids) == text
    # One symbol per bol: far fewer symbols than characters.
    assert sum(len(codec.encode(t)) for t in texts) < sum(len(t) for t in texts) / 3
    rebuilt = CODECS["tabla-bols"](codec.to_dict()["vocab"])
    assert rebuilt.encode(texts[0]) == codec.encode(texts[0])


def test_codec_refuses_what_it_cannot_write_back(corpus):
    codec = CODECS["tabla-bols"].fit([c.text for c in corpus])
    with pytest.raises(TunesmithError, match="'Dhun' not in the model's vocabulary"):
        codec.encode("tala: dadra\nDhun Dhi Na | Dha Ti Na ||\n")
    with pytest.raises(TunesmithError, match="not canonical"):
        codec.encode("tala: dadra\nDha  Dhi Na | Dha Ti Na ||\n")


def test_users_files_train_the_same_way(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "a.txt").write_text("title: One\ntala: keherwa\nDhaa Ge Na Tee | Na Ka Dhi Na ||\nDha\n\n"
                                  "title: Two\ntala: dadra\nDha Dhi Na | Dha Ti Na ||\n")
    (folder / "b.tabla").write_text("tala: dadra\nDha Dha Na | Ta Ti Na ||\nDha\n")
    (folder / "notes.md").write_text("not a composition")
    corpus = load_corpus([str(folder)], mode="tabla")
    assert [c.title for c in corpus.tunes] == ["One", "Two", ""]
    assert corpus.tunes[0].text == "tala: keherwa\nDha Ge Na Ti | Na Ka Dhi Na ||\nDha\n"
    (folder / "c.txt").write_text("tala: dadra\nDha Dhi | Dha Ti Na ||\n")
    with pytest.raises(TunesmithError, match=r"c.txt:2:1: cycle 1: cycle 1 has 5 matras; dadra has 6"):
        load_corpus([str(folder)], mode="tabla")
    with pytest.raises(TunesmithError, match="no such file or folder"):
        load_corpus([str(tmp_path / "nothing")], mode="tabla")
