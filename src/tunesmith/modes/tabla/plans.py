"""The shape of each form, matra by matra: what the model writes and what follows by the corpus's rules.

A plan gives every matra of a composition (its cycles, then the landing
sam) one slot: *free* (the model writes it, perhaps only with the theme's
bols, perhaps only with a bol that can strike sam), *copy* (an earlier
matra again, perhaps with the bayan closed or opened: the khali half and
the tihai's repeats) or *fixed* (a theka bol, a silent gap). The writer
(writer.py) follows the plan, so each form is true by construction; the
rules are those of the corpus (corpus/tabla/expand.py):

- theka: the tala's theka, cycle after cycle, landing on its first bol;
- tihai: a phrase P written by the model, then P gap P gap P with gaps of
  silent matras, the last bol of the third P on sam, after as much theka as
  that needs (phrases of 2 to 5 matras and gaps of 0 to 2, as in the corpus);
- tukda: a body the model writes, then the tihai of a phrase with gaps of
  one matra (bodies of 7 to 11 matras, phrases of 2 to 4), after theka;
- kaida and rela: the theme's bhari half H (the model) and its khali half;
  variations, each a bhari half in the theme's bols ending with the theme
  (a palta: W + H) and its khali half; a closing tihai in the theme's bols
  landing on sam. A piece of only one theme's length is the theme alone.

Without `--cycles` each form takes the length the corpus gives it (a theka
one cycle; a tihai or tukda the fewest cycles that hold it; a kaida or rela
its theme, one variation and the closing tihai); with `--cycles` the frame
is kept exactly, or the form is not offered when it cannot fill it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ...corpus.tabla.expand import TIHAI_GAPS, TUKDA_GAP, khali_half
from ...music.tabla.bols import COMPOUNDS, SILENCE
from ...music.tabla.notation import Matra, fold_group, theka
from ...music.tabla.talas import Tala

FORMS = ("theka", "kaida", "rela", "tihai", "tukda")
PHRASES = range(2, 6)          # tihai phrases of tihais.txt: 2 to 5 matras
TUKDA_PHRASES = range(2, 5)    # the tukdas' closing phrases: 2 to 4 matras
TUKDA_BODIES = range(7, 12)    # the tukdas' bodies: 7 to 11 matras
KAIDA_UNITS = 3                # theme, one variation, closing tihai (without --cycles)


@dataclass(frozen=True)
class Slot:
    """One matra of a plan (see the module docstring)."""

    kind: str                  # "free", "copy" or "fixed"
    source: int = -1           # copy: the matra copied
    change: str = ""           # copy: "" as it is, "khali" bayan closed, "open" bayan opened (expand.khali_half)
    matra: Matra | None = None  # fixed: the matra
    theme: bool = False        # free: only the theme's bols
    lands: bool = False        # free: one bol that can strike sam
    avoid: Matra | None = None  # free: not this matra (a tukda's body starts off the theka)


@dataclass(frozen=True)
class Section:
    """A named stretch of matras [start, end) of a composition, for people (the web grid) and checks."""

    name: str
    start: int
    end: int


@dataclass(frozen=True)
class Plan:
    """A form laid out: `cycles` cycles of slots, then the landing's slot; its sections."""

    form: str
    cycles: int
    slots: tuple[Slot, ...]
    sections: tuple[Section, ...]

    @property
    def theme(self) -> tuple[int, int]:
        """[start, end) of the theme (bhari and khali halves) whose bols restrict `theme` slots ((0, 0): none)."""
        for s in self.sections:
            if s.name == "theme":
                return s.start, s.end
        return 0, 0


def strokes_of(matras) -> set[str]:
    """The bols of some matras, compounds taken apart (Dhage -> Dha, Ge), rests left out: a theme's material."""
    out: set[str] = set()
    for m in matras:
        for bol in m:
            out.update(COMPOUNDS.get(bol, (bol,)))
    return out - {SILENCE}


def in_material(bol: str, material: set[str]) -> bool:
    """Whether a bol is made of the material's bols (a compound of them counts: Dha and Ge make Dhage)."""
    return set(COMPOUNDS.get(bol, (bol,))) <= material


def half(tala: Tala) -> int:
    """A kaida theme's bhari half in the tala: half a cycle, or a whole odd cycle (rupak), as in themes.txt."""
    return tala.matras // 2 if tala.matras % 2 == 0 else tala.matras


class _Builder:
    def __init__(self):
        self.slots: list[Slot] = []
        self.sections: list[Section] = []

    def add(self, name: str, slots: list[Slot]) -> int:
        start = len(self.slots)
        self.slots += slots
        if name:
            self.sections.append(Section(name, start, len(self.slots)))
        return start

    def theka(self, count: int, tala: Tala) -> None:
        cycle = theka(tala)
        self.add("theka", [Slot("fixed", matra=cycle[i % len(cycle)]) for i in range(count)])

    def tihai(self, phrase: int, gap: int, theme: bool, name: str = "") -> None:
        """P gap P gap P; P's last slot will be the landing (the plan's last)."""
        prefix = f"{name} " if name else ""
        first = self.add(f"{prefix}phrase 1", [Slot("free", theme=theme) for _ in range(phrase - 1)]
                         + [Slot("free", theme=theme, lands=True)])
        for k in (2, 3):
            if gap:
                self.add("gap", [Slot("fixed", matra=(SILENCE,))] * gap)
            self.add(f"{prefix}phrase {k}", [Slot("copy", source=first + i) for i in range(phrase)])

    def paired(self, name: str, bhari: list[Slot]) -> None:
        """A bhari half and its khali half by the corpus's rule (first half closed, second opened)."""
        start = len(self.slots)
        cut = len(bhari) // 2
        khali = [Slot("copy", source=start + i, change="khali" if i < cut else "open") for i in range(len(bhari))]
        self.add(name, bhari + khali)

    def plan(self, form: str) -> Plan:
        body = len(self.slots) - 1
        return Plan(form, body, tuple(self.slots), tuple(self.sections))


def _theka(tala: Tala, cycles: int | None) -> Plan:
    b = _Builder()
    cycles = cycles or 1
    b.theka(cycles * tala.matras, tala)
    b.add("", [Slot("fixed", matra=theka(tala)[0])])
    return _with_cycles(b.plan("theka"), tala)


def _with_cycles(plan: Plan, tala: Tala) -> Plan:
    cycles, extra = divmod(len(plan.slots) - 1, tala.matras)
    assert extra == 0, f"{plan.form}: {len(plan.slots) - 1} matras are not whole cycles of {tala.name}"
    return Plan(plan.form, cycles, plan.slots, plan.sections)


def _landed(tala: Tala, cycles: int | None, length: int) -> int | None:
    """Matras of theka before a tail of `length` matras (its last on sam): the corpus's fill, or to fill `cycles`."""
    body = length - 1
    total = cycles * tala.matras if cycles else body + (-body % tala.matras)
    return total - body if total >= body else None


def _tihai(tala: Tala, cycles: int | None, rng: random.Random) -> Plan | None:
    shapes = [(p, g) for p in PHRASES for g in TIHAI_GAPS if _landed(tala, cycles, 3 * p + 2 * g) is not None]
    if not shapes:
        return None
    p, g = rng.choice(shapes)
    b = _Builder()
    b.theka(_landed(tala, cycles, 3 * p + 2 * g), tala)
    b.tihai(p, g, theme=False)
    return _with_cycles(b.plan("tihai"), tala)


def _tukda(tala: Tala, cycles: int | None, rng: random.Random) -> Plan | None:
    shapes = [(body, p) for body in TUKDA_BODIES for p in TUKDA_PHRASES
              if _landed(tala, cycles, body + 3 * p + 2 * TUKDA_GAP) is not None]
    if not shapes:
        return None
    body, p = rng.choice(shapes)
    b = _Builder()
    lead = _landed(tala, cycles, body + 3 * p + 2 * TUKDA_GAP)
    b.theka(lead, tala)
    # The body is the tukda's own: it leaves the theka at once, so that it is not read as more theka.
    off = theka(tala)[lead % tala.matras]
    b.add("body", [Slot("free", avoid=off)] + [Slot("free") for _ in range(body - 1)])
    b.tihai(p, TUKDA_GAP, theme=False)
    return _with_cycles(b.plan("tukda"), tala)


def _closing_shape(room: int) -> tuple[int, int] | None:
    """(phrase, gap) of the tihai that fills most of `room` matras (its landing included)."""
    shapes = [(3 * p + 2 * g, p, g) for p in PHRASES for g in TIHAI_GAPS if 3 * p + 2 * g <= room]
    return max(shapes)[1:] if shapes else None


def variation_sizes(units: int) -> list[int]:
    """Variations (in theme lengths) filling `units`: paltas of 2 as most of the corpus's, one of 3 or 1 for the rest."""
    if units <= 1:
        return [1] if units == 1 else []
    return ([3] if units % 2 else []) + [2] * ((units - 3 * (units % 2)) // 2)


def _kaida(form: str, tala: Tala, cycles: int | None) -> Plan | None:
    h = half(tala)
    unit = 2 * h
    total = cycles * tala.matras if cycles else KAIDA_UNITS * unit
    units, rest = divmod(total, unit)
    if units == 0:
        return None
    b = _Builder()
    b.paired("theme", [Slot("free") for _ in range(h)])
    if units == 1 and not rest:      # the theme alone, as the corpus's theme pieces; it lands by the model
        b.add("", [Slot("free", lands=True)])
        return _with_cycles(b.plan(form), tala)
    room = (rest if units == 1 else unit + rest) + 1       # the closing tihai's matras, its landing included
    shape = _closing_shape(room)
    if shape is None:
        return None
    for k, size in enumerate(variation_sizes(units - 2) if units >= 2 else [], 1):
        # A palta is W + H: W in the theme's bols, H the theme again; one of a single theme length keeps H's end.
        keep = h if size > 1 else h - h // 2
        w = [Slot("free", theme=True) for _ in range(size * h - keep)]
        b.paired(f"variation {k}", w + [Slot("copy", source=i) for i in range(h - keep, h)])
    p, g = shape
    lead = room - 3 * p - 2 * g
    if lead:   # the tihai starts from the theme's opening
        b.add("tihai lead", [Slot("copy", source=i % h) for i in range(lead)])
    b.tihai(p, g, theme=True, name="tihai")
    return _with_cycles(b.plan(form), tala)


def make_plan(form: str, tala: Tala, cycles: int | None, rng: random.Random) -> Plan | None:
    """The plan of `form` in `cycles` cycles of `tala` (None: the form's own length); None when it cannot fit."""
    if form == "theka":
        return _theka(tala, cycles)
    if form == "tihai":
        return _tihai(tala, cycles, rng)
    if form == "tukda":
        return _tukda(tala, cycles, rng)
    if form in ("kaida", "rela"):
        return _kaida(form, tala, cycles)
    return None


def longest(tala: Tala) -> int:
    """The most cycles any form takes without `--cycles` (for the cap on symbols)."""
    body = max(KAIDA_UNITS * 2 * half(tala), max(TUKDA_BODIES) + 3 * max(TUKDA_PHRASES) + 2 * TUKDA_GAP,
               3 * max(PHRASES) + 2 * max(TIHAI_GAPS))
    return -(-body // tala.matras)


def counted(form: str, tala: Tala, cycles: int) -> Plan:
    """A form without a rule here (a user's model may know one): every matra the model's, landing on sam."""
    b = _Builder()
    b.add("", [Slot("free") for _ in range(cycles * tala.matras)] + [Slot("free", lands=True)])
    return _with_cycles(b.plan(form), tala)


def changed(matra: Matra, change: str) -> Matra:
    """A matra with the bayan closed ("khali") or opened ("open") by the corpus's rule for khali halves
    (expand.khali_half closes the first half of a bhari half and opens the second)."""
    # Folded as the reader reads it: [Ta Ge] closed is [Ta Ke], which reads as Take.
    if change == "khali":
        return fold_group(list(khali_half([matra, matra])[0]))
    if change == "open":
        return fold_group(list(khali_half([matra])[0]))
    return matra


def forced_matra(slot: Slot, written: list[Matra]) -> Matra | None:
    """What a copy or fixed slot plays, given the matras written before it (None: the model's to write)."""
    if slot.kind == "copy":
        return changed(written[slot.source], slot.change)
    return slot.matra if slot.kind == "fixed" else None


def admits(plan: Plan, primer: list[Matra]) -> bool:
    """Whether a primer can open this plan: it fits, and agrees with every matra the plan forces under it."""
    if len(primer) > len(plan.slots) - 1:
        return False
    return all(forced_matra(plan.slots[i], primer[:i]) in (None, m) for i, m in enumerate(primer))
