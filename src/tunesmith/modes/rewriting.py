"""What infill and vary share in every mode: a range of bars (or cycles), runs of them, the ones a variation
draws, and the best candidate of each version's group.

A mode's infill samples K candidates per version with its own constrained
writer and scores each by the bits the model spends on the fixed rest of the
piece after it (`score.continuation_bits`); the helpers here keep the parts
that know no notation in one place, so that ABC, MIDI and tabla number
ranges, draw a variation's bars and pick the winners the same way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, Sequence, TypeVar

import numpy as np

from ..atomic import write_text_atomic
from ..errors import TunesmithError
from ..options import MAX_CANDIDATES

if TYPE_CHECKING:
    from .base import Generated, RewriteRequest

T = TypeVar("T")


def unit_range(spec: str | None, count: int, flag: str, unit: str, piece: str) -> tuple[int, int]:
    """`--bars 5-8` (or `5`) as (first, last), 1-based, within `count` units; one clear error otherwise.

    `flag` is the option as the user typed it (`--bars`, `--cycles`), `unit` what is counted ("bar",
    "cycle"), `piece` what has them ("the piece").
    """
    match = re.fullmatch(r"\s*(\d{1,6})\s*(?:-\s*(\d{1,6})\s*)?", spec or "")
    if not match:
        raise TunesmithError(f"{flag} {spec!r}: give one {unit} or a range, e.g. 2-3 ({piece} has {unit}s 1-{count})")
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    if first < 1 or last < first:
        raise TunesmithError(f"{flag} {spec}: the range must go up from {unit} 1 ({piece} has {unit}s 1-{count})")
    if last > count:
        raise TunesmithError(f"{flag} {spec}: {piece} has {count} {unit}s (1-{count})")
    return first, last


def the_range(mode, model: str, bars: str | None, cycles: str | None) -> str:
    """The range infill rewrites, given as the model's mode counts (`--bars`, or `--cycles` for tabla: `Mode.rewrites`);
    the other, or none, is one clear error naming `model` ("the model at models/tabla")."""
    wanted, other = ("--cycles", "--bars") if mode.rewrites == "cycle" else ("--bars", "--cycles")
    given, wrong = (cycles, bars) if mode.rewrites == "cycle" else (bars, cycles)
    if wrong is not None:
        raise TunesmithError(f"{other}: {model} writes {mode.writes}, whose {mode.piece}s are rewritten "
                             f"by whole {mode.rewrites}s: give {wanted}, e.g. {wanted} 2-3")
    if given is None:
        raise TunesmithError(f"infill needs the {mode.rewrites}s to rewrite: {wanted}, e.g. {wanted} 2-3")
    return given


def runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted numbers as runs of neighbours: [2, 3, 5] -> [(2, 3), (5, 5)]."""
    out: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def drawn_units(amount: float, total: int, may: list[int], rng: np.random.Generator) -> list[int]:
    """The units a variation rewrites: round(amount x total) of those it may, at least one, drawn with `rng`."""
    wanted = min(len(may), round(amount * total))
    return sorted(rng.choice(may, size=max(1, wanted), replace=False).tolist())


def check_amount(amount: float | None) -> float:
    """`--amount` as a share in (0, 1]."""
    if amount is None or not 0 < amount <= 1:
        raise TunesmithError(f"--amount must be above 0 and at most 1 (got {amount}): the share to rewrite")
    return amount


def check_counts(n: int, candidates: int) -> None:
    """-n and --candidates in their bounds."""
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise TunesmithError(f"--candidates must be between 1 and {MAX_CANDIDATES} (got {candidates})")
    if n < 1:
        raise TunesmithError(f"-n must be at least 1 (got {n})")


def best_of_groups(drawn: list[T | None], bits: Sequence[float], n: int, candidates: int,
                   what: str) -> list[tuple[int, list[int]]]:
    """Per version, (the index of its best candidate, the indexes of its usable ones), by the fewest bits.

    `drawn` holds the n x candidates candidates in version order (None: one
    that failed); `bits` one score per usable candidate, in the same order.
    `what` names the gap in the error when a whole group failed.
    """
    usable = [i for i, c in enumerate(drawn) if c is not None]
    score = dict(zip(usable, bits))
    out = []
    for version in range(n):
        group = [i for i in range(version * candidates, (version + 1) * candidates) if i in score]
        if not group:
            raise TunesmithError(f"{what}: none of {candidates} candidates came out well formed; try another --seed or "
                                 "more --candidates")
        out.append((min(group, key=score.__getitem__), group))
    return out


def changed_most(candidates: list[int], chosen: int, changed: Callable[[int], int],
                 bits: Callable[[int], float]) -> int:
    """A variation's pick: the best-ranked candidate among those that change the most units (a rewritten unit
    can come out as it was)."""
    most = max(map(changed, candidates))
    if changed(chosen) == most:
        return chosen
    return min((c for c in candidates if changed(c) == most), key=bits)


def variations(req, where: str, make: Callable[[int, Callable[[str], None] | None], T]) -> list[T]:
    """`req.n` variations, `make(version, tell)` each: progress per variation, errors named by `where`.

    `req` is the mode's RewriteRequest (n, progress); `tell` is None when nobody listens.
    """
    versions = []
    for version in range(req.n):
        tell = None if req.progress is None else (lambda what, v=version: req.progress(f"variation {v + 1}: {what}"))
        try:
            versions.append(make(version, tell))
        except TunesmithError as exc:
            raise TunesmithError(f"{where}: {exc}") from None
    return versions


def infill_answer(write: Callable[[str], "Generated"], header: str, versions: Sequence, unit: str,
                  span: tuple[int, int], candidates: int, bits_of: Callable[[object], float],
                  candidate_bits_of: Callable[[object], Sequence[float]],
                  note_of: Callable[[object], str] | None = None,
                  details_of: Callable[[object], dict] | None = None) -> "Generated":
    """What `infill` answers in every mode: the versions written by `write(summary)`, and what the JSON API adds.

    `header` is the summary's first line; each version's line gives its bits (`bits_of`) and the range of
    its candidates' (`candidate_bits_of`), then `note_of(version)` after a `;` where given. `unit` names
    the rewritten span (`span`: first and last bar or cycle) in `about`; `details_of(version)` comes first
    in each version's details.
    """
    lines = [header]
    for i, v in enumerate(versions, 1):
        bits = sorted(candidate_bits_of(v))
        line = f"  version {i}: {bits_of(v):.1f} bits (its {len(bits)} candidates: {bits[0]:.1f} to {bits[-1]:.1f})"
        lines.append(line if note_of is None else f"{line}; {note_of(v)}")
    done = write("\n".join(lines))
    done.about = {f"{unit}s": list(span), "candidates": candidates,
                  "tail_symbols": versions[0].tail_symbols, "original_bits": versions[0].original_bits}
    done.details = [{**(details_of(v) if details_of else {}), "bits": bits_of(v),
                     "candidate_bits": list(candidate_bits_of(v))} for v in versions]
    return done


def variations_answer(write: Callable[[str], "Generated"], name: str, amount: float, unit: str, versions: Sequence,
                      units_of: Callable[[object], int]) -> "Generated":
    """What `vary` answers in every mode: the versions written by `write(summary)`, and what the JSON API adds.

    `unit` is what is counted ("bar", "cycle") and `units_of(version)` how many the piece has.
    """
    lines = [f"{name}: {amount:.0%} of its {units_of(versions[0])} {unit}s asked to change"]
    for i, v in enumerate(versions, 1):
        lines.append(f"  variation {i}: {len(v.changed)} {unit}s changed ({v.achieved:.0%}): "
                     f"{', '.join(map(str, v.changed)) or 'none'}")
    done = write("\n".join(lines))
    done.about = {"amount": amount}
    done.details = [{f"{unit}s": units_of(v), "rewritten": list(v.rewritten), "changed": list(v.changed),
                     "achieved": v.achieved} for v in versions]
    return done


def write_texts(texts: list[str], req: "RewriteRequest", message: str) -> "Generated":
    """The versions as text, one after another: to the output file (atomically), or stdout when there is none."""
    from .base import Generated

    joined = "\n".join(texts)
    if req.output is None:
        return Generated(stdout=joined, message=message, pieces=texts)
    write_text_atomic(req.output, joined)
    return Generated(message=f"{message}\nwrote {len(texts)} to {req.output}", pieces=texts)
