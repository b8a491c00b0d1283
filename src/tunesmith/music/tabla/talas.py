"""Talas: rhythmic cycles of matras (beats) grouped into vibhags, with their thekas.

Each vibhag is marked by a clap (tali, numbered; the first is sam, `X`) or a
wave (khali, `0`), where the bayan's open strokes go quiet in the theka. Sam,
the first matra, is where a cycle starts and where compositions land. Rupak
is the tala whose cycle begins on khali.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ...errors import TunesmithError


@dataclass(frozen=True)
class Tala:
    """A cycle: its vibhags' lengths in matras, their marks (X sam, 0 khali, numbers tali) and theka."""

    name: str
    vibhags: tuple[int, ...]
    marks: tuple[str, ...]
    theka: str              # in the notation of music.tabla.notation, one cycle

    @property
    def matras(self) -> int:
        """Matras in one cycle."""
        return sum(self.vibhags)

    @property
    def boundaries(self) -> tuple[int, ...]:
        """Matras counted from sam at which each vibhag after the first begins."""
        ends, total = [], 0
        for length in self.vibhags[:-1]:
            total += length
            ends.append(total)
        return tuple(ends)

    @property
    def shape(self) -> str:
        """The vibhags as people write them: 4+4+4+4."""
        return "+".join(map(str, self.vibhags))

    def khali_vibhags(self) -> tuple[int, ...]:
        """Indices of the vibhags shown with a wave (0)."""
        return tuple(i for i, mark in enumerate(self.marks) if mark.startswith("0"))

    def mark_at(self, matra: int) -> str:
        """The mark (X, 0, 2 ...) of the vibhag that starts at `matra` (0-based), or "" inside a vibhag."""
        starts = (0,) + self.boundaries
        return self.marks[starts.index(matra)] if matra in starts else ""


TALAS: dict[str, Tala] = {t.name: t for t in (
    Tala("teentaal", (4, 4, 4, 4), ("X", "2", "0", "3"),
         "Dha Dhin Dhin Dha | Dha Dhin Dhin Dha | Dha Tin Tin Ta | Ta Dhin Dhin Dha ||"),
    Tala("jhaptaal", (2, 3, 2, 3), ("X", "2", "0", "3"), "Dhi Na | Dhi Dhi Na | Ti Na | Dhi Dhi Na ||"),
    Tala("ektaal", (2, 2, 2, 2, 2, 2), ("X", "0", "2", "0", "3", "4"),
         "Dhin Dhin | Dhage Tirakita | Tun Na | Kat Ta | Dhage Tirakita | Dhi Na ||"),
    Tala("rupak", (3, 2, 2), ("0", "1", "2"), "Tin Tin Na | Dhi Na | Dhi Na ||"),
    Tala("keherwa", (4, 4), ("X", "0"), "Dha Ge Na Ti | Na Ka Dhi Na ||"),
    Tala("dadra", (3, 3), ("X", "0"), "Dha Dhi Na | Dha Ti Na ||"),
    Tala("jhoomra", (3, 4, 3, 4), ("X", "2", "0", "3"),
         "Dhin [- Dha] Tirakita | Dhin Dhin Dhage Tirakita | Tin [- Ta] Tirakita | Dhin Dhin Dhage Tirakita ||"),
    Tala("deepchandi", (3, 4, 3, 4), ("X", "2", "0", "3"),
         "Dha Dhin - | Dha Dha Tin - | Ta Tin - | Dha Dha Dhin - ||"),
    # The talas below have thekas and lehras but no compositions in the bundled corpus (CORPUS_TALAS), so the
    # shipped model has never seen them. Their thekas are the references' (docs/tabla.md, "More talas"), spelt
    # in tunesmith's bols: Din -> Dhin, Tu -> Tun, Kita -> [Ki Ta], Tita -> [Ti Ta], Kata -> [Ka Ta],
    # Gadi -> [Ge Ti], Gana -> [Ge Na], Ga -> Ge, S (avagraha) -> -.
    Tala("adachautal", (2, 2, 2, 2, 2, 2, 2), ("X", "2", "0", "3", "0", "4", "0"),
         "Dhin Tirakita | Dhi Na | Tun Na | Kat Ta | Tirakita Dhin | Na Dhin | Dhin Na ||"),
    Tala("tilwada", (4, 4, 4, 4), ("X", "2", "0", "3"),
         "Dha Tirakita Dhin Dhin | Dha Dha Tin Tin | Ta Tirakita Dhin Dhin | Dha Dha Dhin Dhin ||"),
    Tala("dhamar", (5, 2, 3, 4), ("X", "2", "0", "3"), "Ka Dhi Ta Dhi Ta | Dha - | Ge Ti Ta | Ti Ta Ta - ||"),
    Tala("chautal", (2, 2, 2, 2, 2, 2), ("X", "0", "2", "0", "3", "4"),
         "Dha Dha | Dhin Ta | [Ki Ta] Dha | Dhin Ta | [Ti Ta] [Ka Ta] | [Ge Ti] [Ge Na] ||"),
    Tala("sooltaal", (2, 2, 2, 2, 2), ("X", "0", "2", "3", "0"),
         "Dha Dha | Dhin Ta | [Ki Ta] Dha | [Ti Ta] [Ka Ta] | [Ge Ti] [Ge Na] ||"),
)}
# The talas the bundled corpus is written in (corpus/tabla/expand.py), and so the shipped model's.
CORPUS_TALAS: tuple[str, ...] = ("teentaal", "jhaptaal", "ektaal", "rupak", "keherwa", "dadra", "jhoomra",
                                 "deepchandi")

# Other spellings of tala names, folded like bols (lower case, letters only).
_ALIASES = {
    "tintal": "teentaal", "tintaal": "teentaal", "teental": "teentaal", "trital": "teentaal",
    "tritaal": "teentaal", "jhaptal": "jhaptaal", "japtaal": "jhaptaal", "ektal": "ektaal", "ektala": "ektaal",
    "rupaktaal": "rupak", "rupaktal": "rupak", "roopak": "rupak", "kaharwa": "keherwa", "kaherwa": "keherwa",
    "keharwa": "keherwa", "kehrwa": "keherwa", "dadara": "dadra", "jhumra": "jhoomra", "jhoomratal": "jhoomra",
    "dipchandi": "deepchandi", "deepchandi": "deepchandi", "chanchar": "deepchandi",
    "adachautaal": "adachautal", "adachartal": "adachautal", "adachartaal": "adachautal", "adachoutal": "adachautal",
    "tilwara": "tilwada", "tilvada": "tilwada", "tilwadatal": "tilwada", "dhamaar": "dhamar", "dhamartal": "dhamar",
    "chautaal": "chautal", "chartal": "chautal", "chartaal": "chautal", "choutal": "chautal", "sultal": "sooltaal",
    "sultaal": "sooltaal", "sooltal": "sooltaal", "shooltal": "sooltaal", "shultal": "sooltaal",
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def find_tala(name: str) -> Tala | None:
    """The tala a name or spelling stands for (Tintal, TEENTAAL, jhap-taal), else None."""
    key = _key(name)
    key = _ALIASES.get(key, key)
    return TALAS.get(key)


def suggest_tala(name: str) -> str | None:
    """The known tala name nearest to an unknown one."""
    close = difflib.get_close_matches(_key(name), list(TALAS) + list(_ALIASES), n=1, cutoff=0.5)
    return _ALIASES.get(close[0], close[0]) if close else None


def unknown_tala_message(name: str) -> str:
    """'unknown tala ...; did you mean ...?' with the list of known talas."""
    near = suggest_tala(name)
    hint = f"; did you mean {near!r}?" if near else ""
    return f"unknown tala {name!r}{hint} (known: {', '.join(TALAS)})"


def get_tala(name: str, where: str = "--tala") -> Tala:
    """The tala called `name`, or a TunesmithError naming `where` and the nearest known tala."""
    tala = find_tala(name)
    if tala is None:
        raise TunesmithError(f"{where}: {unknown_tala_message(name)}")
    return tala
