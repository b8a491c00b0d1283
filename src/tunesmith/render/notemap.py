"""Which characters of a tune's ABC text each note of its engraved score stands for.

Verovio keeps no ABC positions (its elements get ids of its own, from the
tune's checksum), so the map is made by order: the notes and rests of the
text (`music.abc.positions.text_notes`: grace notes and the notes of chords
included) against the notes and rests of the SVG, in document order. Each
SVG note carries its pitch (`data-pname`, `data-oct`: see
`sheet_worker.OPTIONS`), so the two sequences are aligned on pitch rather
than trusted to line up: where verovio reads the text differently (an old
`+CEG+` chord it draws as more notes, a `::` repeat whose second part it
drops), the notes that do not agree are left out of the map instead of
being paired with the wrong ones. On the whole `folk` corpus, 99.99 % of
the notes are mapped (docs/insight.md).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ..music.abc.positions import TextNote, text_notes

_SCORE_NOTE = re.compile(r'<g id="([^"]+)" class="(note|rest)\b[^"]*"([^>]*)>')
_PITCH_ATTRS = re.compile(r'data-pname="([a-g])" data-oct="(-?\d+)"')


@dataclass(frozen=True)
class ScoreNote:
    """A note or rest drawn in the SVG: its element's id and the pitch verovio gave it."""

    id: str
    pitch: tuple[str, int] | None   # None for a rest; ("?", 0) for a note engraved without its pitch attributes

    @property
    def key(self) -> tuple:
        return ("rest",) if self.pitch is None else ("note", *self.pitch)


@dataclass(frozen=True)
class NoteLink:
    """One drawn note and the characters it was engraved from."""

    id: str
    note: TextNote


def score_notes(svg: str) -> list[ScoreNote]:
    """The notes and rests of a verovio SVG, in document order (a measure rest is neither)."""
    found = []
    for match in _SCORE_NOTE.finditer(svg):
        element_id, kind, attributes = match.groups()
        pitch = None
        if kind == "note":
            attrs = _PITCH_ATTRS.search(attributes)
            pitch = ("?", 0) if attrs is None else (attrs.group(1), int(attrs.group(2)))
        found.append(ScoreNote(element_id, pitch))
    return found


def note_map(abc: str, svg: str) -> list[NoteLink]:
    """Each note of the SVG that agrees in pitch with a note of the text (in order), with that note's characters.

    `svg` must be the engraving of `abc` by `render_svg`, which leaves every
    note where it is (it only drops what verovio cannot read).
    """
    written, drawn = text_notes(abc), score_notes(svg)
    matcher = difflib.SequenceMatcher(None, [n.key for n in written], [n.key for n in drawn], autojunk=False)
    return [NoteLink(drawn[block.b + k].id, written[block.a + k])
            for block in matcher.get_matching_blocks() for k in range(block.size)]
