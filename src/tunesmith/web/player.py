"""The practice player's one request (`POST /api/player`): a tune in a key, as the browser plays it.

The tune page's player (static/player.js) asks for the tune it shows, in the
key its transpose menu names, and gets the score engraved in that key and
what `render.practice` works out to play it: notes with their bars and drawn
notes, bars as played, beats, and the chords in a pattern for the rhythm.
Tempo, loops, the count-in, the metronome and the chords on or off are the
browser's: changing them needs no request.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends
from pydantic import Field

from ..errors import TunesmithError
from ..render.files import MAX_TRANSPOSE, in_key
from ..render.limits import RenderLimitError
from ..music.abc.voices import split_voices
from ..render.practice import practice_plan
from ..render.tune import check_tune
from .api import composer
from .requests import Body, Text, text
from .service import Composer, RequestError, one_tune

router = APIRouter(prefix="/api")
_KEY_LINE = re.compile(r"^K:(.*)$", re.MULTILINE)


class PlayerIn(Body):
    """A tune to practise, and the key to play it in."""

    abc: Text = text(description="The text of one tune, from its X: line.")
    transpose: int = Field(0, strict=True, ge=-MAX_TRANSPOSE, le=MAX_TRANSPOSE,
                           description="Semitones to move the tune, up or down (2: D major to E major); the "
                                       "score and the notes move together.")


@router.post("/player")
def player(body: PlayerIn, c: Composer = Depends(composer)) -> dict:
    """The tune moved by `transpose` semitones: its sheet music (`svg`, or `svg_error`), `abc`, `key`, and what
    the player plays, times in whole notes: `notes` (each with its written `bar` and the `id` of the note drawn
    for it), `bars` as played, the metronome's `clicks`, and `chords` in the rhythm's `pattern` (from the tune's
    chord symbols, or harmonised: `chords_from`); `qpm` is the tune's tempo in quarter notes a minute."""
    tune = in_key(one_tune(body.abc, c.limits), body.transpose)  # NotTransposable (400) for K:none, K:Hp
    try:
        parts = check_tune(tune)  # within the limits a MIDI file of it has: notes, seconds, a note's seconds
    except RenderLimitError as exc:
        raise RequestError(exc.status, str(exc)) from None
    voices = [v for v in split_voices(tune) if v.has_music]
    if len(voices) > 1:  # its notes are merged from texts of their own: no written place for the cursor and loops
        raise RequestError(400, f"the practice player plays tunes of one voice; this one has {len(voices)} "
                                f"(V: {', '.join(v.id for v in voices)}): its MIDI and WAV downloads play them all")
    try:
        svg, svg_error = c.preview_svg(tune), None
    except RequestError:  # busy: 503, try again
        raise
    except TunesmithError as exc:  # a tune that will not engrave still plays, without the cursor
        svg, svg_error = None, str(exc)
    keys = _KEY_LINE.findall(tune)
    return {"transpose": body.transpose, "abc": tune, "key": keys[0].strip() if keys else None,
            "svg": svg, "svg_error": svg_error, **practice_plan(tune, svg, parts)}
