"""`tunesmith check --lint`: constructs that are legal ABC but that folk tunes do not write.

The plain check asks whether a tune is well-formed (bars of the meter's
length, repeats closed, notes spelled right). Lint asks whether it is
idiomatic: each rule here is a construct that 1 tune in 4,399 of the folk
corpus writes, that constrained sampling once produced, and that abc2midi
(the independent judge) either warns about or misreads:

- `slur-depth`: three slurs opened at once, `(((` (abc2midi: "Slur within
  slur");
- `empty-slur`: a slur closed at once, `()` (nothing to slur);
- `slur-before-bar`: a slur opened before a bar line, a line end or a line
  continuation (`(|`, `([|`, `(\\`): a slur opens on music;
- `empty-tuplet`: a tuplet `(3` followed by no note (abc2midi plays the
  notes after it as the tuplet's: "Different length notes in tuple");
- `decoration`: `!x!` that is not one of ABC 2.1's decorations (abc2midi:
  "instruction !x! ignored", or, for free text, "Malformed note").

Each finding is a `Problem` (line, col, bar, message) whose message starts
with its rule's name in brackets.
"""

from __future__ import annotations

from .check import Problem
from .lexer import Token, tokens

# ABC 2.1, section 4.14 (the decorations a standard reader knows).
DECORATIONS = frozenset({
    "trill", "trill(", "trill)", "lowermordent", "uppermordent", "mordent", "pralltriller", "roll", "turn",
    "turnx", "invertedturn", "invertedturnx", "arpeggio", ">", "accent", "emphasis", "fermata",
    "invertedfermata", "tenuto", "0", "1", "2", "3", "4", "5", "+", "plus", "snap", "slide", "wedge", "upbow",
    "downbow", "open", "thumb", "breath", "pppp", "ppp", "pp", "p", "mp", "mf", "f", "ff", "fff", "ffff", "sfz",
    "crescendo(", "<(", "crescendo)", "<)", "diminuendo(", ">(", "diminuendo)", ">)", "segno", "coda", "D.S.",
    "D.C.", "dacoda", "dacapo", "fine", "shortphrase", "mediumphrase", "longphrase",
})
RULES = ("slur-depth", "empty-slur", "slur-before-bar", "empty-tuplet", "decoration")
_SKIPPED = frozenset({"space", "comment"})
_LINE_ENDS = frozenset({"bar", "newline", "continuation"})
_MUSIC = frozenset({"note", "rest", "chord_open", "measure_rest"})


def _body(toks: list[Token]) -> list[Token]:
    """The tokens after the header's K: line."""
    for i, tok in enumerate(toks):
        if tok.kind == "field" and tok.text.startswith("K:"):
            return toks[i + 1:]
    return []


def _next(body: list[Token], i: int) -> Token | None:
    """The first token after body[i] that is not a space or a comment."""
    for tok in body[i + 1:]:
        if tok.kind not in _SKIPPED:
            return tok
    return None


def lint_tune(text: str, first_line: int = 1) -> list[Problem]:
    """The lint findings of one tune's text, in reading order; lines are counted from `first_line`."""
    found: list[Problem] = []
    offset = first_line - 1
    bar, run = 1, 0  # run: slurs opened one after the other, nothing but spaces between

    def add(tok: Token, rule: str, message: str) -> None:
        found.append(Problem(tok.line + offset, tok.col, bar, f"[{rule}] {message}"))

    body = _body(tokens(text))
    for i, tok in enumerate(body):
        kind = tok.kind
        if kind in _SKIPPED:
            continue
        run = run + 1 if kind == "slur_open" else 0
        if kind == "bar":
            bar += 1
        elif kind == "slur_open":
            after = _next(body, i)
            if run == 3:
                add(tok, "slur-depth", "three slurs opened at once: abc2midi warns 'Slur within slur'")
            if after is None or after.kind == "slur_close":
                add(tok, "empty-slur", "a slur closed at once: `()` slurs nothing")
            elif after.kind in _LINE_ENDS:
                add(tok, "slur-before-bar", f"a slur opened before {_named(after)}: a slur opens on music")
        elif kind == "tuplet":
            after = _next(body, i)
            if after is None or not (after.kind in _MUSIC or after.kind in ("decoration", "chord_symbol",
                                                                              "grace_open", "slur_open")):
                add(tok, "empty-tuplet", f"a tuplet {tok.text} with no note after it: abc2midi plays the "
                                         "next notes as its own ('Different length notes in tuple')")
        elif kind == "decoration" and tok.text.startswith("!") and tok.text[1:-1] not in DECORATIONS:
            add(tok, "decoration", f"{tok.text} is not an ABC 2.1 decoration: abc2midi ignores it "
                                   "(or, when it holds music, reads it as malformed notes)")
    return found


def _named(tok: Token) -> str:
    """How a lint message names what a slur was opened before."""
    if tok.kind == "bar":
        return f"the bar line {tok.text}"
    return "a line continuation" if tok.kind == "continuation" else "the end of a line"
