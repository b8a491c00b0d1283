"""`tunesmith generate`: new music from a trained model, in the model's mode.

The options every mode shares are declared here; each mode's own options
(ABC's --meter, MIDI's --bars, tabla's --tala ...) are read off the modes'
declarations (`Mode.options`), so a new mode's options appear here without
editing this file. An option two modes share (--tempo) is offered once.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import TunesmithError
from ..options import DEFAULT_MAX_LENGTH, DEFAULT_TEMPERATURE, DEFAULT_TOP_P
from .runtime import DEVICE_HELP, err, model_path, set_threads, torch_device

# (name, type, typer.Option) of the options every mode shares, before and after the modes' own.
_FIRST = [
    ("n", int, typer.Option(5, "-n", help="How many pieces.")),
    ("model", Optional[Path], typer.Option(None, "--model", help="Checkpoint or run folder (default: the shipped model of --mode).")),
    ("mode", Optional[str], typer.Option(None, help="Without --model: whose shipped model to use (abc, midi, tabla).")),
    ("seed", int, typer.Option(0, help="Same seed, same music.")),
    ("temperature", Optional[float], typer.Option(None, help=f"Above 0; lower is safer, higher is wilder (default: the mode's, {DEFAULT_TEMPERATURE})."),),
    ("top_k", Optional[int], typer.Option(None, help="Sample among the k likeliest symbols only.")),
    ("top_p", Optional[float], typer.Option(None, help=f"Sample among the likeliest symbols whose probabilities sum to p; 1 is off (default: the mode's, {DEFAULT_TOP_P}).")),
    ("argmax", bool, typer.Option(False, help="Always take the likeliest symbol.")),
    ("copy", bool, typer.Option(True, "--copy/--no-copy", help="Mix the model's copy model (a piece's own earlier phrases) into each draw, when it has one.")),
    ("primer", Optional[str], typer.Option(None, help=r"Start of the piece; \n is a newline. abc: with X: it is the whole header.")),
]
_LAST = [
    ("free", bool, typer.Option(False, "--free", help="Sample freely: no well-formedness constraints (bars may not add up).")),
    ("render", Optional[str], None),  # its help names what each mode renders: see _signature
    ("max_length", Optional[int], typer.Option(None, help=f"Cap on symbols per piece (default: {DEFAULT_MAX_LENGTH}; tabla: what the cycles need).")),
    ("output", Optional[Path], typer.Option(None, "-o", "--output", help="File to write (default: stdout where the mode allows).")),
    ("as_json", bool, typer.Option(False, "--json", help="Print one JSON object instead of the text: the model, the seed and each piece's text (abc: with its title and nearest training tune).")),
    ("threads", Optional[int], typer.Option(None, help="CPU threads for torch.")),
    ("device", str, typer.Option("auto", help=DEVICE_HELP + " On a GPU an RNN model writes up to 4,096 pieces side by side.")),
    ("int8", bool, typer.Option(False, "--int8", help="Multiply by 8-bit copies of an LSTM's or GRU's recurrent weights: about 1.35x faster on one stream on a CPU, the held-out bits 0.01 % higher, other draws than without.")),
]


def _mode_options() -> list[tuple[str, Any, Any]]:
    """Every mode's own command-line options, each once: (name, type, typer.Option)."""
    from ..modes import all_modes

    merged: dict[str, tuple[type, list[str], str]] = {}
    for mode in all_modes():
        for spec in mode.option_specs():
            if spec.info.cli:
                kind, helps, _ = merged.setdefault(spec.name, (spec.type, [], spec.flag))
                if kind is not spec.type:
                    raise TypeError(f"option {spec.name}: {mode.name} declares it {spec.type}, another mode {kind}")
                helps.append(f"{mode.name}: {spec.info.help}")
    return [(name, Optional[kind], typer.Option(None, spelled, help=" ".join(helps)))
            for name, (kind, helps, spelled) in merged.items()]


def generate(**given: Any) -> None:
    """Write new music with a trained model (ABC tunes, MIDI or tabla, as the model's mode says)."""
    from ..checkpoint import load_checkpoint
    from ..modes import GenerateRequest, mode_of
    from ..options import Sampling

    shared = {name for name, _, _ in _FIRST + _LAST}
    own = {k: v for k, v in given.items() if k not in shared}
    set_threads(given["threads"])
    if given["n"] < 1:
        raise TunesmithError(f"-n must be at least 1 (got {given['n']})")
    mode, path = given["mode"], model_path(given["model"], given["mode"])
    ckpt = load_checkpoint(path, torch_device(given["device"]))
    chosen = mode_of(ckpt.meta)
    if mode is not None and mode != chosen.name:
        raise TunesmithError(f"--mode {mode}: the model at {path} is a {chosen.name} model")
    if given["int8"]:
        from ..models.engine import device_of

        cell, device = ckpt.model.config.cell, device_of(ckpt.model).type
        if cell not in ("lstm", "gru") or device != "cpu":
            raise TunesmithError(f"--int8: only an LSTM or GRU sampled on the CPU has 8-bit weights (the model at {path} "
                                 f"is a {cell} on {device})")
        ckpt.model.sample_in_int8()
    defaults = chosen.sampling
    sampling = Sampling(defaults.temperature if given["temperature"] is None else given["temperature"],
                        given["top_k"], defaults.top_p if given["top_p"] is None else given["top_p"], given["argmax"],
                        copy=given["copy"])
    sampling.check()
    render, primer = given["render"], given["primer"]
    request = GenerateRequest(
        n=given["n"], seed=given["seed"], sampling=sampling,
        primer=primer.replace("\\n", "\n") if primer is not None else None,
        max_length=given["max_length"], free=given["free"], output=given["output"],
        render=tuple(k.strip() for k in render.split(",") if k.strip()) if render else (),
        options=chosen.resolve_options(own),
    )
    result = chosen.generate(ckpt, request)
    if given["as_json"]:
        sys.stdout.write(json.dumps(_as_json(chosen, ckpt, request, result.pieces), indent=1) + "\n")
    elif result.stdout:
        sys.stdout.write(result.stdout)
    if result.message:
        err(result.message)


def _as_json(mode: Any, ckpt: Any, request: Any, pieces: list[str]) -> dict:
    """What `--json` prints: the model, mode and seed, and per piece its number, text and what the mode adds."""
    details = mode.details(ckpt, request, pieces) if mode.details is not None else [{} for _ in pieces]
    return {"model": str(ckpt.path), "mode": mode.name, "seed": request.seed,
            "pieces": [{"number": i, **extra, "text": text} for i, (text, extra) in enumerate(zip(pieces, details), 1)]}


def _render_option() -> Any:
    from ..modes import all_modes

    kinds = "; ".join(f"{m.name}: {', '.join(m.renders)}" for m in all_modes() if m.renders)
    return typer.Option(None, help=f"Also write these beside -o, comma-separated ({kinds}).")


def _signature() -> inspect.Signature:
    params = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind,
                                default=_render_option() if name == "render" else opt)
              for name, kind, opt in _FIRST + _mode_options() + _LAST]
    return inspect.Signature(params, return_annotation=None)


generate.__signature__ = _signature()
