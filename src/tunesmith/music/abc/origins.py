"""Where a tune comes from: the `O:` (origin) header field and its short, normalised values.

ABC 2.1 defines `O:` as the tune's origin ("the geographical origin of
the tune", e.g. `O:England; Yorkshire`), so it is the field a corpus that
records origins puts them in, and the one a model can learn and be asked
for (`generate --origin`). tunesmith keeps only a short normalised value:
the country (or historical region) in English, one of `ORIGINS`. A tune's
`O:` line is kept in the canonical form only when its value is one of them,
so free-text origins (Ryan's `O:SCOTCH.`) are dropped as before.

`GERMAN_NAMES` maps the place names of the Essen folksong collection (whose
`O:` lines read "Europa, Mitteleuropa, Deutschland, Schlesien") to them:
`essen_origin` takes the first name in the line that is a country.
"""

from __future__ import annotations

import re

# Essen's place names (German), as the first country word of an O: line, to the normalised origin.
GERMAN_NAMES: dict[str, str] = {
    "Deutschland": "Germany", "Schwaben": "Germany",
    "China": "China", "Yunnan": "China", "Hunan": "China",
    "Luxemburg": "Luxembourg",
    "Lothringen": "Lorraine", "Frankreich": "France", "Elsass": "France",
    "Jugoslawien": "Yugoslavia",
    "Oesterreich": "Austria", "Oberoesterreich": "Austria", "Tirol": "Austria", "Steiermark": "Austria",
    "Schweiz": "Switzerland", "Schweizland": "Switzerland", "Emmenthal": "Switzerland",
    "Appenzell": "Switzerland", "Entlebug": "Switzerland", "Oberhaslithal": "Switzerland",
    "Siebethal": "Switzerland",
    "Niederlande": "Netherlands", "Flamen": "Belgium", "flaemisch": "Belgium", "Brabant": "Belgium",
    "Belgien": "Belgium",
    "Irland": "Ireland", "England": "England",
    "UdSSR": "Russia", "Russland": "Russia",
    "Ungarn": "Hungary", "Tschechoslowakei": "Czechoslovakia", "Rumaenien": "Romania", "Polen": "Poland",
    "Schweden": "Sweden", "Daenemark": "Denmark", "Norwegen": "Norway", "Island": "Iceland",
    "Finnland": "Finland", "Italien": "Italy", "Griechenland": "Greece",
    "Mexiko": "Mexico", "USA": "USA", "Nord - Amerika": "USA",
    "Vorderer Orient": "Near East", "Brasilien": "Brazil", "Japan": "Japan", "Xinjiang": "China",
    "Indonesion": "Indonesia", "Indien": "India",
}
ORIGINS = frozenset(GERMAN_NAMES.values())
EUROPE = frozenset({
    "Germany", "Luxembourg", "Lorraine", "France", "Yugoslavia", "Austria", "Switzerland", "Netherlands",
    "Belgium", "Ireland", "England", "Russia", "Hungary", "Czechoslovakia", "Romania", "Poland", "Sweden",
    "Denmark", "Norway", "Iceland", "Finland", "Italy", "Greece",
})

def essen_origin(value: str) -> str | None:
    """The normalised origin of an Essen `O:` value ("Europa, Mitteleuropa, Deutschland, Kassel" -> Germany).

    The first part (split at `,` `;` `/`) that names a country wins; None when none does.
    """
    for part in re.split(r"[,;/]", value):
        part = re.sub(r"\s*\(.*$", "", part.strip())   # "Deutschland (BRD)", "England (?)"
        bare = re.sub(r"^(Unter|Nieder|Ober|franzoesische)\s*-?\s*", "", part).strip()  # "Unter - Oesterreich"
        for name in (part, bare):
            if name in GERMAN_NAMES:
                return GERMAN_NAMES[name]
        if part.startswith("Deutschland"):  # "Deutschland Schwaben"
            return "Germany"
        if part.endswith("Oesterreich"):
            return "Austria"
        if part.endswith("Schweiz"):
            return "Switzerland"
    return None
