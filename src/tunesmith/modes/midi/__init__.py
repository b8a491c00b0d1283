"""The MIDI mode: pieces from MIDI files, one event token per symbol, written back as MIDI.

Its package: `corpus` (bundled corpora, files and folders of MIDI),
`options` (length, tempo, an opening), `writer` (the masks that keep a
piece well formed and end it on a cadence, for the shared sampler; `tables`
holds a model's tokens by kind), `measures` (what `evaluate` measures in a
piece) and `fidelity` (how close pieces come to real ones: rhythm, rests,
phrase endings, voices, cadences); `infill` and `rewrite` (bars of a
piece rewritten, `tunesmith infill` and `vary`).
"""

from __future__ import annotations

from pathlib import Path

from ...atomic import write_bytes_atomic, write_text_atomic
from ...codecs.midi_events import MidiEventCodec
from ...errors import TunesmithError
from ...music.midi import midi_bytes, read_midi, text_problem
from ...options import Sampling
from ..base import CheckReport, Generated, GenerateRequest, Mode, deferred, imported
from .corpus import MIDI_SUFFIXES, corpora, count, dedupe, is_midi_file, load_source, text_blocks
from .options import RENDERS, MidiOptions


def _outputs(output: Path, n: int) -> list[Path]:
    if n == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i}{output.suffix}") for i in range(1, n + 1)]


def _check_renders(outputs: list, kinds: tuple[str, ...]) -> None:
    """Every piece's renders against the render limits, before any file is written: a refusal leaves none."""
    from ...render.audio import midi_voices
    from ...render.limits import RenderLimitError, RenderLimits
    from ...render.pianoroll import check_pianoroll

    limits = RenderLimits.from_env()
    for piece, path, data in outputs:
        try:
            if "wav" in kinds:
                midi_voices(data, limits)  # its length, notes and longest note, as midi_to_wav measures them
            if "pianoroll" in kinds:
                check_pianoroll(piece, limits)
        except RenderLimitError as exc:
            raise RenderLimitError(f"{path}: {exc}; nothing was written", exc.limit) from None


def _generate(ckpt, req: GenerateRequest) -> Generated:
    opt = MODE.options_of(req)
    unknown = [k for k in req.render if k not in RENDERS]
    if unknown:
        raise TunesmithError(f"--render {','.join(unknown)}: a MIDI model renders {', '.join(RENDERS)}")
    if req.output is not None and req.output.suffix.lower() not in MIDI_SUFFIXES + (".txt",):
        raise TunesmithError(f"-o {req.output}: name a .mid file (or .txt for the token text)")
    if req.render and (req.output is None or req.output.suffix.lower() == ".txt"):
        raise TunesmithError("--render writes files beside the MIDI file: name it with -o, e.g. -o out/new.mid")
    pieces = MODE.write(ckpt, req)
    text = "\n".join(p.text for p in pieces)
    if req.output is None:
        return Generated(stdout=text, pieces=[p.text for p in pieces])
    if req.output.suffix.lower() == ".txt":
        write_text_atomic(req.output, text)
        return Generated(message=f"wrote {len(pieces)} pieces to {req.output}", pieces=[p.text for p in pieces])
    outputs = [(piece, path, midi_bytes(piece, qpm=opt.tempo))
               for piece, path in zip(pieces, _outputs(req.output, len(pieces)))]
    if req.render:
        _check_renders(outputs, req.render)
    written = []
    for piece, path, data in outputs:
        write_bytes_atomic(path, data)
        written.append(path)
        if "wav" in req.render:
            from ...render.audio import midi_to_wav

            write_bytes_atomic(path.with_suffix(".wav"), midi_to_wav(data))
        if "pianoroll" in req.render:
            from ...render.pianoroll import pianoroll_png

            write_bytes_atomic(path.with_suffix(".png"), pianoroll_png(piece, title=path.stem))
    extra = sum(k in req.render for k in ("wav", "pianoroll")) * len(written)
    where = written[0] if len(written) == 1 else f"{written[0]} .. {written[-1].name}"
    message = f"wrote {len(written)} MIDI files ({where})" + (f" and {extra} rendered files beside them" if extra else "")
    return Generated(message=message, pieces=[p.text for p in pieces])


def _check_file(path: Path) -> CheckReport:
    """A MIDI file: can it be read (else exit 2). An event text: every piece against the grammar, with line:col."""
    path = Path(path)
    if is_midi_file(path):
        piece = read_midi(path)
        return CheckReport(str(path), [{"number": 1, "title": piece.title, "line": 1, "problems": []}])
    pieces = []
    for first, text in text_blocks(path):  # a file with no piece: the error train and evaluate give
        _, problem = text_problem(text)
        problems = [] if problem is None else [{"line": first + problem[0] - 1, "col": problem[1],
                                                 "message": problem[2]}]
        pieces.append({"number": len(pieces) + 1, "title": f"at line {first}", "line": first, "problems": problems})
    return CheckReport(str(path), pieces)


MODE = Mode(
    name="midi",
    description="MIDI files: notes with their timing, rests, chords and velocity",
    writes="MIDI",
    about="An RNN that writes MIDI as note events (Bar, Pos_, Pitch_, Dur_, Vel_; see `music/midi.py`)",
    corpus_note="MIDI files as event text on a 12-per-beat grid; exact duplicates removed",
    codecs=(MidiEventCodec,),
    default_model="midi",
    options=MidiOptions,
    corpora=corpora,
    count_corpus=count,
    load_source=load_source,
    dedupe=dedupe,
    write=deferred("tunesmith.modes.midi.writer", "generate_pieces"),
    generate=_generate,
    check_file=_check_file,
    measures=imported("tunesmith.modes.midi.measures", "MEASURES"),
    suffix="txt",
    renders=RENDERS,
    primer_help="The opening as event text (Tempo_ TS_ line, then Bar Pos_ Vel_ Pitch_ Dur_ tokens).",
    # The model's own distribution: ABC's nucleus (top-p 0.8) cuts the chorales' rarer note lengths (halves,
    # dotted quarters, sixteenths) and leaves quarters and eighths; chosen on seed 900, docs/midi.md.
    sampling=Sampling(temperature=1.0, top_p=1.0),
    infill=deferred("tunesmith.modes.midi.rewrite", "infill_file"),
    vary=deferred("tunesmith.modes.midi.rewrite", "vary_file"),
)

__all__ = ["MODE", "MidiOptions", "dedupe", "load_source"]
