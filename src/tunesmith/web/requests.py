"""The web's request bodies: one generate model per mode (the shared fields and the mode's declared options),
and the text types every body uses.

Built from `Mode.options` (see `modes.base.option`), so a mode's option is
an API field and a form field without being written again here; the
sampling defaults are the mode's, and so are the ranges: an option's
declared minimum and maximum, and the shared ones of `options.Sampling`.
Types are strict (`"1"`, `true` and `1.5` are not a count of 1), numbers
finite, text valid Unicode, and a field the request does not have is an
error rather than ignored: a request means what it says or is refused with
a 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from ..modes import Mode
from ..options import DEFAULT_CANDIDATES, MAX_TEMPERATURE, MAX_TOP_K

# SQLite's INTEGER (ids, and anything kept in a column) is a signed 64-bit number.
MAX_ID = 2**63 - 1
MAX_SEED = 2**63 - 1
MODEL_NAME_CHARS = 200


def unicode_text(value: str) -> str:
    """`value`, refused when it holds a lone surrogate (JSON's "\\ud800"): no text, and nothing can store it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # only a surrogate does not encode
        raise PydanticCustomError("unicode_text", "not Unicode text: a lone surrogate ({code}) at character {at}; "
                                  "send text as UTF-8", {"code": f"\\u{ord(value[exc.start]):04x}", "at": exc.start + 1})
    return value


def text(max_chars: int | None = None, **field: Any) -> Any:
    """A strict text field (no lone surrogates), at most `max_chars` long."""
    return Field(strict=True, max_length=max_chars, **field)


Text = Annotated[str, AfterValidator(unicode_text)]


class Body(BaseModel):
    """A request body: strict about its fields."""

    model_config = ConfigDict(extra="forbid")


def sampling_fields(mode: Mode, noun: str) -> dict[str, Any]:
    """The fields every request that runs a model has: the model, how many (`noun`), the seed and the sampling."""
    s = mode.sampling
    return {
        "model": (Optional[Text], text(MODEL_NAME_CHARS, default=None,
                                       description=f"A model's name from its models listing (default: the "
                                                   f"first, the shipped {mode.name} model).")),
        # n and max_length: their upper bounds are the app's (service.Limits), checked with the lower ones there.
        "n": (int, Field(1, strict=True, json_schema_extra={"minimum": 1},
                         description=f"How many {noun} (capped per request).")),
        "seed": (Optional[int], Field(None, strict=True, ge=0, le=MAX_SEED,
                                      description=f"Same seed and options, same {noun}; empty: the server picks one.")),
        "temperature": (float, Field(s.temperature, strict=True, allow_inf_nan=False, gt=0, le=MAX_TEMPERATURE,
                                     description=f"In (0, {MAX_TEMPERATURE:g}]; lower is safer, higher is wilder.")),
        "top_p": (Optional[float], Field(s.top_p, strict=True, allow_inf_nan=False, gt=0, le=1,
                                         description="Nucleus sampling in (0, 1]; 1 or null is off.")),
        "top_k": (Optional[int], Field(None, strict=True, ge=1, le=MAX_TOP_K,
                                       description="Sample among the k likeliest symbols only.")),
    }


def request_model(mode: Mode, name: str) -> type[BaseModel]:
    """A pydantic model of one generate request in `mode`; empty option fields are left to the model."""
    noun = mode.piece + "s"
    fields: dict[str, Any] = {
        **sampling_fields(mode, noun),
        "primer": (Optional[Text], text(default=None, description=mode.primer_help)),
        "max_length": (Optional[int], Field(None, strict=True, json_schema_extra={"minimum": mode.min_length},
                                            description=f"Cap on symbols per {mode.piece} (default: "
                                                        f"the mode's, {mode.max_length}).")),
    }
    for spec in mode.option_specs():
        info = spec.info
        description = info.help[:1].upper() + info.help[1:]
        if spec.type is str:
            kind, field = Text, text(info.max_chars, default=spec.default, description=description)
        elif spec.type in (int, float):
            bounds = {"ge": info.minimum, "le": info.maximum}
            if spec.type is float:
                bounds["allow_inf_nan"] = False
            kind, field = spec.type, Field(spec.default, strict=True, description=description, **bounds)
        elif spec.type is bool:
            kind, field = bool, Field(spec.default, strict=True, description=description)
        else:  # e.g. a Path: a server's file is no option of a web request
            continue
        fields[spec.name] = (kind if spec.default is not None else Optional[kind], field)
    return create_model(name, __base__=Body, __doc__=f"A request for new {noun}.", **fields)


def rewrite_model(name: str, doc: str, **own: Any) -> type[BaseModel]:
    """A pydantic model of a request that rewrites one piece (infill, vary) with a model of any mode: the piece
    (`abc` for an ABC model, `text` for the others), its `own` fields (name: (type, Field)), how many
    candidates, and what every model run has, its sampling left to the model's mode when not given."""
    sampling = sampling_fields(ABC_MODE(), "versions")
    # Left to the model's mode when not given (ABC's top_p is 0.95, tabla's and MIDI's 1).
    sampling["temperature"] = (Optional[float], Field(None, strict=True, allow_inf_nan=False, gt=0, le=MAX_TEMPERATURE,
                                                      description=f"In (0, {MAX_TEMPERATURE:g}]; lower is safer, "
                                                                  "higher is wilder (default: the model's mode's)."))
    sampling["top_p"] = (Optional[float], Field(None, strict=True, allow_inf_nan=False, gt=0, le=1,
                                                description="Nucleus sampling in (0, 1]; 1 is off (default: the "
                                                            "model's mode's)."))
    fields: dict[str, Any] = {
        "abc": (Optional[Text], text(default=None, description="An ABC model's piece: the text of one tune, from "
                                                               "its X: line.")),
        "text": (Optional[Text], text(default=None, description=(
            "A tabla or MIDI model's piece: one tabla composition in its notation (as `/api/tabla` gives it), or "
            "one MIDI piece as event text (as `tunesmith generate --mode midi` writes it)."))),
        **own,
        "candidates": (int, Field(DEFAULT_CANDIDATES, strict=True, json_schema_extra={"minimum": 1},
                                  description="Candidates sampled for each rewrite (capped per request); the one "
                                              "after which the model finds the rest of the piece likeliest "
                                              "is kept.")),
        **sampling,
    }
    return create_model(name, __base__=Body, __doc__=doc, **fields)


def ABC_MODE() -> Mode:
    """The ABC mode, whose shipped model a request without `model` runs."""
    from ..modes import get_mode

    return get_mode("abc")


def options_from(mode: Mode, body: BaseModel) -> Any:
    """The mode's options as a request gives them (empty text: left to the model)."""
    values = {spec.name: getattr(body, spec.name) for spec in mode.option_specs() if spec.name in type(body).model_fields}
    return mode.options(**{k: (None if v == "" else v) for k, v in values.items()})
