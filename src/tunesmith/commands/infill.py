"""`tunesmith infill`: new music for some bars of a tune, leading into the bars after them.

The options it shares with `tunesmith vary` (which tune, how many versions
and candidates, the model and its sampling, where to write) are declared
here once (`SHARED`) and run through `rewrite`.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import TunesmithError
from ..options import DEFAULT_CANDIDATES, DEFAULT_TEMPERATURE, DEFAULT_TOP_P, MAX_CANDIDATES
from .runtime import err, model_path, set_threads

# (name, type, typer.Option) of the options infill and vary share, after their own.
SHARED = [
    ("n", int, typer.Option(1, "-n", help="How many versions.")),
    ("seed", int, typer.Option(0, help="Same seed, same versions.")),
    ("candidates", int, typer.Option(DEFAULT_CANDIDATES, help=f"Candidates sampled for each rewrite (1-{MAX_CANDIDATES}); "
                                     "the one after which the model finds the rest of the piece likeliest is kept.")),
    ("tune", Optional[str], typer.Option(None, help="Which piece of the file (needed when it has several): an ABC tune by "
                                         "its X: number; a tabla composition or a piece of MIDI event text by its "
                                         "place, 1, 2 ...")),
    ("model", Optional[Path], typer.Option(None, "--model", help="Checkpoint or run folder (default: the shipped ABC "
                                           "model); a MIDI or tabla model rewrites MIDI pieces or tabla compositions.")),
    ("temperature", Optional[float], typer.Option(None, help=f"Above 0; lower is safer, higher is wilder (default: the model's mode's, "
                                                                 f"{DEFAULT_TEMPERATURE} for ABC).")),
    ("top_k", Optional[int], typer.Option(None, help="Sample among the k likeliest symbols only.")),
    ("top_p", Optional[float], typer.Option(None, help=f"Nucleus sampling; 1 is off (default: the model's mode's, {DEFAULT_TOP_P} "
                                                              "for ABC).")),
    ("output", Optional[Path], typer.Option(None, "-o", "--output", help="File to write (default: stdout); MIDI: x.mid (x-1.mid, "
                                                              "x-2.mid ... for several versions) or x.txt, event text.")),
    ("threads", Optional[int], typer.Option(None, help="CPU threads for torch.")),
]


def rewrite(action: str, file: Path, given: dict[str, Any], bars: str | None = None, amount: float | None = None,
            cycles: str | None = None) -> None:
    """Run `infill` or `vary` (`action`) with the mode of the model: the versions on stdout or in -o.

    Infill's range is `--bars` for ABC and MIDI and `--cycles` for tabla (`Mode.rewrites`).
    """
    from ..checkpoint import load_checkpoint
    from ..modes import RewriteRequest, mode_of
    from ..modes.rewriting import the_range
    from ..options import Sampling

    set_threads(given["threads"])
    if given["n"] < 1:
        raise TunesmithError(f"-n must be at least 1 (got {given['n']})")
    if not 1 <= given["candidates"] <= MAX_CANDIDATES:
        raise TunesmithError(f"--candidates must be between 1 and {MAX_CANDIDATES} (got {given['candidates']})")
    path = model_path(given["model"])
    ckpt = load_checkpoint(path)
    mode = mode_of(ckpt.meta)
    run = getattr(mode, action)
    if run is None:
        raise TunesmithError(f"{action}: the model at {path} writes {mode.writes} (mode {mode.name}), "
                             f"which {action} does not rewrite")
    if action == "infill":
        bars = the_range(mode, f"the model at {path}", bars, cycles)
    defaults = mode.sampling
    sampling = Sampling(defaults.temperature if given["temperature"] is None else given["temperature"],
                        given["top_k"], defaults.top_p if given["top_p"] is None else given["top_p"])
    sampling.check()
    request = RewriteRequest(path=file, piece=given["tune"], bars=bars, amount=amount, n=given["n"],
                             seed=given["seed"], candidates=given["candidates"], sampling=sampling,
                             output=given["output"], progress=err)
    try:
        result = run(ckpt, request)
    except KeyboardInterrupt:  # Ctrl-C: nothing was written (the output is written whole, at the end)
        err(f"{action}: interrupted; nothing written")
        raise typer.Exit(130) from None
    if result.stdout:
        sys.stdout.write(result.stdout)
    if result.message:
        err(result.message)


def signature(own: list[inspect.Parameter]) -> inspect.Signature:
    """A command's signature: its file argument and own options, then the shared ones."""
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=opt)
              for name, kind, opt in SHARED]
    file = inspect.Parameter("file", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Path,
                             default=typer.Argument(..., help="The file with the piece: ABC, MIDI (or its event "
                                                                   "text) or tabla notation, as the model writes."))
    return inspect.Signature([file, *own, *shared], return_annotation=None)


def infill(file: Path, bars: str | None = None, cycles: str | None = None, **given: Any) -> None:
    """Rewrite some bars of a tune or piece (or cycles of a tabla composition): new music that fits and leads into
    what follows; the rest unchanged."""
    rewrite("infill", file, given, bars=bars, cycles=cycles)


infill.__signature__ = signature([
    inspect.Parameter("bars", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str], default=typer.Option(
        None, "--bars", help="ABC and MIDI: the bars to rewrite, e.g. 9-12 or 5. ABC numbers them as `tunesmith "
                             "check` does (a pickup is bar 1); MIDI as its event text's Bar lines (bars of the time "
                             "signature's length, the first bar 1).")),
    inspect.Parameter("cycles", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str], default=typer.Option(
        None, "--cycles", help="Tabla: the whole cycles of the tala to rewrite, e.g. 2-3 (the first cycle is 1; "
                               "the landing sam stays).")),
])
