"""`tunesmith render` for tabla compositions: WAV (with the practice options) and MIDI files.

The tabla mode's `Player` (modes/base.py): which files are tabla notation,
and how one is rendered. The practice options are declared once
(`options.TablaPractice`) and read by the render command and by the tab's
player; `practice_of` turns them into the renderer's `Practice` for one
composition (its tempo line is the default tempo).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ...atomic import write_bytes_atomic
from ...errors import TunesmithError
from ...music.tabla.notation import Composition, compositions_in_file, theka
from ...music.tabla.talas import Tala
from .options import DEFAULT_TEMPO, TablaPractice

KINDS = ("wav", "midi")
_TALA_LINE = re.compile(r"^\s*tala\s*:", re.IGNORECASE | re.MULTILINE)


def is_tabla_file(path: Path) -> bool:
    """Whether a file is tabla notation: a `.tabla` file, or one with a `tala:` header line (ABC never has one)."""
    if path.suffix.lower() == ".tabla":
        return True
    try:
        head = path.read_bytes()[:65536]
    except OSError:
        return False  # the ABC reader names the problem
    return b"\x00" not in head and bool(_TALA_LINE.search(head.decode("utf-8", errors="replace")))


def changes_playing(options: TablaPractice) -> list[str]:
    """The flags of the options that change how the composition is played (those a MIDI file cannot hold)."""
    defaults = TablaPractice()
    return ["--" + f.name.replace("_", "-") for f in dataclasses.fields(options)
            if getattr(options, f.name) != getattr(defaults, f.name)]


def practice_of(options: TablaPractice, comp: Composition):
    """The renderer's Practice for one composition: the options, its tempo line when no tempo is given."""
    from ...render.tabla_practice import Practice

    tempo = options.tempo if options.tempo is not None else (comp.tempo or DEFAULT_TEMPO)
    return Practice(tempo=tempo, laya=options.laya, ramp_to=options.ramp_to, ramp_cycles=options.ramp_cycles,
                    lehra=options.lehra, sa=options.sa, theka=options.theka, drone=options.drone)


def theka_composition(tala: Tala) -> Composition:
    """One cycle of the tala's theka landing on sam: what is practised when there is no composition."""
    cycle = theka(tala)
    return Composition(tala.name, (tuple(cycle),), cycle[0], "theka", f"{tala.name.capitalize()} theka")


def planned_files(path: Path, kinds: list[str], folder: Path, options: TablaPractice, limits) -> list[tuple[Path, Composition]]:
    """Per file to write, the composition it holds; every composition is checked and measured first.

    A problem in any composition, a kind tabla cannot be rendered as, or MIDI asked to hold what only the
    WAV can (a lehra, a ramp ...) is a TunesmithError (RenderLimitError past the limits): nothing is written.
    """
    from ...render.limits import RenderLimitError
    from ...render.tabla_audio import check_composition
    from ...render.tabla_practice import check_practice

    other = [k for k in kinds if k not in KINDS]
    if other:
        raise TunesmithError(f"{path}: a tabla composition renders as {' and '.join(KINDS)}, not "
                             f"{', '.join(other)}")
    changed = changes_playing(options)
    if "midi" in kinds and changed:
        verb = "shapes" if len(changed) == 1 else "shape"
        raise TunesmithError(f"{path}: {', '.join(changed)} {verb} the WAV only; the MIDI file is the composition "
                             "as written: render midi without them")
    comps = compositions_in_file(path)
    for comp in comps:
        where = f"{path}: composition {comp.number}"
        try:
            if "wav" in kinds:
                check_practice(comp, practice_of(options, comp), limits)
            if "midi" in kinds:
                check_composition(comp, comp.tempo or DEFAULT_TEMPO, limits=limits)
        except RenderLimitError as exc:
            raise RenderLimitError(f"{where}: {exc}; nothing was written", exc.limit) from None
        except TunesmithError as exc:
            raise TunesmithError(f"{where}: {exc}; nothing was written") from None
    out = []
    for comp in comps:
        stem = path.stem if len(comps) == 1 else f"{path.stem}-{comp.number}"
        out += [(folder / f"{stem}.{'mid' if kind == 'midi' else 'wav'}", comp) for kind in kinds]
    return out


def render_file(path: Path, kinds: list[str], folder: Path, options: TablaPractice, limits,
                seed: int = 0) -> list[Path]:
    """Write a WAV (played as `options` say) and/or a MIDI file per composition of a tabla file; their paths."""
    from ...render.tabla_audio import composition_midi
    from ...render.tabla_practice import practice_wav

    written = []
    for target, comp in planned_files(path, kinds, folder, options, limits):
        if target.suffix == ".mid":
            data = composition_midi(comp, comp.tempo or DEFAULT_TEMPO, limits)
        else:
            data = practice_wav(comp, practice_of(options, comp), seed, limits)
        write_bytes_atomic(target, data)
        written.append(target)
    return written
