"""The rules that turn the tabla data (themes.txt, tihais.txt) into compositions.

1. **Theka**: one cycle of each tala's theka, landing on its first bol.
2. **Kaida / rela theme**: the bhari half H (from themes.txt), then its khali
   half K(H): the first half of K(H) is H's first half with the bayan's open
   strokes left out (Dha -> Ta, Dhin -> Tin, Dhi -> Ti, Ge -> Ke, Dhage ->
   Take), the second half is H's second half *opened* back to bhari (Tin, Tun
   -> Dhin; Ke -> Ge; Take -> Dhage), so the khali half returns to the bayan
   before sam. The theme lands on Dha.
3. **Paltas**: each variation's bhari half is W + H, where W is a sequence of
   the theme's parts as long as H (or, when a theme has fewer than
   PALTAS_PER_THEME such sequences, twice as long), other than H itself and
   other than one part repeated throughout; it is followed by its khali half
   by rule 2 and lands on Dha. The sequences are taken in an order shuffled
   by a seed made of the theme's text, the first PALTAS_PER_THEME of them.
4. **Tihai**: a phrase P ending on a bol, played P gap P gap P with gaps of
   0, 1 and 2 silent matras, in every tala; the phrase's last bol lands on
   sam, and as much theka as that needs (from sam) comes before it.
5. **Tukda**: a body B, then the tihai of its phrase with gaps of 1, in every
   tala, after theka so that it lands on sam.

Every rule gives whole cycles and a landing bol, so every composition checks.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

from ...music.tabla.bols import SILENCE, khali
from ...music.tabla.notation import Composition, Matra, parse_matras, theka
from ...music.tabla.talas import CORPUS_TALAS, TALAS, Tala, get_tala

DATA = Path(__file__).parent
PALTAS_PER_THEME = 12
TIHAI_GAPS = (0, 1, 2)
TUKDA_GAP = 1
LANDING: Matra = ("Dha",)
_OPEN = {"Tin": "Dhin", "Tun": "Dhin", "Ke": "Ge", "Take": "Dhage"}


def khali_half(bhari: list[Matra]) -> list[Matra]:
    """The khali answer to a bhari half (rule 2)."""
    cut = len(bhari) // 2
    return ([tuple(khali(b) for b in m) for m in bhari[:cut]]
            + [tuple(_OPEN.get(b, b) for b in m) for m in bhari[cut:]])


def _cycles(matras: list[Matra], tala: Tala) -> tuple[tuple[Matra, ...], ...]:
    n = tala.matras
    if len(matras) % n:
        raise ValueError(f"{len(matras)} matras are not whole cycles of {tala.name}")
    return tuple(tuple(matras[i:i + n]) for i in range(0, len(matras), n))


def _data_lines(name: str) -> list[tuple[str, str]]:
    """(kind, rest) of each `kind: rest` line of a data file, comments and blank lines skipped."""
    out = []
    for raw in (DATA / name).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            kind, rest = line.split(":", 1)
            out.append((kind.strip(), rest.strip()))
    return out


def _words(lengths: list[int], total: int):
    """Every sequence of part indices whose lengths add up to `total`, shortest parts first."""
    if total == 0:
        yield ()
        return
    for i, length in enumerate(lengths):
        if length <= total:
            for rest in _words(lengths, total - length):
                yield (i,) + rest


def palta_words(parts: list[list[Matra]], seed: str) -> list[tuple[int, ...]]:
    """The part sequences W of the paltas of a theme (rule 3)."""
    lengths = [len(p) for p in parts]
    half = sum(lengths)
    theme = tuple(range(len(parts)))
    chosen: list[tuple[int, ...]] = []
    rng = random.Random(seed)
    for times in (1, 2):
        words = [w for w in itertools.islice(_words(lengths, times * half), 20000)
                 if w != theme * times and len(set(w)) > 1]
        rng.shuffle(words)
        chosen += words[: PALTAS_PER_THEME - len(chosen)]
        if len(chosen) >= PALTAS_PER_THEME:
            break
    return chosen


def kaidas() -> list[Composition]:
    """Every kaida and rela theme of themes.txt with its paltas (rules 2 and 3)."""
    out = []
    count: dict[tuple[str, str], int] = {}
    for kind, rest in _data_lines("themes.txt"):
        form, tala_name = kind.split()
        tala = get_tala(tala_name, "themes.txt")
        parts = [parse_matras(p, tala, f"themes.txt: {rest}") for p in rest.split("/")]
        number = count[form, tala.name] = count.get((form, tala.name), 0) + 1
        bhari = [m for p in parts for m in p]
        name = f"{form.capitalize()} {number} in {tala.name}"
        out.append(Composition(tala.name, _cycles(bhari + khali_half(bhari), tala), LANDING, form,
                               f"{name}, theme"))
        for j, word in enumerate(palta_words(parts, rest), 1):
            half = [m for i in word for m in parts[i]] + bhari
            out.append(Composition(tala.name, _cycles(half + khali_half(half), tala), LANDING, form,
                                   f"{name}, palta {j}"))
    return out


def _landed(before: list[Matra], tala: Tala, form: str, title: str) -> Composition:
    """`before` (ending just before sam) after as much theka as makes it whole cycles; lands on its last bol."""
    *body, landing = before
    if len(landing) != 1 or landing == (SILENCE,):
        raise ValueError(f"{title}: a tihai must end on a single bol")
    cycle = theka(tala)
    fill = -len(body) % tala.matras
    return Composition(tala.name, _cycles(cycle[:fill] + body, tala), landing, form, title)


def _corpus_talas() -> list[Tala]:
    """The talas the bundled corpus is written in: those the shipped model learnt. Talas added since
    (Dhamar, Chautal ...) have thekas for practice, but adding them here would change the corpus it was trained on."""
    return [TALAS[name] for name in CORPUS_TALAS]


def _tihai(phrase: list[Matra], gap: int) -> list[Matra]:
    rest = [(SILENCE,)] * gap
    return phrase + rest + phrase + rest + phrase


def tihais() -> list[Composition]:
    """Every tihai and tukda of tihais.txt in every tala (rules 4 and 5)."""
    out = []
    lines = _data_lines("tihais.txt")
    for tala in _corpus_talas():
        phrases = [parse_matras(rest, tala, f"tihais.txt: {rest}") for kind, rest in lines if kind == "tihai"]
        for i, phrase in enumerate(phrases, 1):
            for gap in TIHAI_GAPS:
                out.append(_landed(_tihai(phrase, gap), tala, "tihai",
                                   f"Tihai {i} in {tala.name}, gaps of {gap}"))
        tukdas = [rest.split("/") for kind, rest in lines if kind == "tukda"]
        for i, (body, phrase) in enumerate(tukdas, 1):
            matras = parse_matras(body, tala, "tihais.txt") + _tihai(parse_matras(phrase, tala, "tihais.txt"),
                                                                      TUKDA_GAP)
            out.append(_landed(matras, tala, "tukda", f"Tukda {i} in {tala.name}"))
    return out


def thekas() -> list[Composition]:
    """One cycle of every tala's theka, landing on sam (rule 1)."""
    out = []
    for tala in _corpus_talas():
        cycle = theka(tala)
        out.append(Composition(tala.name, (tuple(cycle),), cycle[0], "theka", f"{tala.name.capitalize()} theka"))
    return out
