"""Tabla compositions as insight measures them: cycles instead of bars, bols as events.

A composition is read and checked by the notation's own reader
(music/tabla/notation.py). Its "bars" for copy detection are its cycles,
compared as the canonical notation writes them (bols, rests, bracket groups
and vibhag marks, one cycle per line). A piece is flagged as a copy when it
shares 2 consecutive cycles with one training composition: most training
compositions are only 1 or 2 cycles long (a kaida theme and its khali
half), so 2 identical cycles in a row is a whole composition copied, the
tabla counterpart of 4 bars of a reel.

Each composition is also checked against its `form:` line (forms.py: the
rules the corpus is built by), and its silent matras are a statistic of
their own, compared with the corpus's like the bols.

Generation for the report goes through the mode's own writer. The writer
forces the `tala:` line it is asked for, so a report of one tala would say
nothing about the model's talas; each composition's tala is instead drawn
from the model's own probabilities for the first line of a piece, with the
sampler's own settings and seed, and the compositions of each tala are then
written by `MODE.generate` (form, bols and landing chosen by the model).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from fractions import Fraction

import numpy as np

from ...insight.features import FeatureSet, histogram, mean_ioi, transitions
from ...insight.measures import Measures, PieceProfile
from ...music.tabla.bols import BOLS, SILENCE
from ...music.tabla.notation import cycle_text, read_text
from ...music.tabla.talas import TALAS
from .forms import read_form

FLAG_CYCLES = 2
LANDS = "compositions landing on sam (a struck bol after the last cycle)"
IN_FORM = "compositions in their form (forms.read_form: a tihai's phrase three times onto sam, a kaida's theme, khali halves and closing tihai ...)"


def profile(text: str, check: bool = True) -> PieceProfile:
    """Everything the report measures in one composition's text (the first one, when it holds several)."""
    readings = read_text(text)
    reading = readings[0] if readings else None
    comp = reading.composition if reading else None
    result = PieceProfile()
    if comp is not None:
        tala = TALAS[comp.tala]
        matras = comp.matras()
        result.bars = [cycle_text(tala, cycle) for cycle in comp.cycles]
        bols = [b for m in matras for b in m]
        result.events = bols
        # Each bol of a matra takes an equal share of it; the features read the struck ones and when they sound.
        struck = [(Fraction(i) + Fraction(j, len(m)), b) for i, m in enumerate(matras) for j, b in enumerate(m)
                  if b != SILENCE]
        result.onsets = [t for t, _ in struck]
        result.values = {
            "bol": bols,
            "density": [sum(b != SILENCE for b in m) for m in matras],
            "tala": [comp.tala],
            "form": [comp.form] if comp.form else [],
            "silent": [m == (SILENCE,) for m in matras],
            "struck": [b for _, b in struck],
            "struck_per_cycle": [sum(b != SILENCE for m in cycle for b in m) for cycle in comp.cycles],
        }
    else:  # unreadable: its cycle lines as written, so that copying and counts still see something
        result.bars = [" ".join(line.split()) for line in text.split("\n") if line.rstrip().endswith("||")]
    if check:
        problems = reading.problems if reading else []
        result.checker_ok = bool(readings) and not problems
        cycles = text.count("||")
        result.bars_total = max([cycles] + [p.cycle for p in problems])
        result.bars_right = result.bars_total - len({p.cycle for p in problems if p.cycle >= 1})
        landed = comp is not None and comp.landing is not None and comp.landing != (SILENCE,)
        result.checks = {LANDS: landed, IN_FORM: comp is not None and bool(read_form(comp).in_form)}
    return result


def generate(ckpt, request) -> list[str]:
    """`request.n` compositions, each in a tala the model chooses (see the module docstring)."""
    from ...sampling import choose
    from . import MODE

    codec = ckpt.codec
    ids = np.array([i for i, s in enumerate(codec.vocab) if s.startswith("tala: ") and s[6:] in TALAS])
    net = ckpt.model.stepper()
    state = net.initial_state(request.n)
    newline = np.full(request.n, codec.index["\n"])
    for _ in range(2):  # every piece follows a blank line, as in the sampler
        logits, state = net.step(newline, state)
    masked = np.full_like(logits, -np.inf)
    masked[:, ids] = logits[:, ids]
    chosen = choose(masked, request.sampling, np.random.default_rng(request.seed)).tolist()
    talas = Counter(codec.vocab[i][6:] for i in chosen)
    pieces = []
    for k, (tala, count) in enumerate(sorted(talas.items())):
        asked = replace(request, n=count, seed=request.seed + 1000 * (k + 1),
                        options=replace(MODE.options_of(request), tala=tala))
        pieces += MODE.generate(ckpt, asked).pieces
    return pieces


STATISTICS = {
    "bol": ("bol (each bol of a matra, - a silent matra)", lambda p: p.values.get("bol", [])),
    "density": ("bols per matra (0 = silent)", lambda p: p.values.get("density", [])),
    "tala": ("tala", lambda p: p.values.get("tala", [])),
    "form": ("form", lambda p: p.values.get("form", [])),
    "silent": ("silent matras (True: a whole matra of silence)", lambda p: p.values.get("silent", [])),
}

_BOL_INDEX = {b: i for i, b in enumerate(BOLS)}
FEATURE_LABELS = {
    "bol_count": "bols struck",
    "distinct_bols": "distinct bols",
    "bol_histogram": f"bol histogram ({len(BOLS)} bols)",
    "bol_transitions": f"bol transition matrix ({len(BOLS)} x {len(BOLS)})",
    "bols_per_cycle": "bols struck per cycle",
    "ioi": "average inter-onset interval (matras)",
}


def feature_values(text: str, p: PieceProfile) -> dict:
    """Yang & Lerch's features where tabla has them: bols for pitches, matras for time."""
    struck = [_BOL_INDEX[b] for b in p.values.get("struck", []) if b in _BOL_INDEX]
    cycles = p.values.get("struck_per_cycle", [])
    return {
        "bol_count": float(len(struck)) if struck else None,
        "distinct_bols": float(len(set(struck))) if struck else None,
        "bol_histogram": histogram(struck, len(BOLS)),
        "bol_transitions": transitions(struck, len(BOLS)),
        "bols_per_cycle": float(np.mean(cycles)) if cycles else None,
        "ioi": mean_ioi(p.onsets),
    }


MEASURES = Measures(
    mode="tabla", bar="cycle", profile=profile, features=None, statistics=STATISTICS, flag=FLAG_CYCLES,
    event="bol", bars_right="complete (the tala's matras and vibhags)",
    bar_key="as the canonical notation writes them: bols, rests, groups and vibhag marks",
    generate=generate, piece_features=FeatureSet(FEATURE_LABELS, feature_values),
)
