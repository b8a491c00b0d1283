"""What a tune pasted from anywhere asks that tunesmith does not do: one message per thing, with its line.

The ABC reader plays several voices, parts in the header's `P:` order,
inline `[K:]` `[M:]` `[L:]` changes, lyrics (drawn, not played), and
decorations (drawn; played as the plain note). What it cannot do is said
here, never played wrong in silence:

- `unplayable`: what would make the MIDI, WAV or MusicXML differ from the
  written music (a voice overlay `&`, a tempo change, a key or voice
  setting that moves pitches, a macro, a part the order names that the
  body never marks, a `%%MIDI ratio` other than ABC's 3:1). `tunesmith
  check` and the web editor list each as a problem; `tunesmith render`
  refuses to write sound for such a tune, and says why (the score is
  still drawn).
- `ignored`: what is read past without changing a note (`%%MIDI`
  directives but `transpose` and `nobarlines`, which are played, and
  `ratio`: the sound is chosen by `--program` and `--chords`; `W:`
  verses and the lyrics of a tune of several voices, which the score does
  not draw). Warnings: the check passes, the render goes on, the message
  is shown.

Every other `%%` directive (layout, fonts, `%%score`) is ignored without a
word: it changes how a score looks in abcm2ps, not what is played.
"""

from __future__ import annotations

import re

from .check import Problem
from .lexer import Token, tokens
from .to_events import part_marker, part_order
from .tunes import strip_comment
from .voices import has_voices

_PITCH_SETTING = re.compile(r"\b(octave|transpose|t|middle|m)\s*=\s*(\S+)")
_KEY_ACCIDENTALS = re.compile(r"(?:^|\s)(?:exp\b|[_^=]{1,2}[a-gA-G])")
_MIDI_DIRECTIVE = re.compile(r"^%%MIDI\s+(\S+)(.*)$", re.MULTILINE)
_LYRICS = re.compile(r"^w:", re.MULTILINE)
_WORDS = re.compile(r"^W:", re.MULTILINE)
# %%MIDI ratio 3 1 is broken rhythm as ABC plays it; any other ratio changes the timing
_OTHER_RATIO = re.compile(r"^%%MIDI\s+ratio\s+(?!3\s+1\s*$)(.*)$", re.MULTILINE)


def _body_start(toks: list[Token]) -> int:
    """Index of the first token after the header's K: line (len(toks) when there is none)."""
    for i, tok in enumerate(toks):
        if tok.kind == "field" and tok.text.startswith("K:"):
            return i + 1
    return len(toks)


def _pitch_settings(tok: Token, what: str) -> list[tuple[Token, str]]:
    """A K: or V: field's settings that move pitches, with the message for each."""
    value = tok.text.strip("[]")
    return [(tok, f"{what} {name}={setting}: the {name}= setting is not applied (its notes would sound as "
                  "written, not where it puts them); write the notes at the pitch they sound")
            for name, setting in _PITCH_SETTING.findall(value[2:])]


def _key_accidentals(tok: Token) -> list[tuple[Token, str]]:
    """A K: value with accidentals of its own (`K:D exp ^f`, `K:Am ^g`): the reader keeps the standard signature."""
    value = tok.text.strip("[]")[2:].split("clef=")[0]
    if _KEY_ACCIDENTALS.search(value):
        return [(tok, f"K:{value.strip()}: a key's own accidentals (`exp`, `^f`) are not read; "
                      "the standard signature of its tonic and mode would be played")]
    return []


def unplayable(text: str, first_line: int = 1, toks: list[Token] | None = None) -> list[Problem]:
    """What in one tune would be played or exported wrong, one Problem each, at its line and column
    (`toks`: the text's tokens, when the caller has them)."""
    toks = tokens(text) if toks is None else toks
    body_at = _body_start(toks)
    found: list[tuple[Token, str]] = []
    order: list[str] | None = None
    header_parts: Token | None = None
    marked: set[str] = set()
    for i, tok in enumerate(toks):
        kind, field = tok.kind, tok.text.strip("[")[:2]
        in_body = i >= body_at
        if kind in ("field", "inline_field"):
            if field in ("K:", "V:"):  # named by their first word: "K:C", "V:1"
                found += _pitch_settings(tok, (tok.text.strip("[]").split() or [field])[0])
                found += _key_accidentals(tok) if field == "K:" else []
            elif field == "m:":
                found.append((tok, f"macro {tok.text.strip()}: macros (m:) are not expanded; the notes it "
                                   "stands for would be left out"))
            elif field == "Q:" and in_body:
                found.append((tok, f"tempo change {tok.text.strip('[]').strip()}: a tune is played at one tempo, "
                                   "its header's Q: (or --qpm)"))
            elif field == "P:" and not in_body:
                order, header_parts = part_order(tok.text[2:]), tok
            if in_body and part_marker(tok):
                marked.add(part_marker(tok))
        elif kind == "overlay" and in_body:
            found.append((tok, "voice overlay &: the notes after it would be played after those before it, "
                               "not with them; write the second line as a voice of its own (V:2)"))
    for match in _OTHER_RATIO.finditer(text):
        found.append((_line_token(text, match.start()), f"%%MIDI ratio {match.group(1).strip()}: broken rhythm "
                                                        "(>) is played 3:1, as ABC writes it, not in this ratio"))
    if header_parts is not None and marked:
        value = strip_comment(header_parts.text[2:]).strip()
        if order is None:
            found.append((header_parts, f"P:{value} is not an order of parts (e.g. P:AABB, P:A2B, P:(AB)2C); "
                                        "the parts the body marks could not be played in its order"))
        else:
            for letter in dict.fromkeys(order):
                if letter not in marked:
                    found.append((header_parts, f"P:{value} plays part {letter}, which the body never marks "
                                                f"(P:{letter}); it would be left out"))
    return _problems(found, first_line)


def ignored(text: str, first_line: int = 1) -> list[Problem]:
    """What in one tune is read past without changing a note, one warning each (see the module's doc)."""
    found: list[Problem] = []
    offset = first_line - 1
    for match in _MIDI_DIRECTIVE.finditer(text):
        if match.group(1) in ("transpose", "nobarlines", "ratio"):
            continue  # honoured (`to_events.sounding_shift`, `accidentals_carry`); ratio: 3:1 is ABC's, others refused
        line = text.count("\n", 0, match.start()) + 1 + offset
        found.append(Problem(line, 1, 0, f"%%MIDI {match.group(1)}{match.group(2).rstrip()}: %%MIDI directives "
                                         "are ignored (tunesmith chooses the sound itself: --program, --chords)"))
    words = _WORDS.search(text)
    if words:  # verovio draws w: lines under the notes, not the verses after a tune
        line = text.count("\n", 0, words.start()) + 1 + offset
        found.append(Problem(line, 1, 0, "W: words after the tune are not drawn in the score (w: lines under "
                                         "the notes are)"))
    if has_voices(text) and _LYRICS.search(text):
        match = _LYRICS.search(text)
        line = text.count("\n", 0, match.start()) + 1 + offset
        found.append(Problem(line, 1, 0, "w: lyrics of a tune with several voices are not drawn in the score "
                                         "(a tune of one voice shows them)"))
    return found


def _line_token(text: str, at: int) -> Token:
    """A stand-in token for a whole line found by a pattern at offset `at`: its line, column 1."""
    return Token("comment", "", text.count("\n", 0, at) + 1, 1)


def _problems(found: list[tuple[Token, str]], first_line: int) -> list[Problem]:
    offset = first_line - 1
    return [Problem(tok.line + offset, tok.col, 0, message) for tok, message in found]


def playable_or_error(text: str) -> None:
    """Raise a TunesmithError naming everything `unplayable` finds (lines counted from the tune's first)."""
    from ...errors import TunesmithError

    problems = unplayable(text)
    if problems:
        raise TunesmithError("not played: " + "; ".join(f"line {p.line}: {p.message}" for p in problems))
