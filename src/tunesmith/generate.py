"""Write new tunes: sample a symbol, feed it back in, many tunes at once.

A tune is produced from a *plan*: forced text (the header the user asked
for, a primer) interleaved with parts the model writes (a title line, a
header field's value, the rest of the header, the body). All tunes of a
request are parallel streams of one batch; a stream stops at the blank line
that ends a tune in ABC, or at the length cap.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

import torch

from .checkpoint import Checkpoint
from .errors import TunesmithError
from .music.abc.tunes import meter_fraction, normalize_rhythm

MAX_BATCH = 64
KEY_RE = re.compile(
    r"^(?:[A-G][#b]?(?:maj|major|m|min|minor|mix|mixolydian|dor|dorian|phr|phrygian|lyd|lydian"
    r"|loc|locrian|aeo|aeolian|ion|ionian)?|HP|Hp|none)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sampling:
    """How each next symbol is chosen from the model's distribution."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    argmax: bool = False

    def check(self) -> None:
        """Reject values that have no meaning, naming the option."""
        if not self.temperature > 0:
            raise TunesmithError(f"--temperature must be above 0 (got {self.temperature}); use --argmax for greedy")
        if self.top_k is not None and self.top_k < 1:
            raise TunesmithError(f"--top-k must be at least 1 (got {self.top_k})")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise TunesmithError(f"--top-p must be in (0, 1] (got {self.top_p})")


@dataclass(frozen=True)
class Style:
    """Header fields the user fixes; the model writes the others."""

    meter: str | None = None
    length: str | None = None
    rhythm: str | None = None
    key: str | None = None

    def checked(self) -> "Style":
        """The style with each value validated and normalised."""
        meter = self.meter.strip() if self.meter else None
        if meter is not None and meter not in ("C", "C|") and (
            not re.fullmatch(r"\d+/\d+", meter) or meter_fraction(meter) in (None, 0)
        ):
            raise TunesmithError(f"--meter {self.meter!r}: not a meter; write it like 6/8, 3/4, C or C|")
        length = self.length.strip() if self.length else None
        if length is not None and (not re.fullmatch(r"1/\d+", length) or int(length[2:]) == 0):
            raise TunesmithError(f"--length {self.length!r}: not a unit note length; write it like 1/8 or 1/16")
        key = re.sub(r"\s+", "", self.key) if self.key else None
        if key is not None and not KEY_RE.match(key):
            raise TunesmithError(f"--key {self.key!r}: not an ABC key; write it like D, Am, Ador, Gmix or F#m")
        rhythm = normalize_rhythm(self.rhythm) if self.rhythm else None
        return Style(meter, length, rhythm, key)

    def fields(self) -> list[tuple[str, str | None]]:
        """(letter, value) in canonical header order."""
        return [("M", self.meter), ("L", self.length), ("R", self.rhythm), ("K", self.key)]


@dataclass(frozen=True)
class Segment:
    """One part of a plan: forced `text`, or a part the model writes (`mode`)."""

    mode: str            # "force", "line" (to the end of the line), "header" (to the K: line), "body"
    text: str = ""
    where: str = ""      # the option the forced text came from, for error messages


def build_plan(primer: str | None, style: Style) -> list[Segment]:
    """The plan of one tune from a primer and a style (see the module docstring)."""
    primer = primer or ""
    wanted = [(f, v) for f, v in style.fields() if v]
    if primer.startswith("X:"):
        if wanted:
            raise TunesmithError(
                "--primer starts a whole tune (X:...) and so already sets the header; "
                "drop --meter/--key/--rhythm/--length, or give a primer that starts the music"
            )
        header_done = any(line.startswith("K:") for line in primer.split("\n")[:-1])
        return [Segment("force", primer, "--primer")] + ([] if header_done else [Segment("header")]) + [Segment("body")]
    plan = [Segment("force", "X:1\nT:", "header"), Segment("line")]
    if wanted:
        last = max(i for i, (_, v) in enumerate(style.fields()) if v)
        for letter, value in style.fields()[: last + 1]:
            if value:
                plan.append(Segment("force", f"{letter}:{value}\n", f"--{_OPTION[letter]}"))
            elif letter != "R":  # a rhythm is optional in ABC; the others the model fills in
                plan += [Segment("force", f"{letter}:", "header"), Segment("line")]
        if last < 3:
            plan.append(Segment("header"))
    else:
        plan.append(Segment("header"))
    if primer:
        plan.append(Segment("force", primer, "--primer"))
    return plan + [Segment("body")]


_OPTION = {"M": "meter", "L": "length", "R": "rhythm", "K": "key"}


@dataclass
class Stream:
    """One tune being written: its plan, forced symbols, and what it has so far."""

    plan: deque           # (mode, forced ids) pairs still to come
    newline: int          # id of "\n"
    key_prefix: tuple     # ids of "K:", the line that ends a header
    max_symbols: int
    ids: list[int] = field(default_factory=list)
    queue: deque = field(default_factory=deque)
    mode: str = "body"
    line_start: int = 0
    done: bool = False
    truncated: bool = False

    def __post_init__(self):
        self._advance()

    def _advance(self) -> None:
        while self.plan:
            mode, forced = self.plan.popleft()
            if mode == "force":
                self.queue.extend(forced)
            else:
                self.mode = mode
                return
        self.mode = "body"

    def push(self, sampled: int) -> int:
        """Take the sampled symbol (or the next forced one); return what was written."""
        forced = bool(self.queue)
        sym = self.queue.popleft() if forced else sampled
        self.ids.append(sym)
        if sym == self.newline:
            line = self.ids[self.line_start:-1]
            self.line_start = len(self.ids)
            if not forced:
                if self.mode == "line":
                    self._advance()
                elif self.mode == "header" and not line:
                    self.done = True  # the model ended the tune inside its header
                elif self.mode == "header" and self._starts_key(line):
                    self._advance()
                elif self.mode == "body" and not line:
                    self.done = True
        if len(self.ids) >= self.max_symbols and not self.done:
            self.done = self.truncated = True
        return sym

    def _starts_key(self, line: list[int]) -> bool:
        return tuple(line[: len(self.key_prefix)]) == self.key_prefix


def _filter_logits(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    logits = logits / sampling.temperature
    if sampling.top_k is not None and sampling.top_k < logits.shape[-1]:
        kth = torch.topk(logits, sampling.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if sampling.top_p is not None and sampling.top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # Drop a symbol when the ones more likely than it already reach top_p.
        drop = (probs.cumsum(-1) - probs) >= sampling.top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def choose(logits: torch.Tensor, sampling: Sampling, gen: torch.Generator) -> torch.Tensor:
    """Next symbol ids (B,) from logits (B, V)."""
    if sampling.argmax:
        return logits.argmax(-1)
    # Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits),
    # in fewer and cheaper operations than softmax + multinomial.
    noise = torch.rand(logits.shape, generator=gen)
    return (_filter_logits(logits, sampling) - torch.log(-torch.log(noise))).argmax(-1)


def sample_streams(ckpt: Checkpoint, plans: list[list[Segment]], sampling: Sampling,
                   seed: int, max_symbols: int) -> list[Stream]:
    """Run one batch of streams to their ends; returns them finished."""
    codec, model = ckpt.codec, ckpt.model
    newline = codec.index["\n"]
    key_prefix = tuple(codec.encode("K:"))
    streams = []
    for plan in plans:
        encoded = deque((seg.mode, codec.encode(seg.text, seg.where)) for seg in plan)
        streams.append(Stream(encoded, newline, key_prefix, max_symbols))
    gen = torch.Generator().manual_seed(seed)
    batch = len(streams)
    state = model.initial_state(batch)
    warmup = torch.full((batch,), newline, dtype=torch.long)
    for _ in range(2):  # every tune in training follows a blank line
        logits, state = model.step(warmup, state)
    live = list(range(batch))  # streams still writing, in the batch's row order
    while live:
        sampled = choose(logits, sampling, gen).tolist()
        ids = [streams[i].push(s) for i, s in zip(live, sampled)]
        keep = [row for row, i in enumerate(live) if not streams[i].done]
        if not keep:
            break
        if len(keep) < len(live):
            rows = torch.tensor(keep)
            state = tuple(s.index_select(1, rows) for s in state) if isinstance(state, tuple) else state.index_select(1, rows)
            ids = [ids[r] for r in keep]
            live = [live[r] for r in keep]
        logits, state = model.step(torch.tensor(ids), state)
    return streams


def finish_tune(text: str, number: int, truncated: bool) -> str:
    """The tune with its own X: number, a title, and one trailing newline."""
    if truncated:
        text = text[: text.rfind("\n") + 1] if "\n" in text else text
    lines = text.rstrip("\n").split("\n")
    lines[0] = f"X:{number}"
    titles = [i for i, line in enumerate(lines) if line.startswith("T:")]
    if not titles:
        lines.insert(1, f"T:Untitled {number}")
    elif not lines[titles[0]][2:].strip():
        lines[titles[0]] = f"T:Untitled {number}"
    return "\n".join(lines) + "\n"


def generate_tunes(ckpt: Checkpoint, n: int, *, seed: int = 0, sampling: Sampling = Sampling(),
                   style: Style = Style(), primer: str | None = None, max_symbols: int = 2000) -> list[str]:
    """`n` new tunes in ABC, each a complete text numbered X:1..n."""
    if n < 1:
        raise TunesmithError(f"-n must be at least 1 (got {n})")
    if max_symbols < 16:
        raise TunesmithError(f"--max-length must be at least 16 symbols (got {max_symbols})")
    sampling.check()
    plan = build_plan(primer, style.checked())
    tunes: list[str] = []
    for start in range(0, n, MAX_BATCH):
        count = min(MAX_BATCH, n - start)
        streams = sample_streams(ckpt, [list(plan) for _ in range(count)], sampling, seed + start, max_symbols)
        for offset, stream in enumerate(streams):
            text = ckpt.codec.decode(stream.ids)
            tunes.append(finish_tune(text, start + offset + 1, stream.truncated))
    return tunes
