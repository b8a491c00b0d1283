"""Bols: the spoken names of tabla strokes, their spellings, and what each one sounds.

A *bol* takes one matra (one beat of the tala) when written alone. Three
kinds exist here:

- single strokes on one drum: the dayan (right, tuned) rings on Na, Ta, Tin,
  Tun and is damped on Ti, Te, Ra, Tit, Tak; the bayan (left, bass) is open on
  Ge and closed on Ka, Ke, Ki, Kat;
- strokes on both drums at once: Dha = Na + Ge, Dhin = Tin + Ge,
  Dhi = Ti + Ge, Dhit = Tit + Ge;
- compounds that fill one matra with several strokes in turn: Dhage (Dha Ge),
  Take (Ta Ke, the khali form of Dhage) and Tirakita (Ti Ra Ki Ta).

`-` is a silent matra. Spellings vary between gharanas and transliterations
(Dhaa, Dhā, Teen, Tirkit, TiRaKiTa, Ghe); `normalise` folds them onto the
canonical names above, and `suggest` names the nearest one for a misspelling.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

SILENCE = "-"

# Drum strokes (what the synthesiser plays): drum and whether it rings.
STROKES: dict[str, tuple[str, str]] = {
    "Na": ("dayan", "ringing"), "Ta": ("dayan", "ringing"), "Tin": ("dayan", "ringing"), "Tun": ("dayan", "ringing"),
    "Ti": ("dayan", "damped"), "Te": ("dayan", "damped"), "Ra": ("dayan", "damped"), "Tit": ("dayan", "damped"),
    "Tak": ("dayan", "damped"),
    "Ge": ("bayan", "open"), "Ka": ("bayan", "closed"), "Ke": ("bayan", "closed"), "Ki": ("bayan", "closed"),
    "Kat": ("bayan", "closed"),
}
# Bols made of strokes on both drums at once.
BOTH_DRUMS: dict[str, tuple[str, ...]] = {"Dha": ("Na", "Ge"), "Dhin": ("Tin", "Ge"), "Dhi": ("Ti", "Ge"),
                                          "Dhit": ("Tit", "Ge")}
# Bols that fill their matra with several bols in turn.
COMPOUNDS: dict[str, tuple[str, ...]] = {"Dhage": ("Dha", "Ge"), "Take": ("Ta", "Ke"),
                                         "Tirakita": ("Ti", "Ra", "Ki", "Ta")}
BOLS: tuple[str, ...] = tuple(BOTH_DRUMS) + tuple(STROKES) + tuple(COMPOUNDS)

# The khali (empty) form of a bol: the bayan's open stroke is left out or closed.
KHALI: dict[str, str] = {"Dha": "Ta", "Dhin": "Tin", "Dhi": "Ti", "Dhit": "Tit", "Ge": "Ke", "Dhage": "Take"}

# Other spellings, folded (see `_fold`), of canonical bols.
_ALIASES = {
    "tu": "Tun", "ton": "Tun", "tn": "Tun", "kath": "Kat", "kt": "Kat", "ghe": "Ge", "gha": "Ge", "ga": "Ge",
    "gi": "Ge", "ghi": "Ge", "gey": "Ge", "dhet": "Dhit", "dhite": "Dhit", "tite": "Tit", "tet": "Tit",
    "tirkit": "Tirakita", "tirakit": "Tirakita", "tirkita": "Tirakita", "tirikita": "Tirakita",
    "tirikit": "Tirakita", "terekite": "Tirakita", "terekita": "Tirakita", "tereketa": "Tirakita",
    "trkt": "Tirakita", "dhagi": "Dhage", "dhagey": "Dhage", "dhaghe": "Dhage", "dhege": "Dhage",
    "taki": "Take", "tage": "Take",
}
_VOWEL_RUNS = ((re.compile("a+"), "a"), (re.compile("(ee|ii|i)+"), "i"), (re.compile("(oo|uu|u)+"), "u"),
               (re.compile("e+"), "e"))


def _fold(word: str) -> str:
    """Lower case, accents and apostrophes dropped, long vowels written once (Dhā, Dhaa -> dha)."""
    text = unicodedata.normalize("NFKD", word)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[^a-z]", "", text)
    for pattern, short in _VOWEL_RUNS:
        text = pattern.sub(short, text)
    return text


_SPELLINGS: dict[str, str] = {_fold(bol): bol for bol in BOLS}
_SPELLINGS.update({_fold(alias): bol for alias, bol in _ALIASES.items()})


def normalise(word: str) -> str | None:
    """The canonical bol a spelling stands for (`Dhaa` -> `Dha`, `TiRaKiTa` -> `Tirakita`), `-` for a rest, else None."""
    if word in ("-", "S", "_"):
        return SILENCE
    if word in _SPELLINGS.values():
        return word
    folded = _fold(word)
    return _SPELLINGS.get(folded) if folded else None


def split_joined(word: str) -> list[str] | None:
    """Bols written joined with capitals (`DhaTi`, `NaGeTin`), each normalised; None when one is unknown."""
    parts = re.findall(r"[A-Z][^A-Z]*", word)
    if len(parts) < 2 or "".join(parts) != word:
        return None
    bols = [normalise(p) for p in parts]
    return None if None in bols else bols  # type: ignore[return-value]


def suggest(word: str) -> str | None:
    """The known bol whose spelling is nearest to an unknown word, for 'did you mean'."""
    folded = _fold(word) or word.lower()
    close = difflib.get_close_matches(folded, list(_SPELLINGS), n=1, cutoff=0.5)
    return _SPELLINGS[close[0]] if close else None


def khali(bol: str) -> str:
    """The bol with the bayan's open stroke left out (Dha -> Ta, Dhin -> Tin); others unchanged."""
    return KHALI.get(bol, bol)


def strokes(bol: str) -> tuple[str, ...]:
    """The drum strokes sounding together for a single-matra, non-compound bol (Dha -> Na, Ge)."""
    if bol in BOTH_DRUMS:
        return BOTH_DRUMS[bol]
    if bol in STROKES:
        return (bol,)
    if bol == SILENCE:
        return ()
    raise ValueError(f"{bol!r} is not a single-stroke bol")


def has_bayan_open(bol: str) -> bool:
    """Whether the bol sounds the bayan's open stroke (the mark of bhari, not khali, playing)."""
    if bol in COMPOUNDS:
        return any(has_bayan_open(b) for b in COMPOUNDS[bol])
    return bol != SILENCE and "Ge" in strokes(bol)


def has_bayan_open_matra(matra: tuple[str, ...]) -> bool:
    """Whether any bol of a matra sounds the bayan's open stroke."""
    return any(has_bayan_open(b) for b in matra)
