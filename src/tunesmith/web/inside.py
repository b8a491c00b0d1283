"""The tune page's "Look inside": the model's guesses at each character and one neuron, from `insight.visualize`.

Two views of the same reading. *Compact* (the default) is one row per line of
the tune, wrapped only between bars: each character on the neuron's colour,
underlined in the colour of the model's confidence (its top guess's
probability), the five guesses shown for the character hovered or tapped.
*Full* is `tunesmith visualize`'s page: every character with its five guesses
under it. Both come with a legend that says what the colours mean, with a
colour bar and its numbers.

Finding the neuron that tracks structure ("auto") correlates every neuron
with bar position, header/body, endings... over held-out tunes; the web app
does it over a few tunes, once per model, and keeps the answer until the
model's checkpoint changes.
"""

from __future__ import annotations

import html
import json
import threading

import numpy as np

from ..checkpoint import CONFIG
from ..errors import TunesmithError
from .service import Composer, RequestError, field_names

# Held-out tunes the neuron finder reads for the web: the same neurons as with 100 tunes on the
# shipped model (bar position 2/94, endings 3/38, header/body 3/153) in a tenth of the time (~2 s).
REFERENCE_TUNES = 20
VIEWS = ("compact", "full")
_BAR_LINE = set("|:]")  # what a bar line is written with (|, ||, |], :|, |:, ::)
TICKS = 5  # numbers under each colour bar: both ends, the middle and the quarters
_WORDS = {"char": "character"}  # a codec's unit as the page says it


class Inside:
    """Builds the "Look inside" view of stored tunes, with the neuron finder's answer kept per model."""

    def __init__(self, composer: Composer):
        self.composer = composer
        self._findings: dict[tuple, list] = {}
        self._lock = threading.Lock()

    def fragment(self, tune_id: int, model: str | None, layer: int | None, neuron: str | int,
                 view: str = "compact") -> tuple[str, str]:
        """(HTML fragment, model name) for a stored tune read by `model` (default: the one that wrote it),
        in the `view` asked for (compact or full), legend first."""
        if view not in VIEWS:
            raise RequestError(422, f"view {view!r}: choose {' or '.join(VIEWS)}")
        c = self.composer
        tune = c.tune(tune_id)
        names = [e.name for e in c.catalog.entries()]
        entry = c.catalog.find(model or (tune.model if tune.model in names else None))
        with c.turn():
            try:
                return self._shown(c.catalog.load(entry), tune_id, tune.abc, layer, neuron, view), entry.name
            except RequestError:
                raise
            except TunesmithError as exc:  # a bad layer or neuron, a character the model never saw
                raise RequestError(422, field_names(str(exc))) from None

    def _shown(self, ckpt, tune_id: int, abc: str, layer: int | None, neuron: str | int, view: str) -> str:
        from ..insight.visualize import render_fragment

        reading = self._view(ckpt, tune_id, abc, layer, neuron)
        vocab = ckpt.codec.vocab
        drawn = compact_fragment(reading, vocab) if view == "compact" else render_fragment(reading, vocab, legend=False)
        return legend(reading, view) + drawn

    def _view(self, ckpt, tune_id: int, abc: str, layer: int | None, neuron: str | int):
        """The model's reading of the tune, with the neuron asked for (auto: the best structure tracker)."""
        from ..insight.neurons import find_neurons
        from ..insight.visualize import build_view, check_choice, held_out_texts
        from ..modes import mode_of

        layer, neuron = check_choice(ckpt, layer, neuron)  # before the slow search, not after it
        findings = []
        if neuron == "auto":
            key = (ckpt.path, (ckpt.path / CONFIG).stat().st_mtime, layer)  # a retrained model is asked anew
            if key not in self._findings:
                reference = held_out_texts(ckpt, REFERENCE_TUNES)
                found = find_neurons(ckpt, mode_of(ckpt.meta).measures(), reference, layer)
                with self._lock:
                    self._findings[key] = found
            findings = self._findings[key]
            if not findings:
                raise RequestError(422, "neuron auto: no structure feature varies in the held-out tunes; "
                                        "give a neuron number")
            layer, neuron = findings[0].layer, findings[0].neuron
        view = build_view(ckpt, abc, layer, neuron, where=f"tune {tune_id}")
        view.findings = findings
        return view


def activation_scale(view) -> float:
    """The activation the colour bar's ends stand for: the largest size the neuron reaches in this tune."""
    return float(np.abs(view.values()).max()) or 1.0


def legend(view, shown: str) -> str:
    """What the colours mean, each with its colour bar and the numbers along it."""
    from ..insight.visualize import TOP, activation_colour, probability_colour

    scale = activation_scale(view)
    unit = _WORDS.get(view.unit, view.unit)
    neuron = _scale_row(
        f"Behind each {unit}: the activation of {view.label()} once the model has read it",
        [activation_colour(-scale, scale), activation_colour(0, scale), activation_colour(scale, scale)],
        [f"{scale * (2 * k / (TICKS - 1) - 1):+.2f}" for k in range(TICKS)], "activation")
    under = (f"The line under each {unit}: the probability of the model's top guess at the next {unit} "
             "(its confidence)" if shown == "compact" else
             f"The {TOP} guesses under each {unit}: each one's probability as the next {unit}")
    confidence = _scale_row(under, [probability_colour(0), probability_colour(1)],
                            [f"{100 * k / (TICKS - 1):.0f} %" for k in range(TICKS)], "probability")
    found = ""
    if view.findings and shown == "compact":  # the full view lists every finding in a table of its own
        best = view.findings[0]
        found = (f'<p class="finding">auto chose neuron {best.neuron} of layer {best.layer}: it tracks '
                 f"{html.escape(best.label)} (Pearson r {best.r:+.2f} over {best.n:,} {unit}s of held-out tunes)"
                 "</p>")
    return f'<div class="inside-legend" aria-label="what the colours mean">{neuron}{confidence}{found}</div>'


def _scale_row(what: str, colours: list[str], ticks: list[str], kind: str) -> str:
    gradient = ", ".join(colours)
    numbers = "".join(f"<span>{tick}</span>" for tick in ticks)
    return (f'<div class="scale" data-kind="{kind}"><span class="what">{html.escape(what)}</span>'
            f'<span class="colour-bar"><span class="bar" style="background:linear-gradient(90deg, {gradient})">'
            f'</span><span class="ticks">{numbers}</span></span></div>')


def bar_groups(symbols: list[str]) -> list[list[list[int]]]:
    """The symbols' positions as lines (one per line of the tune) of groups that are not broken (a bar, its
    closing bar line with it), so that a narrow screen wraps a line between bars only."""
    lines: list[list[list[int]]] = []
    line: list[list[int]] = []
    group: list[int] = []
    for t, symbol in enumerate(symbols):
        group.append(t)
        if symbol.endswith("\n"):
            line.append(group)
            lines.append(line)
            line, group = [], []
        elif _closes_bar(symbols, t, group):
            line.append(group)
            group = []
    if group:
        line.append(group)
    if line:
        lines.append(line)
    return lines


def _closes_bar(symbols: list[str], t: int, group: list[int]) -> bool:
    """Whether symbol t ends a bar: bar-line characters with a | among them, none after them, and music before
    them in the group (a bar line that starts a line, `|:`, opens the bar after it)."""
    def bar_line(s: str) -> bool:
        return bool(s) and set(s) <= _BAR_LINE

    if not bar_line(symbols[t]) or (t + 1 < len(symbols) and bar_line(symbols[t + 1])):
        return False
    run = []
    for k in reversed(group):
        if not bar_line(symbols[k]):
            return "|" in "".join(run)
        run.append(symbols[k])
    return False


def compact_fragment(view, vocab: list[str]) -> str:
    """One row per line of the tune, bars kept whole: each character on its neuron colour, underlined in its
    confidence colour; the five guesses are in data-g, for app.js to show on hover or tap."""
    values = view.values()
    scale = activation_scale(view)
    rows = []
    for line in bar_groups(view.reading.symbols):
        groups = "".join('<span class="bar">' + "".join(_cell(view, t, vocab, values, scale) for t in group)
                         + "</span>" for group in line)
        rows.append(f'<div class="line">{groups}</div>')
    unit = html.escape(_WORDS.get(view.unit, view.unit))
    return (f'<section class="inside-compact" data-unit="{unit}" '
            f'data-label="{html.escape(view.label())}">'
            f'<p class="inside-info" role="status" aria-live="polite">Hover or tap a {unit} '
            f"for the model's five likeliest next {unit}s there.</p>"
            f'<div class="reading">{"".join(rows)}</div></section>')


def _cell(view, t: int, vocab: list[str], values: np.ndarray, scale: float) -> str:
    from ..insight.visualize import TOP, activation_colour, probability_colour, shown

    probs = view.reading.probs[t]
    order = np.argsort(-probs)[:TOP]
    shares = [round(float(probs[i]), 4) for i in order]  # as the page shows them, and coloured as shown
    guesses = [[vocab[i], p, probability_colour(p)] for i, p in zip(order, shares)]
    act = float(values[t])
    symbol = view.reading.symbols[t]
    ending = " end" if symbol.endswith("\n") else ""
    return (f'<span class="ch{ending}" data-t="{t}" data-a="{act:+.4f}" '
            f'data-g="{html.escape(json.dumps(guesses, ensure_ascii=False))}" '
            f'style="background:{activation_colour(act, scale)};'
            f'border-bottom-color:{probability_colour(guesses[0][1])}">{shown(symbol)}</span>')
