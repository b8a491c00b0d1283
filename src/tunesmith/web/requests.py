"""The web's generate request, one model per mode: the shared fields and the mode's own declared options.

Built from `Mode.options` (see `modes.base.option`), so a mode's option is
an API field and a form field without being written again here; the
sampling defaults are the mode's.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field, create_model

from ..modes import Mode


def request_model(mode: Mode, name: str) -> type[BaseModel]:
    """A pydantic model of one generate request in `mode`; empty option fields are left to the model."""
    noun = mode.piece + "s"
    fields: dict[str, Any] = {
        "model": (Optional[str], Field(None, description=f"A model's name from its models listing (default: the "
                                                         f"first, the shipped {mode.name} model).")),
        "n": (int, Field(1, description=f"How many {noun} (capped per request).")),
        "seed": (Optional[int], Field(None, ge=0, description=f"Same seed and options, same {noun}; "
                                                              "empty: the server picks one.")),
        "temperature": (float, Field(mode.sampling.temperature, description="Above 0; lower is safer, higher is wilder.")),
        "top_p": (Optional[float], Field(mode.sampling.top_p, description="Nucleus sampling in (0, 1]; 1 or null is off.")),
        "top_k": (Optional[int], Field(None, description="Sample among the k likeliest symbols only.")),
        "primer": (Optional[str], Field(None, description=mode.primer_help)),
        "max_length": (Optional[int], Field(None, description=f"Cap on symbols per {mode.piece} (default: "
                                                              f"the mode's, {mode.max_length}).")),
    }
    for spec in mode.option_specs():
        kind = spec.type if spec.default is not None else Optional[spec.type]
        fields[spec.name] = (kind, Field(spec.default, description=spec.info.help[:1].upper() + spec.info.help[1:],
                                         max_length=spec.info.max_chars))
    return create_model(name, __doc__=f"A request for new {noun}.", **fields)


def options_from(mode: Mode, body: BaseModel) -> Any:
    """The mode's options as a request gives them (empty text: left to the model)."""
    values = {spec.name: getattr(body, spec.name) for spec in mode.option_specs()}
    return mode.options(**{k: (None if v == "" else v) for k, v in values.items()})
