"""The MIDI mode's bundled corpora: Bach's chorales, and the folk tunes played as MIDI.

`bach-chorales` are the chorale harmonisations that music21 ships as
MusicXML/Humdrum, converted once (by `python -m tunesmith.corpus.midi_bundled`,
a few minutes of music21 parsing) into real MIDI files kept in
`data/bach_chorales.zip` (about 0.3 MB): reading them back is the same path a
user's MIDI folder takes, and needs no music21 parse at run time.
`folk-midi` is the ABC `folk` corpus turned into notes by the ABC event
reader (melody and chord-symbol accompaniment, repeats played).
"""

from __future__ import annotations

import io
import os
import sys
import zipfile
from fractions import Fraction
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..atomic import write_text_atomic
from ..errors import TunesmithError
from ..music.midi import STEPS_PER_BEAT, STEPS_PER_WHOLE, GridNote, MidiPiece, bar_steps, midi_bytes, \
    normal_piece, piece_from_midi, snap_meters

BACH_ARCHIVE = Path(__file__).parent / "data" / "bach_chorales.zip"
CHORALE_QPM = 80          # no tempo is written in the scores; a calm sung tempo
CHORALE_VELOCITY = 80
VOICES = ("soprano", "alto", "tenor", "bass")
FOLK_QPM = 120
FOLK_CACHE_VERSION = 2   # bump when the conversion changes (2: repeats after repeats played as abc2midi does)

MIDI_CORPORA = {
    "bach-chorales": "Bach's four-part chorales (music21's corpus), all four voices, pickups on the beat",
    "folk-midi": "the ABC folk corpus played as MIDI: melody, chord-symbol accompaniment, repeats",
}


def chorale_piece(path: Path) -> MidiPiece:
    """One chorale file through music21: its sung voices (or every part when none is named), ties merged."""
    from music21 import converter, meter

    score = converter.parse(str(path)).stripTies()
    parts = list(score.parts)
    sung = [p for p in parts if (p.partName or "").strip().lower().split(" ")[0].rstrip("0123456789") in VOICES]
    measures = parts[0].getElementsByClass("Measure")
    # A pickup bar is short by paddingLeft; shifting by it puts the downbeats on bar lines.
    pad = Fraction(measures[0].paddingLeft).limit_denominator(96) if len(measures) else Fraction(0)
    notes = []
    for part in sung or parts:
        for n in part.flatten().notes:
            start = round((Fraction(n.offset) + pad) * STEPS_PER_BEAT)
            duration = round(Fraction(n.quarterLength) * STEPS_PER_BEAT)
            for pitch in n.pitches:
                notes.append(GridNote(start, pitch.midi, duration, CHORALE_VELOCITY))
    signatures = []
    for ts in parts[0].flatten().getElementsByClass(meter.TimeSignature):
        signatures.append((round((Fraction(ts.offset) + pad) * STEPS_PER_BEAT), ts.numerator, ts.denominator))
    return normal_piece(notes, snap_meters(signatures), CHORALE_QPM, path.stem)


def build_bach_archive(dest: Path = BACH_ARCHIVE) -> int:
    """Convert every chorale music21 ships into a MIDI file inside the zip `dest`; returns how many."""
    from .bundled import music21_corpus_dir

    files = sorted(p for p in (music21_corpus_dir() / "bach").iterdir() if p.suffix in (".mxl", ".xml", ".krn"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            piece = chorale_piece(path)
            # bwv277.krn and bwv277.mxl are both shipped: the Humdrum one gets its own name
            name = path.stem + ("" if path.suffix == ".mxl" else "-" + path.suffix[1:])
            info = zipfile.ZipInfo(f"{name}.mid", date_time=(2020, 1, 1, 0, 0, 0))  # reproducible bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, midi_bytes(piece))
    from ..atomic import write_bytes_atomic

    write_bytes_atomic(dest, buffer.getvalue())
    return len(files)


@lru_cache(maxsize=None)
def load_bach() -> tuple[MidiPiece, ...]:
    """The chorales, read from the bundled MIDI archive with the same reader as any MIDI file."""
    if not BACH_ARCHIVE.is_file():
        raise TunesmithError(f"{BACH_ARCHIVE}: missing; rebuild it with `python -m tunesmith.corpus.midi_bundled`")
    pieces = []
    with zipfile.ZipFile(BACH_ARCHIVE) as archive:
        for name in sorted(archive.namelist()):
            pieces.append(piece_from_midi(archive.read(name), f"{BACH_ARCHIVE.name}:{name}", Path(name).stem))
    return tuple(pieces)


def _meter(text: str | None) -> tuple[int, int]:
    named = {"C": (4, 4), "C|": (2, 2)}
    if text in named:
        return named[text]
    try:
        num, den = (int(x) for x in (text or "").split("/"))
    except ValueError:
        return 4, 4  # free or unusual meters: bars of 4/4 are only a grid
    return num, den


def folk_piece(tune) -> MidiPiece | None:
    """One ABC tune's melody and accompaniment as a MIDI piece (None when it has no notes)."""
    from ..music.abc.to_events import tune_parts

    parts = tune_parts(tune.text)
    num, den = _meter(parts.meter)
    shift = parts.pickup  # a short first bar begins on its last beats
    notes = [GridNote(round((e.start + shift) * STEPS_PER_WHOLE), e.pitch, round(e.duration * STEPS_PER_WHOLE),
                      e.velocity)
             for e in parts.melody + parts.accompaniment if e.duration > 0]
    if not notes:
        return None
    meters = [(0, num, den) if bar_steps(num, den) is not None else (0, 4, 4)]
    return normal_piece(notes, meters, FOLK_QPM, tune.title)


@dataclass(frozen=True)
class TextPiece:
    """A piece known by its token text only (what training needs), as read from the cache."""

    text: str
    title: str

    @property
    def text_without_number(self) -> str:
        """A MIDI piece has no number: its text is its identity."""
        return self.text


def cache_dir() -> Path:
    """Where converted corpora are kept between runs (XDG_CACHE_HOME/tunesmith, else ~/.cache/tunesmith)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tunesmith"


@lru_cache(maxsize=None)
def load_folk_midi() -> tuple[MidiPiece | TextPiece, ...]:
    """The ABC `folk` corpus as MIDI pieces; converted once (about 30 s) and then read from the cache."""
    from .bundled import corpus_hash, load_bundled

    tunes = load_bundled("folk")
    cache = cache_dir() / f"folk-midi-{FOLK_CACHE_VERSION}-{corpus_hash(tunes)}.txt"
    if cache.is_file():
        pieces = []
        for block in cache.read_text().split("\n\n"):
            if block.strip():
                title, text = block.split("\n", 1)
                pieces.append(TextPiece(text.rstrip("\n") + "\n", title[2:]))
        return tuple(pieces)
    pieces = tuple(p for p in (folk_piece(t) for t in tunes) if p is not None)
    try:
        write_text_atomic(cache, "\n".join(f"% {p.title}\n{p.text}" for p in pieces))
    except (OSError, TunesmithError):
        pass  # no writable cache: convert again next time
    return pieces


def load_midi_bundled(name: str) -> tuple[MidiPiece, ...]:
    """A bundled MIDI corpus by name."""
    if name == "bach-chorales":
        return load_bach()
    if name == "folk-midi":
        return load_folk_midi()
    raise TunesmithError(f"unknown MIDI corpus {name!r}; bundled: {', '.join(MIDI_CORPORA)}")


if __name__ == "__main__":
    count = build_bach_archive(Path(sys.argv[1]) if len(sys.argv) > 1 else BACH_ARCHIVE)
    print(f"wrote {count} chorales", file=sys.stderr)
