"""Reading a composition's form back from its matras: is it what its `form:` line says, and where are its parts.

The same rules the corpus is built by (corpus/tabla/expand.py) and the
writer follows (plans.py), checked on any composition, generated or not:

- theka: every cycle the tala's theka, landing on its first bol;
- tihai: the theka from sam, then a phrase of 2 matras or more played three
  times with equal silent gaps, the third ending on the sam it lands on;
- tukda: the theka from sam, a body that is not theka, then such a tihai;
- kaida, rela: from the start, bhari halves each followed by its khali half
  (first half with the bayan closed, second opened again), the first the
  theme and the others (variations) in the theme's bols (those of both its
  halves, compounds taken apart); then a closing tihai in the theme's bols
  landing on sam (at most a theme's half before
  it), unless the piece is one theme or one palta alone, as the corpus's are.

`read_form` gives the verdict and the sections (theme, variations, the
tihai's phrases and gaps), which the web grid shows over the cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ...corpus.tabla.expand import khali_half
from ...music.tabla.bols import SILENCE
from ...music.tabla.notation import Composition, Matra, fold_group, theka
from ...music.tabla.talas import TALAS, Tala
from .plans import PHRASES, Section, half, strokes_of

MAX_GAP = 4           # longer silences between phrases are not read as a tihai's gaps
MAX_PALTA = 3         # a variation's bhari half is at most three theme halves (W of two, then H), as in the corpus


@dataclass(frozen=True)
class FormReading:
    """A composition's form as read: whether it holds (None: no rule for it), its sections, and why not."""

    form: str | None
    in_form: bool | None
    sections: tuple[Section, ...] = ()
    why: str = ""


def _theka_run(matras: list[Matra], tala: Tala) -> int:
    """How many matras from the start follow the theka (from sam, cycle after cycle)."""
    cycle = theka(tala)
    n = 0
    while n < len(matras) and matras[n] == cycle[n % len(cycle)]:
        n += 1
    return n


def _tihais(matras: list[Matra], min_start: int = 0):
    """Every (start, phrase, gap) of a tihai ending the matras (the last is the landing), longest first."""
    total = len(matras)
    found = []
    for gap in range(MAX_GAP + 1):
        for p in range(min(PHRASES), (total - 2 * gap) // 3 + 1):
            start = total - 3 * p - 2 * gap
            if start < min_start:
                break
            phrase = matras[start:start + p]
            if all(m == (SILENCE,) for m in phrase):
                continue
            rest = [(SILENCE,)] * gap
            if matras[start:] == phrase + rest + phrase + rest + phrase:
                found.append((start, p, gap))
    return sorted(found, key=lambda t: (t[0], -t[1]))


def _tihai_sections(start: int, p: int, gap: int, name: str = "") -> list[Section]:
    prefix = f"{name} " if name else ""
    out, at = [], start
    for k in (1, 2, 3):
        out.append(Section(f"{prefix}phrase {k}", at, at + p))
        at += p
        if k < 3 and gap:
            out.append(Section("gap", at, at + gap))
            at += gap
    return out


def _theka_form(matras: list[Matra], tala: Tala) -> FormReading:
    if _theka_run(matras[:-1], tala) == len(matras) - 1 and matras[-1] == theka(tala)[0]:
        return FormReading("theka", True, (Section("theka", 0, len(matras) - 1),))
    return FormReading("theka", False, why="not the tala's theka throughout, landing on its sam")


def _tihai_form(form: str, matras: list[Matra], tala: Tala) -> FormReading:
    lead = _theka_run(matras, tala)
    for start, p, gap in _tihais(matras):
        body = (0, 0) if form == "tihai" else (min(lead, start), start)
        if form == "tihai" and start <= lead or form == "tukda" and body[1] > body[0]:
            sections = [Section("theka", 0, body[0] if form == "tukda" else start)]
            sections += [Section("body", *body)] if form == "tukda" else []
            return FormReading(form, True, tuple(s for s in sections if s.end > s.start)
                               + tuple(_tihai_sections(start, p, gap)))
    if not _tihais(matras):
        why = "it does not end with a phrase played three times landing on sam"
    else:
        why = "the theka does not lead to its tihai" if form == "tihai" else "no body between the theka and the tihai"
    return FormReading(form, False, why=why)


def _khali(bhari: list[Matra]) -> list[Matra]:
    """The corpus's khali half, folded as the reader reads it ([Ta Ge] closed is [Ta Ke], read as Take)."""
    return [fold_group(list(m)) for m in khali_half(bhari)]


def _pairs(matras: list[Matra], h: int, body: int):
    """Parses of the matras from 0 into bhari/khali pairs: lists of (start, bhari length), every way, longest first."""

    @lru_cache(maxsize=None)
    def from_(i: int) -> tuple[tuple[tuple[int, int], ...], ...]:
        out: list[tuple[tuple[int, int], ...]] = [()]
        for size in range(1, MAX_PALTA + 1):
            length = size * h
            if i + 2 * length <= body and matras[i + length:i + 2 * length] == _khali(matras[i:i + length]):
                out += [((i, length),) + rest for rest in from_(i + 2 * length)]
        return tuple(out)

    return sorted((p for p in from_(0) if p), key=lambda p: -sum(2 * n for _, n in p))


def _kaida_form(form: str, matras: list[Matra], tala: Tala) -> FormReading:
    h, body = half(tala), len(matras) - 1
    parses = _pairs(matras, h, body)
    if not parses:
        return FormReading(form, False, why="it does not open with a theme and its khali half")
    for pairs in parses:
        start, length = pairs[0]
        theme = strokes_of(matras[:2 * length])
        end = pairs[-1][0] + 2 * pairs[-1][1]
        if any(not strokes_of(matras[i:i + n]) <= theme for i, n in pairs[1:]):
            continue
        sections = [Section("theme", 0, 2 * length)]
        sections += [Section(f"variation {k}", i, i + 2 * n) for k, (i, n) in enumerate(pairs[1:], 1)]
        if end == body and len(pairs) == 1:
            return FormReading(form, True, tuple(sections))
        for t_start, p, gap in _tihais(matras, min_start=end):
            # The phrase's last bol is the landing: any bol that strikes sam, as the writer allows when
            # the theme has none.
            if t_start - end <= h and strokes_of(matras[t_start:t_start + p - 1]) <= theme:
                lead = [Section("tihai lead", end, t_start)] if t_start > end else []
                return FormReading(form, True, tuple(sections + lead + _tihai_sections(t_start, p, gap, "tihai")))
    return FormReading(form, False, why="its variations leave the theme's bols, or no closing tihai lands on sam")


def read_form(comp: Composition) -> FormReading:
    """The composition's form read from its matras (see the module docstring); None when it has no rule here."""
    if comp.landing is None or comp.landing == (SILENCE,):
        return FormReading(comp.form, False if comp.form else None, why="it does not land on sam")
    tala = TALAS[comp.tala]
    matras = comp.matras()
    if comp.form == "theka":
        return _theka_form(matras, tala)
    if comp.form in ("tihai", "tukda"):
        return _tihai_form(comp.form, matras, tala)
    if comp.form in ("kaida", "rela"):
        return _kaida_form(comp.form, matras, tala)
    return FormReading(comp.form, None)
