"""The tabla mode's writer: compositions kept true to the tala, for the shared sampler.

The writer forces the `tala:` line, lets the model choose the form, then
counts matras: at each vibhag boundary it writes `|`, at the end of each
cycle `||` and a newline, and after `--cycles` cycles it lets the model
choose the bol it lands on at sam (one with the bayan open, like Dha or
Dhin, or the theka's own sam bol) and ends the composition. In between the
mask allows only what makes a matra (a bol, `-`, or a bracket group of 2-4
bols), so every cycle has exactly the tala's matras. `--free` turns the
counting off (the model then writes marks and ends where it likes).
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import numpy as np

from ...errors import TunesmithError
from ...generate import QueuedWriter, write_batched
from ...music.tabla.bols import BOLS, has_bayan_open
from ...music.tabla.notation import MAX_TEMPO, Composition, Matra, parse_matras, read_block, theka
from ...music.tabla.talas import Tala, get_tala
from ..base import GenerateRequest
from .options import DEFAULT_CYCLES, DEFAULT_TALA, DEFAULT_TEMPO, MAX_CYCLES, RENDERS

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
        landing = [i for i in self.bols if has_bayan_open(vocab[i]) or (vocab[i],) == sam]
        self.codec = codec
        self._masks: dict[str, np.ndarray] = {}
        self._allowed = {
            "form": self.forms, "matra": self.bols + [self.rest, self.open], "first": self.bols + [self.rest],
            "item": self.bols + [self.rest, self.close], "close": [self.close], "landing": landing,
        }

    def mask(self, state: str) -> np.ndarray:
        """The allowed ids in a writer state (cached: states repeat at every step)."""
        if state not in self._masks:
            allowed = np.zeros(self.size, dtype=bool)
            allowed[self._allowed[state]] = True
            self._masks[state] = allowed
        return self._masks[state]

    def matra_ids_of(self, matra: Matra) -> list[int]:
        """The ids that write one matra."""
        if len(matra) == 1:
            return [self.codec.index[matra[0]]]
        return [self.open] + [self.codec.index[b] for b in matra] + [self.close]


class TablaWriter(QueuedWriter):
    """One composition being written: forced header and marks, masks that keep the tala (see module docstring)."""

    def __init__(self, sym: Symbols, tala: Tala, cycles: int, header: list[int], primer: list[int],
                 free: bool, max_symbols: int):
        super().__init__(max_symbols, deque(header))
        self.sym, self.tala, self.target, self.free = sym, tala, cycles, free
        self.marks = self.queue                    # forced first: the header, then vibhag/cycle marks
        self.primer: deque[int] = deque(primer)    # forced matras of the primer
        self.stage = "form" if not free and sym.forms and not any(i in sym.forms for i in header) else "body"
        self.pos = self.cycles_done = 0
        self.in_group, self.items = False, 0
        self._marking = False                      # the id being written is a mark: structure, not music

    def forced(self) -> int | None:
        """A mark or header id first; then, in the body, the primer's."""
        self._marking = bool(self.marks)
        if self._marking:
            return self.marks.popleft()
        return self.primer.popleft() if self.primer and self.stage == "body" else None

    def take(self, sym: int, forced: bool) -> None:
        """Note where in the tala the composition now is (marks are not counted)."""
        if not self._marking:
            self._observe(sym)
        if self.stage == "end" and not self.marks:
            self.done = True
        elif self.free and not self.marks and not self.primer and self.ids[-2:] == [self.sym.newline] * 2:
            self.done = True

    def _observe(self, sym: int) -> None:
        s = self.sym
        if self.stage == "form":
            if sym in s.forms:
                self.marks.append(s.newline)
                self.stage = "body"
        elif self.stage == "landing":
            self.marks.extend([s.newline, s.newline])
            self.stage = "end"
        elif self.stage == "body":
            if sym == s.open and not self.in_group:
                self.in_group, self.items = True, 0
            elif self.in_group:
                if sym == s.close:
                    self.in_group = False
                    self._matra_done()
                else:
                    self.items += 1
            elif sym in s.matra_ids:
                self._matra_done()

    def _matra_done(self) -> None:
        if self.free and not self.primer:
            return   # free writing: the model places its own marks
        self.pos += 1
        if self.pos == self.tala.matras:
            self.marks.extend([self.sym.cycle_end, self.sym.newline])
            self.pos = 0
            self.cycles_done += 1
            if self.cycles_done == self.target:
                self.stage = "landing"
        elif self.pos in self.tala.boundaries:
            self.marks.append(self.sym.bar)

    def mask(self) -> np.ndarray | None:
        """Which ids may come next: None while forcing or writing freely."""
        if self.marks or (self.primer and self.stage == "body") or self.free:
            return None
        if self.stage in ("form", "landing"):
            return self.sym.mask(self.stage)
        if not self.in_group:
            return self.sym.mask("matra")
        if self.items < 2:
            return self.sym.mask("first")
        return self.sym.mask("item" if self.items < MAX_GROUP else "close")


def _primer(text: str | None, tala: Tala, cycles: int, sym: Symbols) -> tuple[list[int], list[Matra]]:
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
    if len(matras) > cycles * tala.matras:
        raise TunesmithError(f"--primer has {len(matras)} matras, more than --cycles {cycles} of {tala.name} "
                             f"({cycles * tala.matras}); ask for more cycles")
    unknown = sorted({b for m in matras for b in m if b not in sym.codec.index})
    if unknown:
        raise TunesmithError(f"--primer: the model never saw the bols {', '.join(unknown)}")
    return form, matras


def _settings(req: GenerateRequest, codec) -> tuple[Tala, int, float, int]:
    """The request's tala, cycles, tempo and cap on symbols, each checked."""
    from . import MODE

    opt = MODE.options_of(req)
    if codec.name != "tabla-bols":
        raise TunesmithError(f"this model's codec is {codec.name}, not tabla-bols")
    tala = get_tala(opt.tala or DEFAULT_TALA)
    if f"tala: {tala.name}" not in codec.index:
        known = ", ".join(s[6:] for s in codec.vocab if s.startswith("tala: "))
        raise TunesmithError(f"--tala {tala.name}: this model never saw it (it knows {known})")
    cycles = DEFAULT_CYCLES if opt.cycles is None else opt.cycles
    if not 1 <= cycles <= MAX_CYCLES:
        raise TunesmithError(f"--cycles must be 1 to {MAX_CYCLES} (got {cycles})")
    tempo = DEFAULT_TEMPO if opt.tempo is None else opt.tempo
    if not 0 < tempo <= MAX_TEMPO:
        raise TunesmithError(f"--tempo {tempo:g}: must be above 0 and at most {MAX_TEMPO:g} matras per minute")
    worst = 8 + cycles * (tala.matras * (MAX_GROUP + 2) + len(tala.vibhags) + 1)
    # Unless a cap is asked for, it is whatever the frame needs (at least the usual one).
    cap = max(MODE.max_length, worst) if req.max_length is None else req.max_length
    if not req.free and cap < worst:
        raise TunesmithError(f"--max-length {cap}: {cycles} cycles of {tala.name} may need {worst} symbols")
    kinds = set(req.render)
    if kinds - set(RENDERS):
        raise TunesmithError(f"--render: {', '.join(sorted(kinds - set(RENDERS)))} is not for tabla; "
                             f"choose from {', '.join(RENDERS)} (drone and theka add to the WAV)")
    if kinds and req.output is None:
        raise TunesmithError("--render writes files beside the text file: name it with -o, e.g. -o kaida.txt")
    if kinds & {"drone", "theka"} and "wav" not in kinds:
        raise TunesmithError("--render drone/theka are layers of the WAV: add wav, e.g. --render wav,drone")
    return tala, cycles, tempo, cap


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
    primer = [i for m in matras for i in sym.matra_ids_of(m)]
    out: list[Composition | str] = []
    writers = write_batched(
        ckpt, req.n, lambda: TablaWriter(sym, tala, cycles, header, primer, req.free, cap),
        req.sampling, req.seed)
    for writer in writers:
        number = len(out) + 1
        text = codec.decode(writer.ids).rstrip("\n")
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
