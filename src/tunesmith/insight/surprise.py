"""The surprise map: each note of a tune's sheet music coloured by how surprised the model was by it.

A note's surprise is the information of its characters under the model:
the sum of -log2 p over the symbols of the note as written (`^f'3/2`: its
accidental, letter, octave marks and length), each read after everything
before it, as `visualize` and `evaluate` read a piece, with p as sampling
draws it (the network mixed with its copy model, when it has one). Blue is
a note the model expected, red one it did not (`SCALE_BITS` and more).

Each note also carries the model's likeliest *alternatives* there: the
symbols it gave most probability to at the note's first symbol, other than
the one written, among those the well-formed automaton allows after the
text before the note (`music.abc.wellformed`), so that any of them starts a
continuation that can be finished well-formed. (Where the text before the
note is itself not well-formed, the alternatives are the model's top ones
unchecked, and `checked` is false.)

The notes of the SVG are tied to characters by `render.notemap`. The same
painted SVG is what `tunesmith visualize --surprise FILE` writes and what
the web app's "Surprise map" shows.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import numpy as np

from ..checkpoint import Checkpoint
from ..errors import TunesmithError
from ..modes import mode_name
from ..music.abc.positions import TextNote, body_offset, text_notes
from ..music.abc.wellformed import State, feed_text, initial_state
from ..render.notemap import NoteLink, note_map
from .neurons import piece_ids, read_piece
from .visualize import TOP, shown

# Where the colour scale tops out: about the 95th percentile of a note's bits under the shipped model on
# held-out folk tunes (docs/insight.md has the figures and the command); a note past it is as red as it gets.
SCALE_BITS = 7.0
_EXPECTED, _SURPRISED = np.array([40, 90, 210]), np.array([200, 20, 20])
_LEGEND_HEIGHT = 44
_OPENING_TAG = re.compile(r'<g id="([^"]+)" class="(note|rest)\b([^"]*)"([^>]*)>')
_ROOT_VIEWBOX = re.compile(r'viewBox="0 0 ([\d.]+) ([\d.]+)"')


@dataclass(frozen=True)
class Guess:
    """A symbol the model might have written, and the probability it gave it."""

    symbol: str
    p: float


@dataclass(frozen=True)
class NoteSurprise:
    """One drawn note: its characters, how surprised the model was, and what else it expected there."""

    id: str                          # the note's element id in the SVG
    note: TextNote
    bits: float                      # -log2 p of the note's symbols, summed
    written: str                     # the note's first symbol
    p: float                         # the probability the model gave that symbol
    alternatives: tuple[Guess, ...]  # the likeliest other first symbols (see the module docstring)
    checked: bool                    # the alternatives were checked by the well-formed automaton

    def to_dict(self, shift: int = 0) -> dict:
        """As the web API gives it: offsets in characters of the tune's text, plus `shift`."""
        return {"id": self.id, "start": self.note.start + shift, "end": self.note.end + shift, "text": self.note.text,
                "bits": round(self.bits, 4), "written": self.written, "p": round(self.p, 6),
                "alternatives": [{"symbol": g.symbol, "p": round(g.p, 6)} for g in self.alternatives],
                "checked": self.checked, "colour": surprise_colour(self.bits)}


@dataclass
class SurpriseMap:
    """A tune's sheet music with the surprise painted on, and what each note's colour and alternatives are."""

    svg: str
    notes: list[NoteSurprise]
    unmapped: int          # notes of the text the score does not show where the text has them (left grey)
    unit: str              # what a symbol is: char, token

    def mean_bits(self) -> float:
        """Bits per drawn note, on average."""
        return float(np.mean([n.bits for n in self.notes])) if self.notes else 0.0

    def most_surprising(self) -> NoteSurprise | None:
        return max(self.notes, key=lambda n: n.bits, default=None)

    def describe(self, abc: str) -> str:
        """One line for people: how many notes, bits per note, the most surprising one and where it is."""
        top = self.most_surprising()
        if top is None:
            return "no notes on the score"
        line = abc.count("\n", 0, top.note.start) + 1
        col = top.note.start - (abc.rfind("\n", 0, top.note.start) + 1) + 1
        unmapped = f"; {self.unmapped} notes of the text not matched on the score (left black)" if self.unmapped else ""
        return (f"{len(self.notes)} notes, {self.mean_bits():.2f} bits per note on average; the most surprising: "
                f"{top.note.text!r} at line {line}, column {col} ({top.bits:.1f} bits){unmapped}")


def surprise_colour(bits: float) -> str:
    """Blue for a note the model expected (0 bits), through purple, to red at `SCALE_BITS` and beyond."""
    t = min(max(bits / SCALE_BITS, 0.0), 1.0)
    r, g, b = (int(round(c)) for c in _EXPECTED + (_SURPRISED - _EXPECTED) * t)
    return f"rgb({r},{g},{b})"


def symbol_bits(ckpt: Checkpoint, abc: str, where: str) -> tuple[list[int], np.ndarray, np.ndarray, list[int]]:
    """(offset of each symbol, bits of each symbol, next-symbol probabilities after each, ids) of the tune read.

    The probabilities are those the sampler draws from: the network's, mixed
    with the checkpoint's copy model where it has one (`with_copies`). The
    first symbol's bits are 0: it is read after the warm-up newlines, whose
    predictions `read_piece` leaves out; it is the `X` of the header, never a note.
    """
    ids = piece_ids(ckpt, abc, where)
    probs = with_copies(ckpt, ids, read_piece(ckpt, ids).probs)
    written = probs[np.arange(len(ids) - 1), ids[1:]]
    bits = np.concatenate([[0.0], -np.log2(np.maximum(written, 1e-300))])
    vocab = ckpt.codec.vocab
    offsets = np.concatenate([[0], np.cumsum([len(vocab[i]) for i in ids])[:-1]]).tolist()
    return offsets, bits, probs, ids


def with_copies(ckpt: Checkpoint, ids: list[int], probs: np.ndarray) -> np.ndarray:
    """`probs` (row t: the distribution of symbol t + 1) mixed with the copy model as sampling mixes it
    (models/copy.py, generate.py): where the piece so far repeats an earlier passage, the symbol that
    followed it there gets the weight of the match's length. Unchanged for a model without one."""
    copy = ckpt.copy
    if copy is None:
        return probs
    from ..models.copy import predictions

    mixed = probs.copy()
    for t, (predicted, length) in enumerate(predictions(ids, copy.min_match)[1:]):
        weight = copy.weight(length)
        if weight > 0:
            mixed[t] *= 1.0 - weight
            mixed[t, predicted] += weight
    return mixed


def states_at(abc: str, offsets: list[int]) -> dict[int, State | None]:
    """The well-formed automaton's state after the text up to each offset of the body (None: not well-formed)."""
    start = body_offset(abc)
    found: dict[int, State | None] = {}
    if start is None:
        return {at: None for at in offsets}
    state: State | None = initial_state(abc[:start])
    position = start
    for at in sorted(set(offsets)):
        if at >= position:
            state = feed_text(state, abc[position:at])
            position = at
        found[at] = state
    return found


def alternatives(probs: np.ndarray, written: int, vocab: list[str], state: State | None) -> tuple[Guess, ...]:
    """The model's TOP likeliest symbols other than the written one, that `state` allows (any, when None)."""
    guesses: list[Guess] = []
    for i in np.argsort(-probs, kind="stable").tolist():
        if len(guesses) == TOP:
            break
        if i == written or probs[i] <= 0:
            continue
        if state is None or feed_text(state, vocab[i]) is not None:
            guesses.append(Guess(vocab[i], float(probs[i])))
    return tuple(guesses)


def note_surprises(ckpt: Checkpoint, abc: str, links: list[NoteLink], where: str = "tune") -> list[NoteSurprise]:
    """Bits and alternatives of each linked note, read by the model."""
    offsets, bits, probs, ids = symbol_bits(ckpt, abc, where)
    firsts = np.searchsorted(offsets, [link.note.start for link in links], side="right") - 1
    states = states_at(abc, [link.note.start for link in links])
    vocab = ckpt.codec.vocab
    found = []
    for link, first in zip(links, firsts.tolist()):
        last = int(np.searchsorted(offsets, link.note.end, side="left"))  # symbols starting inside the note
        state = states[link.note.start]
        before = probs[first - 1] if first > 0 else np.zeros(len(vocab))
        found.append(NoteSurprise(
            id=link.id, note=link.note, bits=float(bits[first:max(last, first + 1)].sum()),
            written=vocab[ids[first]], p=float(before[ids[first]]),
            alternatives=alternatives(before, ids[first], vocab, state), checked=state is not None))
    return found


def _title(n: NoteSurprise, unit: str) -> str:
    guesses = ", ".join(f"{shown_plain(g.symbol)} {g.p:.0%}" for g in n.alternatives) or "none"
    return (f"{n.note.text}: {n.bits:.1f} bits (its first {unit} {shown_plain(n.written)}: {n.p:.1%})\n"
            f"the model's likeliest instead: {guesses}")


def shown_plain(symbol: str) -> str:
    """A symbol as text for a tooltip: newline, space and tab made visible (not HTML escaped)."""
    return html.unescape(shown(symbol))


def paint(svg: str, notes: list[NoteSurprise], unit: str) -> str:
    """The SVG with each mapped note coloured by its surprise (fill and stroke), its figures as a tooltip
    (`<title>`) and `data-bits`/`data-start`/`data-end`, and a legend under the score."""
    by_id = {n.id: n for n in notes}

    def coloured(match: re.Match) -> str:
        n = by_id.get(match.group(1))
        if n is None:
            return match.group(0)
        colour = surprise_colour(n.bits)
        return (f'<g id="{match.group(1)}" class="{match.group(2)}{match.group(3)} surprise"{match.group(4)} '
                f'fill="{colour}" color="{colour}" data-bits="{n.bits:.4f}" data-start="{n.note.start}" '
                f'data-end="{n.note.end}"><title>{html.escape(_title(n, unit))}</title>')

    return _with_legend(_OPENING_TAG.sub(coloured, svg))


def _with_legend(svg: str) -> str:
    """The SVG made taller by a legend of the colour scale at its foot."""
    size = _ROOT_VIEWBOX.search(svg)
    if size is None:
        return svg
    width, height = float(size.group(1)), float(size.group(2))
    stops = "".join(f'<stop offset="{t:g}" stop-color="{surprise_colour(t * SCALE_BITS)}"/>' for t in (0, 0.5, 1))
    legend = (
        f'<g class="surprise-legend" transform="translate(40,{height + 6:g})" font-family="sans-serif" '
        f'font-size="13" fill="#333">'
        f'<defs><linearGradient id="surprise-scale">{stops}</linearGradient></defs>'
        f'<text x="0" y="12">the model\'s surprise at each note:</text>'
        f'<rect x="215" y="2" width="160" height="12" fill="url(#surprise-scale)" stroke="#999"/>'
        f'<text x="385" y="12">0 \u2026 {SCALE_BITS:g}+ bits (blue expected, red surprising)</text>'
        f'<text x="0" y="30" fill="#666">hover a note for its bits and the model\'s likeliest notes there</text></g>'
    )
    root = svg[:size.start()] + f'viewBox="0 0 {width:g} {height + _LEGEND_HEIGHT:g}"' + svg[size.end():]
    end = root.rindex("</svg>")
    return root[:end] + legend + root[end:]


def check_abc(ckpt: Checkpoint, what: str) -> None:
    """Refuse a model of another mode: sheet music (and so the map) is engraved from ABC."""
    if mode_name(ckpt.meta) != "abc":
        raise TunesmithError(f"{what}: sheet music is engraved from ABC, and this model writes "
                             f"{mode_name(ckpt.meta)}; use an ABC model")


def surprise_map(ckpt: Checkpoint, abc: str, svg: str, where: str = "tune") -> SurpriseMap:
    """The surprise map of one ABC tune and its engraving (`render_svg(abc)`), read by an ABC model."""
    check_abc(ckpt, "surprise map")
    links = note_map(abc, svg)
    notes = note_surprises(ckpt, abc, links, where)
    unit = ckpt.codec.unit
    return SurpriseMap(paint(svg, notes, unit), notes, len(text_notes(abc)) - len(links), unit)
