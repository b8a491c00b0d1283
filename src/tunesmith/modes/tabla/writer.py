"""The tabla mode's writer: compositions kept true to the tala and to their form, for the shared sampler.

The writer forces the `tala:` line and lets the model choose the form among
those that fit the frame (and open with the primer, if any); the form's plan
(plans.py) then says, matra by matra, what the model writes and what the
writer plays itself by the corpus's rules: theka, khali halves, the
tihai's repeats and gaps. Throughout, the writer counts matras: at each
vibhag boundary it writes `|`, at the end of each cycle `||` and a newline,
and after the plan's cycles comes the sam it lands on (struck with the
bayan open, like Dha or Dhin, or with the theka's own sam bol). Where the
model writes, the mask allows only what makes a matra (a bol, `-`, or a
bracket group of 2-4 bols), and in a kaida's variations and closing tihai
only the theme's bols. `--free` turns all this off (the model then writes
marks and ends where it likes).
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from dataclasses import replace

import numpy as np

from ...codecs.tabla_bols import known_talas
from ...errors import TunesmithError
from ...generate import QueuedWriter, write_batched
from ...music.tabla.bols import BOLS, SILENCE, has_bayan_open
from ...music.tabla.notation import MAX_TEMPO, Composition, Matra, fold_group, parse_matras, read_block, theka
from ...music.tabla.talas import Tala, get_tala
from ..base import GenerateRequest
from .options import COUNTED_CYCLES, DEFAULT_CYCLES, DEFAULT_TALA, DEFAULT_TEMPO, MAX_CYCLES, RENDERS
from .plans import FORMS, Plan, Slot, admits, counted, forced_matra, in_material, longest, make_plan, strokes_of

MAX_GROUP = 4            # bols sharing one matra, at most (the corpus has up to 4)


class Symbols:
    """A codec's ids by role, and the masks of the writer's states (built once per codec)."""

    def __init__(self, codec, tala: Tala):
        index, vocab = codec.index, codec.vocab
        self.size = len(vocab)
        self.newline, self.bar, self.cycle_end = index["\n"], index["|"], index["||"]
        self.open, self.close, self.rest = index["["], index["]"], index["-"]
        self.bols = [i for i, s in enumerate(vocab) if s in BOLS]
        self.forms = [i for i, s in enumerate(vocab) if s.startswith("form: ")]
        self.matra_ids = set(self.bols) | {self.rest}
        # Sam is struck with the bayan open (Dha, Dhin ...), or with the theka's own first bol (Tin in rupak).
        sam = theka(tala)[0]
        self.landing = [i for i in self.bols if has_bayan_open(vocab[i]) or (vocab[i],) == sam]
        # A whole silent matra in a kaida or rela only where the tala's theka has one (deepchandi), as in the corpus.
        self.rest_in_themes = (SILENCE,) in theka(tala)
        self.codec = codec
        self._masks: dict[tuple, np.ndarray] = {}
        self._allowed = {
            "matra": self.bols + [self.rest, self.open], "first": self.bols + [self.rest],
            "item": self.bols + [self.rest, self.close], "close": [self.close], "landing": self.landing,
        }

    def mask(self, state: str, only: frozenset[int] | None = None) -> np.ndarray:
        """The allowed ids in a writer state, among `only` where given (cached: states repeat at every step)."""
        key = (state, only)
        if key not in self._masks:
            allowed = np.zeros(self.size, dtype=bool)
            ids = self._allowed[state] if state != "form" else list(only or ())
            if only is not None and state != "form":
                kept = [i for i in ids if i in only or i == self.close]
                ids = kept if kept else ids   # nothing of `only` can go here (a landing): the state's own
            allowed[ids] = True
            self._masks[key] = allowed
        return self._masks[key]

    def matra_ids_of(self, matra: Matra) -> list[int]:
        """The ids that write one matra."""
        if len(matra) == 1:
            return [self.codec.index[matra[0]]]
        return [self.open] + [self.codec.index[b] for b in matra] + [self.close]

    def matra_of(self, ids: list[int]) -> Matra:
        """The matra a bol, a rest or a bracket group's items write, as the notation's reader reads it."""
        return fold_group([self.codec.vocab[i] for i in ids])


class TablaWriter(QueuedWriter):
    """One composition being written: forced header and marks, the form's plan, masks that keep the tala."""

    def __init__(self, sym: Symbols, tala: Tala, plans: dict[int, Plan], header: list[int], primer: list[Matra],
                 free: bool, max_symbols: int):
        super().__init__(max_symbols, deque(header))
        self.sym, self.tala, self.free = sym, tala, free
        self.marks = self.queue                    # forced first: the header, then vibhag/cycle marks
        self.primer = primer                       # the first matras, the user's
        self.plans = plans                         # form id -> its plan (the forms this writer may write)
        self.pending: deque[int] = deque()         # the ids of a matra the plan or the primer forces
        self.matras: list[Matra] = []
        self.group: list[int] | None = None        # the items of a bracket group being written
        self.theme_ids: frozenset[int] | None = None
        given = [i for i in header if i in sym.forms]
        self.plan: Plan | None = plans[given[0]] if given and not free else None
        self.stage = "form" if not free and not given and plans else "body"
        if self.stage == "body" and not free and self.plan is None:
            self.plan = plans.get(-1)              # a model without form lines: counted cycles only
        self.form_mask = frozenset(plans) - {-1}
        self._all = sym.bols + [sym.rest, sym.open]
        self._marking = False                      # the id being written is a mark: structure, not music

    @property
    def kaida_like(self) -> bool:
        return self.plan is not None and self.plan.form in ("kaida", "rela")

    def _prepare(self) -> None:
        """Queue the next matra's ids when the primer or the plan forces it."""
        if self.stage != "body" or self.marks or self.pending or self.group is not None:
            return
        i = len(self.matras)
        if i < len(self.primer):
            matra = self.primer[i]
        elif self.free or self.plan is None or i >= len(self.plan.slots):
            return
        else:
            matra = forced_matra(self.plan.slots[i], self.matras)
        if matra is not None:
            self.pending.extend(self.sym.matra_ids_of(matra))

    def forced(self) -> int | None:
        """A mark or header id first; then, in the body, a forced matra's."""
        self._marking = bool(self.marks)
        if self._marking:
            return self.marks.popleft()
        self._prepare()
        return self.pending.popleft() if self.pending else None

    def take(self, sym: int, forced: bool) -> None:
        """Note where in the tala and in the plan the composition now is (marks are not counted)."""
        if not self._marking:
            self._observe(sym)
        if self.stage == "end" and not self.marks:
            self.done = True
        elif self.free and not self.marks and not self.pending and self.ids[-2:] == [self.sym.newline] * 2:
            self.done = True

    def _observe(self, sym: int) -> None:
        s = self.sym
        if self.stage == "form":
            if sym in s.forms:
                self.plan = self.plans[sym]
                self.marks.append(s.newline)
                self.stage = "body"
        elif self.stage == "body" and (not self.free or len(self.matras) < len(self.primer)):
            if sym == s.open and self.group is None:
                self.group = []
            elif self.group is not None:
                if sym == s.close:
                    matra, self.group = s.matra_of(self.group), None
                    self._matra_done(matra)
                else:
                    self.group.append(sym)
            elif sym in s.matra_ids:
                self._matra_done(s.matra_of([sym]))

    def _matra_done(self, matra: Matra) -> None:
        self.matras.append(matra)
        count = len(self.matras)
        if self.plan is not None and count == self.plan.cycles * self.tala.matras + 1:                      # the landing sam: the composition ends
            self.marks.extend([self.sym.newline, self.sym.newline])
            self.stage = "end"
        elif count % self.tala.matras == 0:
            self.marks.extend([self.sym.cycle_end, self.sym.newline])
        elif count % self.tala.matras in self.tala.boundaries:
            self.marks.append(self.sym.bar)

    def _only(self, slot: Slot) -> frozenset[int] | None:
        """The ids a free slot may use: the theme's bols for a variation or a closing tihai; no bare rest in a kaida."""
        s = self.sym
        if slot.theme:
            if self.theme_ids is None:
                start, end = self.plan.theme
                theme = self.matras[start:end]
                material = strokes_of(theme)
                ids = {i for i in s.bols if in_material(s.codec.vocab[i], material)}
                ids |= {s.rest} if any(SILENCE in m for m in theme) else set()
                ids |= {s.open} if any(len(m) > 1 for m in theme) else set()
                self.theme_ids = frozenset(ids)
            only = self.theme_ids
        elif self.kaida_like:
            only = frozenset(s.bols) | {s.open}
        else:
            return None
        if self.kaida_like and not s.rest_in_themes and self.group is None:
            only = only - {s.rest}
        return only

    def mask(self) -> np.ndarray | None:
        """Which ids may come next: None while forcing or writing freely."""
        self._prepare()
        if self.marks or self.pending or self.free:
            return None   # forced, or --free: the model writes as it likes
        if self.stage == "form":
            return self.sym.mask("form", self.form_mask)
        if self.plan is None or self.stage != "body":
            return None
        slot = self.plan.slots[len(self.matras)]
        only = self._only(slot)
        if self.group is None:
            if slot.avoid is not None:   # a single bol not played; a group not opened (the theka's may be one)
                avoid = self.sym.codec.index[slot.avoid[0]] if len(slot.avoid) == 1 else self.sym.open
                only = (only if only is not None else frozenset(self._all)) - {avoid}
            return self.sym.mask("landing" if slot.lands else "matra", only)
        items = len(self.group)
        if items < 2:
            return self.sym.mask("first", only)
        return self.sym.mask("item" if items < MAX_GROUP else "close", only)


def _primer(text: str | None, tala: Tala, cycles: int | None, sym: Symbols) -> tuple[list[int], list[Matra]]:
    """(ids of a forced `form:` line, the primer's matras): `theka` is one cycle of the tala's theka."""
    if not text:
        return [], []
    form: list[int] = []
    first, _, rest = text.partition("\n")
    if first.strip().lower().startswith("form:"):
        line = "form: " + first.split(":", 1)[1].strip().lower()
        if line not in sym.codec.index:
            known = ", ".join(sym.codec.vocab[i][6:] for i in sym.forms)
            raise TunesmithError(f"--primer: the model knows no {line!r} (its forms: {known})")
        form, text = [sym.codec.index[line], sym.newline], rest
    if not text.strip():
        return form, []
    matras = theka(tala) if text.strip().lower() == "theka" else parse_matras(text, tala, "--primer")
    if cycles is not None and len(matras) > cycles * tala.matras:
        raise TunesmithError(f"--primer has {len(matras)} matras, more than --cycles {cycles} of {tala.name} "
                             f"({cycles * tala.matras}); ask for more cycles")
    unknown = sorted({b for m in matras for b in m if b not in sym.codec.index})
    if unknown:
        raise TunesmithError(f"--primer: the model never saw the bols {', '.join(unknown)}")
    return form, matras


def _settings(req: GenerateRequest, codec) -> tuple[Tala, int | None, float, int]:
    """The request's tala, cycles, tempo and cap on symbols, each checked."""
    from . import MODE

    opt = MODE.options_of(req)
    if codec.name != "tabla-bols":
        raise TunesmithError(f"this model's codec is {codec.name}, not tabla-bols")
    tala = get_tala(opt.tala or DEFAULT_TALA)
    if f"tala: {tala.name}" not in codec.index:
        known = ", ".join(known_talas(codec.vocab))
        raise TunesmithError(f"--tala {tala.name}: this model never saw it (it knows {known})")
    cycles = DEFAULT_CYCLES if opt.cycles is None else opt.cycles
    if cycles is not None and not 1 <= cycles <= MAX_CYCLES:
        raise TunesmithError(f"--cycles must be 1 to {MAX_CYCLES} (got {cycles})")
    tempo = DEFAULT_TEMPO if opt.tempo is None else opt.tempo
    if not 0 < tempo <= MAX_TEMPO:
        raise TunesmithError(f"--tempo {tempo:g}: must be above 0 and at most {MAX_TEMPO:g} matras per minute")
    most = cycles if cycles is not None else max(longest(tala), COUNTED_CYCLES)
    worst = 8 + most * (tala.matras * (MAX_GROUP + 2) + len(tala.vibhags) + 1)
    # Unless a cap is asked for, it is whatever the frame needs (at least the usual one).
    cap = max(MODE.max_length, worst) if req.max_length is None else req.max_length
    if not req.free and cap < worst:
        raise TunesmithError(f"--max-length {cap}: {most} cycles of {tala.name} may need {worst} symbols")
    kinds = set(req.render)
    if kinds - set(RENDERS):
        raise TunesmithError(f"--render: {', '.join(sorted(kinds - set(RENDERS)))} is not for tabla; "
                             f"choose from {', '.join(RENDERS)} (drone and theka add to the WAV)")
    if kinds and req.output is None:
        raise TunesmithError("--render writes files beside the text file: name it with -o, e.g. -o kaida.txt")
    if kinds & {"drone", "theka"} and "wav" not in kinds:
        raise TunesmithError("--render drone/theka are layers of the WAV: add wav, e.g. --render wav,drone")
    return tala, cycles, tempo, cap


def _plans(sym: Symbols, tala: Tala, cycles: int | None, form: list[int], primer: list[Matra],
           rng: random.Random) -> dict[int, Plan]:
    """Form id -> plan, for the forms that fit the frame and the primer (-1: a model without form lines)."""
    counted_cycles = cycles or COUNTED_CYCLES
    plans: dict[int, Plan] = {}
    for i in sym.forms:
        name = sym.codec.vocab[i][6:]
        plan = make_plan(name, tala, cycles, rng) if name in FORMS else counted(name, tala, counted_cycles)
        if plan is not None and admits(plan, primer):
            plans[i] = plan
    if not sym.forms:
        plans[-1] = counted("", tala, counted_cycles)
    wanted = [i for i in form if i in sym.forms]
    frame = f"{cycles} cycles of {tala.name}" if cycles else tala.name
    if wanted and wanted[0] not in plans:
        name = sym.codec.vocab[wanted[0]][6:]
        fits = make_plan(name, tala, cycles, random.Random(0)) is not None
        why = "--primer does not open it as the corpus builds one" if fits else "it cannot fill them"
        raise TunesmithError(f"a {name} in {frame}: {why} ({_fits_note(tala, cycles, sym)})")
    if not plans:
        raise TunesmithError(f"--primer opens no form the model knows in {frame} ({_fits_note(tala, cycles, sym)})")
    return plans


def _fits_note(tala: Tala, cycles: int | None, sym: Symbols) -> str:
    names = [sym.codec.vocab[i][6:] for i in sym.forms]
    fit = [n for n in names if n not in FORMS or make_plan(n, tala, cycles, random.Random(0)) is not None]
    return f"forms that fit {cycles or 'the'} cycles: {', '.join(fit) or 'none'}; leave --cycles out for each form's own length"


def generate_compositions(ckpt, req: GenerateRequest) -> list[Composition | str]:
    """`req.n` compositions (text when `--free` writing does not read as one), numbered from 1."""
    if req.n < 1:
        raise TunesmithError(f"-n must be at least 1 (got {req.n})")
    req.sampling.check()
    codec = ckpt.codec
    tala, cycles, tempo, cap = _settings(req, codec)
    sym = Symbols(codec, tala)
    form, matras = _primer(req.primer, tala, cycles, sym)
    header = [codec.index[f"tala: {tala.name}"], sym.newline] + form
    numbers = itertools.count()

    def writer() -> TablaWriter:
        # Each writer's own choices (a tihai's phrase and gaps) come from the seed and its number, not the batch.
        rng = random.Random(f"tabla {req.seed} {next(numbers)}")
        plans = {} if req.free else _plans(sym, tala, cycles, form, matras, rng)
        return TablaWriter(sym, tala, plans, header, list(matras), req.free, cap)

    out: list[Composition | str] = []
    for writer_done in write_batched(ckpt, req.n, writer, req.sampling, req.seed):
        number = len(out) + 1
        text = codec.decode(writer_done.ids).rstrip("\n")
        lines = list(enumerate(text.split("\n"), 1))
        reading = read_block([(i, line) for i, line in lines if line.strip()], number)
        comp = reading.composition
        if comp is None:
            if not req.free:
                raise AssertionError(f"tala-true writer produced a bad composition: {reading.problems}\n{text}")
            first, _, rest = text.partition("\n")
            out.append(f"title: Generated composition {number} (free)\n{first}\ntempo: {tempo:g}\n{rest}\n")
        else:
            out.append(replace(comp, title=f"Generated {comp.form or 'composition'} {number} in {tala.name}",
                               tempo=tempo))
    return out
