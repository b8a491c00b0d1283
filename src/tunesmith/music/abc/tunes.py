"""Split ABC text into tunes and write each in tunesmith's canonical form.

The canonical form is what the models learn from and are primed with:

    X:<n>
    T:<first title>
    O:<origin>         (only a normalised origin, one of `origins.ORIGINS`, e.g. O:Germany)
    M:<meter>          (when the source has one)
    L:<unit note>      (the ABC default for the meter when the source has none)
    R:<rhythm>         (lower case; taken from the title, e.g. "... Reel", when absent)
    K:<key>            (always last in the header)
    <body lines: music, and the field lines M: L: K: P: that change it>

Everything else goes: `%` comments and `%%` directives, free text between
tunes, header fields about the source (B: N: Z: S: ..., and O: lines
whose value is not a normalised origin), lyrics lines,
non-ASCII letters (folded to ASCII), trailing blanks and runs of spaces.
A tune is a block that starts with `X:` and ends at a blank line (ABC 2.1).
A block without its `X:` line is read as a tune too when it plainly is one
(`reads_as_tune`: a header ending with `K:`, or music after a `K:` line);
the commands that read files warn about it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from .origins import ORIGINS

FIELD_RE = re.compile(r"^([A-Za-z+]):(.*)$")
# A note and a repeat sign at a line's start ("B:|", "g::") is music, not a field line (as the lexer reads it).
_NOTE_THEN_BAR = re.compile(r"^[A-Ga-g]:[|:]")
# Field lines kept inside a body: they change how the following music reads.
BODY_FIELDS = frozenset("KLMP")
NOTE_RE = re.compile(r"[A-Ga-g]")
# A K: value: a tonic with an optional mode, or one of ABC's special keys.
KEY_RE = re.compile(
    r"^(?:[A-G][#b]?(?:maj|major|m|min|minor|mix|mixolydian|dor|dorian|phr|phrygian|lyd|lydian"
    r"|loc|locrian|aeo|aeolian|ion|ionian)?|HP|Hp|none)$",
    re.IGNORECASE,
)

# Spelling variants of the rhythm (R:) field, folded to one name.
RHYTHM_ALIASES = {
    "double jig": "jig",
    "slipjig": "slip jig",
    "slip-jig": "slip jig",
    "hop jig": "slip jig",
    "strathspey reel": "strathspey",
    "set dance": "set dance",
    "long dance": "set dance",
    "quick step": "quickstep",
    "walz": "waltz",
    "valse": "waltz",
}
# Rhythms recognised as the last word(s) of a title when R: is missing.
TITLE_RHYTHMS = (
    "slip jig", "set dance", "jig", "reel", "hornpipe", "strathspey", "waltz",
    "polka", "march", "clog", "schottische", "mazurka", "quickstep", "slide",
    "fling", "air", "gavotte", "minuet", "country dance",
)


@dataclass(frozen=True)
class Tune:
    """One tune in canonical form; `text` ends with a newline."""

    number: int
    title: str
    meter: str | None
    unit: str
    rhythm: str | None
    key: str
    body: str
    origin: str | None = None   # the O: value (see origins.py); None: no O: line

    @property
    def text(self) -> str:
        """The whole tune in canonical ABC."""
        return f"X:{self.number}\n" + self.text_without_number

    @property
    def text_without_number(self) -> str:
        """The tune without its `X:` line: what makes two tunes the same."""
        lines = [f"T:{self.title}"]
        if self.origin:
            lines.append(f"O:{self.origin}")
        if self.meter is not None:
            lines.append(f"M:{self.meter}")
        lines.append(f"L:{self.unit}")
        if self.rhythm:
            lines.append(f"R:{self.rhythm}")
        lines.append(f"K:{self.key}")
        return "\n".join(lines) + "\n" + self.body + "\n"


def to_ascii(text: str) -> str:
    """Fold accented letters to ASCII and drop what has no ASCII form."""
    if text.isascii():
        return text  # the common case, at no cost (NFKD leaves ASCII as it is)
    folded = unicodedata.normalize("NFKD", text)
    return folded.encode("ascii", "ignore").decode("ascii")


def strip_comment(line: str) -> str:
    """Remove a `%` comment (but not an escaped `\\%`) from one line."""
    for i, ch in enumerate(line):
        if ch == "%" and (i == 0 or line[i - 1] != "\\"):
            return line[:i]
    return line


def _clean_line(line: str) -> str:
    line = to_ascii(line.replace("\t", " "))
    return re.sub(r" {2,}", " ", line).strip()


def clean_line(raw: str) -> str | None:
    """One raw line as the corpus reads it (comment removed, ASCII, single spaces).

    None for a comment or `%%` directive line: it neither holds music nor
    ends a tune, where a blank line does.
    """
    if raw.lstrip().startswith("%"):
        return None
    return _clean_line(strip_comment(raw))


def has_music(lines: Sequence[str]) -> bool:
    """Whether any of these (cleaned) lines is music: a line with a note letter that is not a field."""
    return any(NOTE_RE.search(line) for line in lines if not FIELD_RE.match(line) or _NOTE_THEN_BAR.match(line))


def reads_as_tune(lines: Sequence[str]) -> bool:
    """Whether a block of cleaned lines *without* an `X:` line is a tune that lost its `X:`.

    It is when it opens with a header, field lines only (`T:`, `M:`, ...)
    up to a `K:` line, and that header has more than the `K:` line or music
    follows it. Free text is not, even when it names a key and has letters
    after it ("This is a book of tunes.", "K:D is a key.").
    """
    lines = [line for line in lines if line]
    for i, line in enumerate(lines):
        if not FIELD_RE.match(line) or _NOTE_THEN_BAR.match(line):
            return False
        if line.startswith("K:"):
            return i > 0 or has_music(lines[i + 1:])
    return False


@dataclass(frozen=True)
class Block:
    """The cleaned lines of one tune as split from a text, and the 1-based line it starts on."""

    line: int
    lines: tuple[str, ...]

    @property
    def numbered(self) -> bool:
        """Whether it starts with its `X:` line (else it was read as a tune without one)."""
        return self.lines[0].startswith("X:")


def tune_paragraphs(text: str) -> list[Block]:
    """Split ABC text into raw tune blocks, with where each starts.

    A block runs from an `X:` line up to a blank line; a run of lines without
    an `X:` that `reads_as_tune` is a block too. Comment-only lines and `%%`
    directives vanish without ending a tune; other free text is dropped.
    """
    blocks: list[Block] = []
    current: list[str] = []
    start = 0

    def close() -> None:
        if current and (current[0].startswith("X:") or reads_as_tune(current)):
            blocks.append(Block(start, tuple(current)))
        current.clear()

    for number, raw in enumerate(to_ascii(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        line = clean_line(raw)
        if line is None:
            continue
        if line.startswith("X:") or not line:
            close()
        if line:
            if not current:
                start = number
            current.append(line)
    close()
    return blocks


def split_blocks(text: str) -> list[list[str]]:
    """The lines of every tune block of a text (see `tune_paragraphs`)."""
    return [list(block.lines) for block in tune_paragraphs(text)]


def normalize_rhythm(value: str) -> str | None:
    """Lower-case a rhythm name and fold its spelling variants."""
    value = re.sub(r"\s+", " ", value.lower()).strip(" .")
    if not value:
        return None
    return RHYTHM_ALIASES.get(value, value)


def rhythm_from_title(title: str) -> str | None:
    """The rhythm named at the end of a title ("Lanigan's Ball Jig" -> jig)."""
    lowered = re.sub(r"[^a-z ]", "", title.lower()).strip()
    for name in TITLE_RHYTHMS:
        if lowered.endswith(" " + name) or lowered == name:
            return RHYTHM_ALIASES.get(name, name)
    return None


def meter_fraction(meter: str | None) -> Fraction | None:
    """The length of one bar of an M: value in whole notes (None if free)."""
    if meter is None:
        return None
    meter = meter.replace(" ", "")
    if meter == "C":
        return Fraction(4, 4)
    if meter == "C|":
        return Fraction(2, 2)
    match = re.fullmatch(r"(\d{1,9}(?:\+\d{1,9})*)/(\d{1,9})", meter)
    if not match or int(match.group(2)) == 0:
        return None
    return Fraction(sum(int(n) for n in match.group(1).split("+")), int(match.group(2)))


def default_unit(meter: str | None) -> str:
    """ABC 2.1's default L: for a meter: 1/16 below 3/4, else 1/8."""
    frac = meter_fraction(meter)
    return "1/16" if frac is not None and frac < Fraction(3, 4) else "1/8"


def canonical_tune(block: list[str], number: int) -> Tune | None:
    """Canonical form of one raw block, or None when it is not a tune.

    A block is a tune when it has a `K:` line and at least one note after it;
    its first line is its `X:` line, if it has one. Tunes with several voices (`V:`) are left out: the models here write one
    melody line, and interleaved voices would teach them broken bars.
    """
    if any(line.startswith("V:") or "[V:" in line for line in block):
        return None
    fields: dict[str, str] = {}
    body: list[str] = []
    in_body = False
    for line in block[1:] if block and block[0].startswith("X:") else block:
        match = FIELD_RE.match(line)
        if not in_body:
            if not match:
                continue  # stray text inside a header
            letter, value = match.group(1), match.group(2).strip()
            if letter == "T":
                fields.setdefault("T", value)
            elif letter in "MLRK":
                fields[letter] = value
            elif letter == "O" and value in ORIGINS:
                fields.setdefault("O", value)
            in_body = letter == "K"
        elif match and not re.match(r"^[A-Ga-g]:[|:]", line):  # "B:|" is music
            if match.group(1) in BODY_FIELDS:
                body.append(f"{match.group(1)}:{match.group(2).strip()}")
        else:
            body.append(line)
    if "K" not in fields or not has_music(body):
        return None
    meter = fields["M"].replace(" ", "") if fields.get("M") else None
    unit = fields["L"].replace(" ", "") if fields.get("L") else default_unit(meter)
    title = fields.get("T", "")
    rhythm = normalize_rhythm(fields.get("R", "")) or rhythm_from_title(title)
    key = re.sub(r"\s+", " ", fields["K"]) or "C"
    return Tune(number, title, meter, unit, rhythm, key, "\n".join(body), fields.get("O"))


def parse_tunes(text: str) -> list[Tune]:
    """All tunes in a text, in canonical form, numbered from 1, in order."""
    tunes = []
    for block in split_blocks(text):
        tune = canonical_tune(block, len(tunes) + 1)
        if tune is not None:
            tunes.append(tune)
    return tunes


def dedupe(tunes: list[Tune]) -> list[Tune]:
    """Drop exact duplicates (same tune apart from X:) and renumber from 1."""
    seen: set[str] = set()
    kept: list[Tune] = []
    for tune in tunes:
        key = tune.text_without_number
        if key not in seen:
            seen.add(key)
            kept.append(replace(tune, number=len(kept) + 1))
    return kept


def join_tunes(tunes: list[Tune]) -> str:
    """One ABC text: the tunes with one blank line between them."""
    return "\n".join(t.text for t in tunes)
