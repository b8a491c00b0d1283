"""The tabla mode: compositions in bols, one symbol per bol, kept true to the tala.

Generation runs one `TablaWriter` per composition through the shared
sampler. The writer forces the `tala:` line, lets the model choose the
form, then counts matras: at each vibhag boundary it writes `|`, at the end
of each cycle `||` and a newline, and after `--cycles` cycles it lets the
model choose the bol it lands on at sam (one with the bayan open, like Dha
or Dhin, or the theka's own sam bol) and ends the composition. In between
the mask allows only what makes a matra (a bol, `-`, or a bracket group of
2-4 bols), so every cycle has exactly the tala's matras. `--free` turns the
counting off (the model then writes marks and ends where it likes).
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..atomic import write_bytes_atomic, write_text_atomic
from ..errors import TunesmithError
from ..music.tabla.bols import BOLS, has_bayan_open
from ..music.tabla.notation import MAX_TEMPO, Composition, Matra, parse_matras, read_block, read_file, theka
from ..music.tabla.talas import Tala, get_tala
from .base import CheckReport, Generated, GenerateRequest, Mode

MAX_BATCH = 64
MAX_GROUP = 4            # bols sharing one matra, at most (the corpus has up to 4)
DEFAULT_TALA = "teentaal"
DEFAULT_CYCLES = 4
MAX_CYCLES = 64
DEFAULT_TEMPO = 90.0     # matras per minute: madhya laya
RENDERS = ("wav", "midi", "drone", "theka")
SUFFIXES = (".txt", ".tabla")


# -- corpora ------------------------------------------------------------------

def _corpora() -> dict[str, str]:
    from ..corpus.tabla import CORPORA

    return dict(CORPORA)


def _count(name: str) -> tuple[int, int]:
    from ..corpus.tabla import load_bundled

    pieces = _dedupe(load_bundled(name))
    return len(pieces), sum(len(p.text) + 1 for p in pieces)


def load_source(spec: str) -> list[Composition]:
    """Compositions of a bundled corpus, a notation file, or a folder of .txt/.tabla files."""
    from ..corpus.tabla import CORPORA, load_bundled
    from ..music.tabla.notation import compositions_in_file

    if spec in CORPORA:
        return load_bundled(spec)
    path = Path(spec)
    if not path.exists():
        raise TunesmithError(f"{path}: no such file or folder (bundled tabla corpora: {', '.join(CORPORA)})")
    if path.is_file():
        return compositions_in_file(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise TunesmithError(f"{path}: the folder has no {' or '.join(SUFFIXES)} files of tabla compositions")
    return [c for f in files for c in compositions_in_file(f)]


def _dedupe(pieces: list[Composition]) -> list[Composition]:
    seen: set[str] = set()
    kept = []
    for piece in pieces:
        if piece.text_without_number not in seen:
            seen.add(piece.text_without_number)
            kept.append(replace(piece, number=len(kept) + 1))
    return kept


def _check_file(path: Path) -> CheckReport:
    return CheckReport(str(path), [r.to_dict() for r in read_file(Path(path))], label="composition ")


# -- generation -----------------------------------------------------------------

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


class TablaWriter:
    """One composition being written: forced header and marks, masks that keep the tala (see module docstring)."""

    def __init__(self, sym: Symbols, tala: Tala, cycles: int, header: list[int], primer: list[int],
                 free: bool, max_symbols: int):
        self.sym, self.tala, self.target, self.free, self.max_symbols = sym, tala, cycles, free, max_symbols
        self.ids: list[int] = []
        self.done = self.truncated = False
        self.marks: deque[int] = deque(header)     # forced first: the header, then vibhag/cycle marks
        self.primer: deque[int] = deque(primer)    # forced matras of the primer
        self.stage = "form" if not free and sym.forms and not any(i in sym.forms for i in header) else "body"
        self.pos = self.cycles_done = 0
        self.in_group, self.items = False, 0

    def push(self, sampled: int) -> int:
        """Take the sampled id, or the forced one; note where in the tala the composition now is."""
        if self.marks:  # structure, not music: nothing to count
            sym = self.marks.popleft()
            self.ids.append(sym)
        else:
            sym = self.primer.popleft() if self.primer and self.stage == "body" else sampled
            self.ids.append(sym)
            self._observe(sym)
        if self.stage == "end" and not self.marks:
            self.done = True
        elif self.free and not self.marks and not self.primer and self.ids[-2:] == [self.sym.newline] * 2:
            self.done = True
        if len(self.ids) >= self.max_symbols and not self.done:
            self.done = self.truncated = True
        return sym

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


def _settings(req: GenerateRequest, codec) -> tuple[Tala, int, float]:
    for option, value in (("--bars", req.bars), ("--seconds", req.seconds), ("--primer-file", req.primer_file),
                          ("--meter", req.style.meter), ("--key", req.style.key), ("--rhythm", req.style.rhythm),
                          ("--length", req.style.length)):
        if value is not None:
            raise TunesmithError(f"{option} is for other modes; this model writes tabla (mode tabla)")
    if codec.name != "tabla-bols":
        raise TunesmithError(f"this model's codec is {codec.name}, not tabla-bols")
    tala = get_tala(req.tala or DEFAULT_TALA)
    if f"tala: {tala.name}" not in codec.index:
        known = ", ".join(s[6:] for s in codec.vocab if s.startswith("tala: "))
        raise TunesmithError(f"--tala {tala.name}: this model never saw it (it knows {known})")
    cycles = DEFAULT_CYCLES if req.cycles is None else req.cycles
    if not 1 <= cycles <= MAX_CYCLES:
        raise TunesmithError(f"--cycles must be 1 to {MAX_CYCLES} (got {cycles})")
    tempo = DEFAULT_TEMPO if req.tempo is None else req.tempo
    if not 0 < tempo <= MAX_TEMPO:
        raise TunesmithError(f"--tempo {tempo:g}: must be above 0 and at most {MAX_TEMPO:g} matras per minute")
    worst = 8 + cycles * (tala.matras * (MAX_GROUP + 2) + len(tala.vibhags) + 1)
    if not req.free and req.max_length < worst:
        raise TunesmithError(f"--max-length {req.max_length}: {cycles} cycles of {tala.name} may need {worst} symbols")
    kinds = set(req.render)
    if kinds - set(RENDERS):
        raise TunesmithError(f"--render: {', '.join(sorted(kinds - set(RENDERS)))} is not for tabla; "
                             f"choose from {', '.join(RENDERS)} (drone and theka add to the WAV)")
    if kinds and req.output is None:
        raise TunesmithError("--render writes files beside the text file: name it with -o, e.g. -o kaida.txt")
    if kinds & {"drone", "theka"} and "wav" not in kinds:
        raise TunesmithError("--render drone/theka are layers of the WAV: add wav, e.g. --render wav,drone")
    return tala, cycles, tempo


def generate_compositions(ckpt, req: GenerateRequest) -> list[Composition | str]:
    """`req.n` compositions (text when `--free` writing does not read as one), numbered from 1."""
    if req.n < 1:
        raise TunesmithError(f"-n must be at least 1 (got {req.n})")
    req.sampling.check()
    from ..generate import sample_streams

    codec = ckpt.codec
    tala, cycles, tempo = _settings(req, codec)
    sym = Symbols(codec, tala)
    form, matras = _primer(req.primer, tala, cycles, sym)
    header = [codec.index[f"tala: {tala.name}"], sym.newline] + form
    primer = [i for m in matras for i in sym.matra_ids_of(m)]
    out: list[Composition | str] = []
    for start in range(0, req.n, MAX_BATCH):
        writers = [TablaWriter(sym, tala, cycles, header, primer, req.free, req.max_length)
                   for _ in range(min(MAX_BATCH, req.n - start))]
        sample_streams(ckpt, writers, req.sampling, req.seed + start)
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


def _generate(ckpt, req: GenerateRequest) -> Generated:
    from ..render.tabla_audio import composition_midi, composition_wav

    pieces = generate_compositions(ckpt, req)
    texts = [p.file_text() if isinstance(p, Composition) else p for p in pieces]
    text = "\n".join(texts)
    bad = sum(isinstance(p, str) for p in pieces)
    note = f"; {bad} of {len(pieces)} do not check (--free)" if bad else ""
    if req.output is None:
        return Generated(stdout=text, message=note.lstrip("; "), pieces=texts)
    files: list[tuple[Path, bytes]] = []
    kinds = set(req.render)
    for i, piece in enumerate(pieces, 1):
        stem = req.output.stem if len(pieces) == 1 else f"{req.output.stem}-{i}"
        if kinds and not isinstance(piece, Composition):
            raise TunesmithError(f"composition {i} does not check (--free), so it cannot be rendered; drop --render")
        if "wav" in kinds:
            wav = composition_wav(piece, piece.tempo, drone="drone" in kinds, theka="theka" in kinds, seed=req.seed)
            files.append((req.output.with_name(stem + ".wav"), wav))
        if "midi" in kinds:
            files.append((req.output.with_name(stem + ".mid"), composition_midi(piece, piece.tempo)))
    write_text_atomic(req.output, text)
    for path, data in files:
        write_bytes_atomic(path, data)
    rendered = f" and {len(files)} rendered files beside it" if files else ""
    return Generated(message=f"wrote {len(pieces)} compositions to {req.output}{rendered}{note}", pieces=texts)


MODE = Mode(
    name="tabla",
    description="tabla compositions in bols, in a tala",
    codecs=("tabla-bols",),
    unit="bol",
    default_model="tabla",
    corpora=_corpora,
    load_source=load_source,
    dedupe=_dedupe,
    generate=_generate,
    check_file=_check_file,
    count_corpus=_count,
)

__all__ = ["MODE", "Symbols", "TablaWriter", "generate_compositions", "load_source"]
