"""ABC tunes as insight measures them: normalised bars, a music profile, structure features.

Bars are compared after normalising: spaces, decorations, chord symbols,
slurs, grace notes and line breaks go, as do the bar lines themselves, so
`|:"D"~A2 FA dAFA|` and `|A2FA dAFA|` are the same bar.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from ...insight.features import FeatureSet, pitched
from ...insight.measures import Measures, PieceProfile
from ...music.abc.bars import DurationReader, bars_of, wrong_length_bars
from ...music.abc.check import check_tune
from ...music.abc.lexer import Token, tokens
from ...music.abc.to_events import tune_events

# Tokens that are the music of a bar; the rest is how it is written.
_MUSIC = frozenset({"note", "rest", "chord_open", "chord_close", "tuplet", "broken", "tie", "measure_rest"})
_KEY = re.compile(r"\s*([A-G][#b]?)\s*([A-Za-z]*)")
_MODES = {"": "", "maj": "", "ion": "", "m": "m", "min": "m", "aeo": "m",
          "dor": "dor", "phr": "phr", "lyd": "lyd", "mix": "mix", "loc": "loc"}
_SECTION_END = ("||", "|]", "[|")


def key_label(value: str | None) -> str | None:
    """A K: value folded to tonic + mode: "A dorian" -> "Ador", "Emin" -> "Em", "Dmaj" -> "D"."""
    if value is None:
        return None
    match = _KEY.fullmatch(value.split(" clef=")[0])
    if not match:
        return value.strip() or None
    word = match.group(2).lower()
    mode = _MODES.get(word, _MODES.get(word[:3]))
    return match.group(1) + mode if mode is not None else value.strip()


def _header(toks: list[Token]) -> tuple[dict[str, str], int]:
    """First value of each header field, and the index of the first body token."""
    fields: dict[str, str] = {}
    for i, tok in enumerate(toks):
        if tok.kind == "field":
            fields.setdefault(tok.text[0], tok.text[2:].strip())
            if tok.text[0] == "K":
                return fields, i + 1
    return fields, len(toks)


class BarSpan(NamedTuple):
    """One bar of the body with music: its normalised text, its note onsets, and where it is written."""

    text: str    # the bar's music tokens, joined (spaces, decorations, chord symbols, grace notes left out)
    onsets: int  # notes and chords that start in it
    first: int   # index of its first token (after the bar line that opens it)
    end: int     # index one past its last token (the bar line that closes it, or the tune's end)


def bar_spans(toks: list[Token]) -> list[BarSpan]:
    """The bars of the body that have music, in written order."""
    spans: list[BarSpan] = []
    current: list[str] = []
    count = 0
    start = _header(toks)[1]
    in_grace = in_chord = False
    for i in range(start, len(toks)):
        tok = toks[i]
        kind = tok.kind
        if kind in ("bar", "volta"):
            if count or any(t[0] in "zZx" for t in current):
                spans.append(BarSpan("".join(current), count, start, i))
            current, count, start = [], 0, i + 1
        elif kind == "grace_open":
            in_grace = True
        elif kind == "grace_close":
            in_grace = False
        elif kind in _MUSIC and not in_grace:
            current.append(tok.text)
            if kind == "chord_open":
                in_chord = True
            elif kind == "chord_close":
                in_chord, count = False, count + 1
            elif kind == "note" and not in_chord:
                count += 1
    if count or any(t[0] in "zZx" for t in current):
        spans.append(BarSpan("".join(current), count, start, len(toks)))
    return spans


def body_bars(toks: list[Token]) -> tuple[list[str], list[int]]:
    """(normalised text, onsets) of each bar of the body that has music, in written order."""
    spans = bar_spans(toks)
    return [s.text for s in spans], [s.onsets for s in spans]


def profile(text: str, check: bool = True) -> PieceProfile:
    """Everything the report measures in one tune's text (without `check`, not its validity:
    the training set's is not reported, and checking is a third of the time)."""
    toks = tokens(text)
    fields, _ = _header(toks)
    bars, onsets = body_bars(toks)
    events = sorted(tune_events(text), key=lambda e: (e.start, -e.pitch))
    melody = [e for i, e in enumerate(events) if i == 0 or e.start != events[i - 1].start]
    meter = fields.get("M", "").replace(" ", "") or None
    result = PieceProfile(
        bars=bars, notes_per_bar=[n for n in onsets if n],
        pitches=[e.pitch for e in melody], lengths=[str(e.duration) for e in melody],
        onsets=[e.start for e in melody],
        key=key_label(fields.get("K")), meter=meter,
    )
    if check:
        timed = bars_of(toks)
        result.checker_ok = not check_tune(text)
        result.bars_total, result.bars_right = len(timed), len(timed) - len(wrong_length_bars(timed))
    return result


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def features(text: str) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """Per character of `text`, the structure a neuron may track, and where it is defined.

    Each value is the state once the character has been read: the opening
    quote of a chord symbol is inside it, the closing one is outside again.
    """
    size = len(text)
    value = {name: np.zeros(size) for name in ("bar_position", "chord_symbol", "chord", "body", "last_note", "ending")}
    defined = {name: np.zeros(size, dtype=bool) for name in value}
    toks = tokens(text)
    header_end = _header(toks)[1]
    reader = DurationReader()
    in_chord = False
    ending: int | None = None
    offset = 0
    for i, tok in enumerate(toks):
        kind, span = tok.kind, slice(offset, offset + len(tok.text))
        offset += len(tok.text)
        defined["body"][span] = True
        if i < header_end:
            if kind == "field":
                reader.field(tok.text[0], tok.text[2:])
            continue
        value["body"][span] = 1.0
        if kind == "newline" and i == header_end:
            continue  # the line break that ends the K: line: into the body, nothing else yet
        for name in ("chord_symbol", "chord", "bar_position"):
            defined[name][span] = True
        before = reader.duration
        reader.token(tok)
        if reader.meter:
            position = reader.duration if kind == "bar" else before
            value["bar_position"][span] = min(float(position / reader.meter), 1.0)
        else:
            defined["bar_position"][span] = False
        if kind == "chord_symbol":
            value["chord_symbol"][span.start:span.stop - 1] = 1.0  # the closing quote steps outside
        if kind == "chord_open":
            in_chord = True
        value["chord"][span] = float(in_chord)
        if kind == "chord_close":
            in_chord = False
            value["chord"][span] = 0.0
        if kind == "note" and not in_chord and not reader.in_grace:
            defined["last_note"][span] = True
            value["last_note"][span] = float(_next_music(toks, i + 1) == "bar")
        if kind == "volta" or (kind == "bar" and tok.text[-1].isdigit()):
            numbers = _numbers(tok.text)
            ending = min(numbers) if numbers else None
        elif kind == "bar" and (":" in tok.text or tok.text in _SECTION_END) or kind in ("field", "inline_field"):
            ending = None
        if ending in (1, 2):
            defined["ending"][span] = True
            value["ending"][span] = float(ending == 1)
    labels = {
        "bar_position": "position in the bar (0 at the bar line, 1 at its end)",
        "chord_symbol": 'inside a chord symbol "..."',
        "chord": "inside a chord [...]",
        "body": "in the body (1) rather than the header (0)",
        "last_note": "the last note before a bar line (vs other notes)",
        "ending": "in a first ending (1) rather than a second (0)",
    }
    return {name: (labels[name], value[name], defined[name]) for name in value}


def _next_music(toks: list[Token], start: int) -> str | None:
    """Kind of the next token that is music or a bar line (skipping spaces, ties, slurs...)."""
    for tok in toks[start:]:
        if tok.kind in ("note", "rest", "chord_open", "bar", "volta", "measure_rest", "field", "inline_field",
                        "grace_open", "tuplet"):
            return tok.kind
    return None


FORM_LABELS = {
    "repeated_bars": "repeated bars (share of a tune's bars equal to an earlier bar)",
    "two_repeats": "two or more repeat closes (AABB: 1, else 0)",
    "part_bars": "part length (mean bars per part)",
    "tonic_ending": "ends on the tonic (1, else 0)",
    "junk": "junk constructs (count)",
}


def form_values(text: str, p: PieceProfile) -> dict:
    """A tune's form as the fidelity benchmark reads it (fidelity.tune_form, forms.form_of)."""
    from .fidelity import tune_form
    from .forms import form_of

    form, parts = tune_form(text, p), form_of(text)
    return {
        "repeated_bars": form.repeated_bars / form.bars if form.bars else None,
        "two_repeats": float(form.repeat_closes >= 2),
        "part_bars": float(np.mean([bars for bars, _ in parts])) if parts else None,
        "tonic_ending": float(form.ends_on_tonic),
        "junk": float(form.junk_constructs),
    }


# The melody's features (repeats played out, as it sounds), then the tune's form.
PIECE_FEATURES = pitched() + FeatureSet(FORM_LABELS, form_values)

MEASURES = Measures(mode="abc", bar="bar", profile=profile, features=features, piece_features=PIECE_FEATURES)
