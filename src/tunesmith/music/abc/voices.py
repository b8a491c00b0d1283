"""A tune of several voices (`V:`) split into one single-voice tune per voice.

The rest of the ABC reader (`to_events`, the MusicXML writer) reads one
line of music; a tune pasted from a tunebook often has two or more, written
either as blocks (`V:1` and its lines, then `V:2` and its lines) or
interleaved line by line, or switched inside a line with `[V:2]`. Each voice
becomes a tune of its own: the header (without its `V:` lines) with the
voice's clef added to the `K:` line, then the voice's own body lines. The
players merge the voices' note events (each voice starts at time 0), the
score puts each voice on a staff of its own.

What goes where:
- music before the body's first `V:` belongs to the first voice (the first
  one the header declares, else voice "1");
- field lines `K:` `M:` `L:` `Q:` (and `%%` directives) before any music
  or `V:` in the body apply to every voice; after, to the voice in force;
- a part's mark (`P:A`, or `[P:A]` on a line of its own) is every voice's,
  where it stands: a part is played by all voices together;
- lyrics (`w:`), comments and other field lines follow the voice in force.

Voice properties read: `name=`/`nm=` (the staff's name), `clef=` (or a bare
clef word such as `bass`). Those that change pitches (`octave=`,
`transpose=`, `middle=`) are reported by `support.py`, not applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .lexer import Token
from .tunes import has_music

_VOICE_LINE = re.compile(r"^V:\s*(\S*)(.*)$")
_INLINE_VOICE = re.compile(r"\[V:\s*([^\]\s]*)([^\]]*)\]")
_PROPERTY = re.compile(r"""(\w+)\s*=\s*("[^"]*"|\S+)""")
_CLEF_WORDS = ("treble", "bass", "alto", "tenor", "baritone", "perc", "none")
_GLOBAL_FIELDS = ("K:", "M:", "L:", "Q:", "%%")
_PART_LINE = re.compile(r"^(?:P:|\[P:[^\]]*\]\\?\s*$)")  # a part's mark, on a line of its own


@dataclass
class Voice:
    """One voice: its id, how its staff is labelled, its clef, and its text as a tune of its own."""

    id: str
    name: str = ""
    clef: str = ""
    line: int = 0                                  # 1-based line of the text where it first appears
    header: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The voice as a single-voice tune: the shared header (its K: with this voice's clef) and its lines."""
        header = [f"{line} clef={self.clef}" if line.startswith("K:") and self.clef and "clef=" not in line
                  else line for line in self.header]
        return "\n".join(header + self.body) + "\n"

    @property
    def has_music(self) -> bool:
        """Whether its lines hold a note (a voice only declared, or only bar lines, is left out)."""
        return has_music(self.body)

    def take(self, properties: str) -> None:
        """Read `name=`, `clef=` (or a bare clef word) from a V: line's properties."""
        for key, value in _PROPERTY.findall(properties):
            value = value.strip('"')
            if key in ("name", "nm") and value:
                self.name = value
            elif key == "clef":
                self.clef = value
        bare = [w for w in _PROPERTY.sub(" ", properties).split() if w.rstrip("0123456789+-") in _CLEF_WORDS]
        if bare and not self.clef:
            self.clef = bare[0]


def has_voices(text: str) -> bool:
    """Whether the tune names any voice (a `V:` line or an inline `[V:...]`): cheap, for the common case."""
    return "V:" in text and (re.search(r"^V:", text, re.MULTILINE) is not None or "[V:" in text)


def split_voices(text: str) -> list[Voice]:
    """The voices of a tune, in the order they are first named; [] when it names none (see the module's doc)."""
    if not has_voices(text):
        return []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    voices: dict[str, Voice] = {}
    shared: list[str] = []       # header lines every voice gets (and K: M: L: Q: %% lines before any voice)
    markers: list[str] = []      # the body's part lines (P:A): every voice's, where they stand
    current: Voice | None = None
    in_header = True

    def voice(ident: str, number: int) -> Voice:
        ident = ident or "1"
        if ident not in voices:
            voices[ident] = Voice(ident, line=number, body=[] if in_header else list(markers))
        return voices[ident]

    def first() -> Voice:
        """The voice of music written before any V: in the body: the first declared, else voice 1."""
        return next(iter(voices.values())) if voices else voice("1", number)

    for number, line in enumerate(lines, 1):
        match = _VOICE_LINE.match(line)
        if in_header:
            if match:
                voice(match.group(1), number).take(match.group(2))
            else:
                shared.append(line)
                in_header = not line.startswith("K:")
        elif match:
            current = voice(match.group(1), number)
            current.take(match.group(2))
        elif _PART_LINE.match(line):
            markers.append(line)
            for v in voices.values():
                v.body.append(line)
        elif current is None and line.startswith(_GLOBAL_FIELDS):
            shared.append(line)
        elif _INLINE_VOICE.search(line) and not re.match(r"^[A-Za-z+]:", line):
            current = _split_line(line, number, current or first(), voice)
        else:
            current = current or first()
            current.body.append(line)
    if not voices:
        voices["1"] = Voice("1", line=len(shared) + 1)
    for v in voices.values():
        v.header = shared
    return list(voices.values())


def _split_line(line: str, number: int, current: Voice, voice) -> Voice:
    """Hand the pieces of a music line with inline `[V:id]` switches to their voices; the voice in force after it."""
    at = 0
    for match in _INLINE_VOICE.finditer(line):
        piece = line[at:match.start()]
        if piece.strip():
            current.body.append(piece.strip())
        current = voice(match.group(1), number)
        current.take(match.group(2))
        at = match.end()
    rest = line[at:]
    if rest.strip() or not line.strip():
        current.body.append(rest.strip())
    return current


def _voice_id(tok: Token) -> str | None:
    """The id a `V:` line or an inline `[V:id]` switches to; None for any other token."""
    if (tok.kind == "field" and tok.text.startswith("V:")) or (tok.kind == "inline_field" and tok.text[1:3] == "V:"):
        words = tok.text.strip("[]")[2:].split()
        return words[0] if words else "1"
    return None


def voice_streams(toks: list[Token]) -> list[list[Token]]:
    """A tune's tokens as one list per voice: the header's, then that voice's body tokens, with their places
    in the whole text kept (for the checker's bar lengths and repeats, voice by voice). One list when the
    tune names no voice; the same split as `split_voices` (early field lines go to every voice)."""
    header: list[Token] = []
    at = len(toks)
    for i, tok in enumerate(toks):
        if _voice_id(tok) is None:
            header.append(tok)
        if tok.kind == "field" and tok.text.startswith("K:"):
            at = i + 1
            break
    order = [v for v in (_voice_id(t) for t in toks[:at]) if v is not None]
    bodies: dict[str, list[Token]] = {v: [] for v in order}
    early: list[Token] = []       # before any V: in the body: the first voice's (its field lines everyone's)
    markers: list[Token] = []     # part marks: every voice's, where they stand
    current: list[Token] | None = None
    for tok in toks[at:]:
        ident = _voice_id(tok)
        if ident is not None:
            current = bodies.setdefault(ident, list(markers))
        elif (tok.kind == "field" and tok.text.startswith("P:")) or (
                tok.kind == "inline_field" and tok.text.startswith("[P:")):
            markers.append(tok)
            for name, body in bodies.items():
                if current is not None or name != next(iter(bodies)):  # the first voice has it in `early`
                    body.append(tok)
            if current is None:
                early.append(tok)
        elif current is None:
            early.append(tok)
        else:
            current.append(tok)
    if not bodies:
        return [header + early]
    shared = [t for t in early if t.kind == "field" and t.text[:2] in ("K:", "M:", "L:")]
    first = next(iter(bodies))
    return [header + (early if name == first else shared) + body for name, body in bodies.items()]
