"""`tunesmith visualize`: a piece symbol by symbol, with the model's guesses and one neuron.

Each input symbol's background is the chosen neuron's activation once it
has been read (blue low, green high); under it are the model's five likeliest
next symbols, shaded by probability (white unlikely, deep red likely).
For a transformer, `--head L.H` shows an attention head in place of a
neuron: each symbol's background is the attention it *receives* from that
head, summed over every later symbol's query (a query's weights sum to 1, so
the column total is "how many queries' worth" of attention lands on it;
white none, green the most in the piece), and hovering also says where the
symbol's own query looks most.
Hovering shows the exact numbers. The page is self-contained (inline CSS and
JS, nothing fetched); `render_fragment` gives the same view as an HTML
fragment for the web app to place next to a tune.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checkpoint import Checkpoint
from ..errors import TunesmithError
from ..modes import mode_name
from .neurons import Finding, Reading, find_neurons, piece_ids, read_attention, read_piece

TOP = 5
AUTO_PIECES = 100  # held-out pieces the neuron finder reads: enough for stable correlations, ~3 s
_WHITE, _RED = np.array([255, 255, 255]), np.array([165, 0, 0])
_NEUTRAL, _BLUE, _GREEN = np.array([244, 244, 244]), np.array([40, 90, 210]), np.array([20, 160, 60])
_SHOWN = {"\n": "\u21b5", " ": "\u2423", "\t": "\u21e5"}

_CSS = """
.tsviz{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:14px;line-height:1}
.tsviz .line{display:flex;flex-wrap:wrap;margin:0 0 10px 0}
.tsviz .col{display:inline-flex;flex-direction:column;margin:0 1px 0 0;min-width:1.1em;text-align:center}
.tsviz .in{padding:3px 2px;font-weight:bold;border-bottom:1px solid #999;white-space:pre}
.tsviz .g{padding:1px 2px;font-size:11px;white-space:pre}
.tsviz .col:hover{outline:2px solid #222}
.tsviz .legend{display:flex;gap:24px;align-items:center;margin:8px 0 14px 0;font-family:sans-serif;font-size:13px}
.tsviz .bar{display:inline-block;width:140px;height:12px;vertical-align:middle;border:1px solid #aaa}
.tsviz .info{position:sticky;top:0;background:#fffbe8;border:1px solid #d8c98a;padding:6px;min-height:1.2em;
  font-family:sans-serif;font-size:13px;margin-bottom:10px;white-space:pre-wrap}
.tsviz table{border-collapse:collapse;font-family:sans-serif;font-size:13px;margin:6px 0 12px 0}
.tsviz td,.tsviz th{border:1px solid #ccc;padding:3px 8px;text-align:left}
"""
# Hovering a column copies its details into the info line (title tooltips are slow to appear).
_JS = """
document.querySelectorAll('.tsviz').forEach(function(v){var info=v.querySelector('.info');
v.addEventListener('mouseover',function(e){var c=e.target.closest('.col');if(c&&info){info.textContent=c.title;}});});
"""


@dataclass
class View:
    """Everything one visualisation shows."""

    reading: Reading
    layer: int              # 1-based
    neuron: int             # 0-based
    model: str
    unit: str
    findings: list[Finding]
    head: int | None = None                # 0-based head of `layer`: the view shows attention, not a neuron
    attention: np.ndarray | None = None    # (T, T) that head's weights, queries x keys

    def values(self) -> np.ndarray:
        """(T,) what colours each symbol: the neuron's activation, or the attention the symbol receives."""
        if self.attention is not None:
            return self.attention.sum(0)
        return self.reading.hidden[self.layer - 1, :, self.neuron]

    def label(self) -> str:
        """What the colour is, for legends and hovers."""
        if self.head is not None:
            return f"attention received from head {self.head} of layer {self.layer}"
        return f"neuron {self.neuron} of layer {self.layer}"


def _rgb(colour: np.ndarray) -> str:
    r, g, b = (int(round(c)) for c in colour)
    return f"rgb({r},{g},{b})"


def probability_colour(p: float) -> str:
    """White for 0, deep red for 1."""
    return _rgb(_WHITE + (_RED - _WHITE) * min(max(p, 0.0), 1.0))


def activation_colour(a: float, scale: float) -> str:
    """Blue for -scale, near white for 0, green for +scale."""
    t = max(-1.0, min(1.0, a / scale)) if scale > 0 else 0.0
    end = _GREEN if t >= 0 else _BLUE
    return _rgb(_NEUTRAL + (end - _NEUTRAL) * abs(t))


def shown(symbol: str) -> str:
    """A symbol as drawn: newline, space and tab made visible, HTML escaped."""
    return html.escape("".join(_SHOWN.get(ch, ch) for ch in symbol))


def _looks_at(view: View, t: int) -> str:
    """Where symbol t's own query puts most of the head's attention."""
    row = view.attention[t, :t + 1]
    k = int(row.argmax())
    symbol = view.reading.symbols[k]
    return f"\nits query looks most at {_SHOWN.get(symbol, symbol)!r} {t - k} back ({row[k]:.2%})"


def _column(view: View, t: int, vocab: list[str], scale: float, values: np.ndarray) -> str:
    r = view.reading
    symbol, act = r.symbols[t], float(values[t])
    order = np.argsort(-r.probs[t])[:TOP]
    guesses = [(vocab[i], float(r.probs[t, i])) for i in order]
    looks = _looks_at(view, t) if view.attention is not None else ""
    title = (f"{_SHOWN.get(symbol, symbol)!r}: {view.label()} = {act:+.4f}{looks}\n"
             f"next {view.unit}: " + ", ".join(f"{_SHOWN.get(s, s)!r} {p:.2%}" for s, p in guesses))
    cells = [f'<span class="in" data-act="{act:.6f}" style="background:{activation_colour(act, scale)}">'
             f"{shown(symbol)}</span>"]
    for s, p in guesses:
        ink = "#fff" if p > 0.5 else "#000"
        cells.append(f'<span class="g" data-p="{p:.6f}" title="{html.escape(repr(s))}: {p:.4%}" '
                     f'style="background:{probability_colour(p)};color:{ink}">{shown(s)}</span>')
    return f'<span class="col" title="{html.escape(title)}">' + "".join(cells) + "</span>"


def _findings_table(view: View) -> str:
    if not view.findings:
        return ""
    rows = "".join(
        f"<tr><td>{f.layer}</td><td>{f.neuron}</td><td>{f.r:+.2f}</td><td>{html.escape(f.label)}</td>"
        f"<td>{f.n:,}</td></tr>" for f in view.findings
    )
    return ("<p>Neurons that track structure (Pearson r over held-out pieces; the strongest neuron per feature):</p>"
            "<table><tr><th>layer</th><th>neuron</th><th>r</th><th>tracks</th><th>symbols</th></tr>"
            f"{rows}</table>")


def render_fragment(view: View, vocab: list[str], legend: bool = True) -> str:
    """The visualisation as an HTML fragment with its own scoped style (for pages and the web app; the web's
    "Look inside" page draws a legend of its own, with ticks, and asks for none)."""
    acts = view.values()
    scale = float(np.abs(acts).max()) or 1.0
    lines, current = [], []
    for t, symbol in enumerate(view.reading.symbols):
        current.append(_column(view, t, vocab, scale, acts))
        if symbol.endswith("\n"):
            lines.append(current)
            current = []
    if current:
        lines.append(current)
    body = "".join(f'<div class="line">{"".join(cols)}</div>' for cols in lines)
    legend_html = (
        f'<div class="legend"><span>{view.label()}: '
        f'<span class="bar" style="background:linear-gradient(90deg,{activation_colour(-1, 1)},'
        f'{activation_colour(0, 1)},{activation_colour(1, 1)})"></span> {-scale:+.2f} \u2026 {scale:+.2f}</span>'
        f'<span>next-{view.unit} probability: <span class="bar" style="background:linear-gradient(90deg,'
        f'{probability_colour(0)},{probability_colour(1)})"></span> 0 \u2026 1</span></div>'
    )
    return (f'<div class="tsviz"><style>{_CSS}</style>{legend_html if legend else ""}{_findings_table(view)}'
            f'<div class="info">hover a {view.unit} for its numbers</div>{body}<script>{_JS}</script></div>')


def _what(view: View) -> str:
    if view.head is not None:
        return (f"attention it receives from head {view.head} of layer {view.layer}, summed over the queries "
                f"of every later {view.unit} (hover: where its own query looks most)")
    return f"activation of neuron {view.neuron} of layer {view.layer} once the model has read it"


def render_page(view: View, vocab: list[str]) -> str:
    """A whole self-contained HTML page."""
    title = f"tunesmith visualize: {view.model}"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            '<style>body{margin:20px;font-family:sans-serif}</style></head><body>'
            f"<h1>{html.escape(title)}</h1><p>Each {view.unit} of the piece in order; its background is the "
            f"{_what(view)}; under it, the "
            f"model's {TOP} likeliest next {view.unit}s. Hover for exact values.</p>"
            f"{render_fragment(view, vocab)}</body></html>\n")


def held_out_texts(ckpt: Checkpoint, limit: int = AUTO_PIECES) -> list[str]:
    """The first `limit` held-out pieces of the checkpoint's own corpus split."""
    from ..corpus.load import recorded_corpus

    corpus_meta = ckpt.meta.get("corpus") or {}
    if not corpus_meta.get("sources"):
        raise TunesmithError(f"{ckpt.path}: the checkpoint does not name its corpus; pass --heldout FILE")
    corpus = recorded_corpus(corpus_meta, mode_name(ckpt.meta), ckpt.codec)
    return [p.text for p in corpus.held_out[:limit]]


def check_choice(ckpt: Checkpoint, layer: int | None, neuron: int | str) -> tuple[int | None, int | str]:
    """(layer, neuron) checked against the model: neuron a number or "auto"; errors name the option."""
    config = ckpt.model.config
    if layer is not None and not 1 <= layer <= config.layers:
        raise TunesmithError(f"--layer: this model has layers 1 to {config.layers} (got {layer})")
    if neuron == "auto":
        return layer, neuron
    try:
        number = int(neuron)
    except ValueError:
        raise TunesmithError(f"--neuron: a number from 0 to {config.hidden - 1}, or auto (got {neuron!r})") from None
    if not 0 <= number < config.hidden:
        raise TunesmithError(f"--neuron: this model's layers have neurons 0 to {config.hidden - 1} (got {number})")
    return layer, number


def check_head(ckpt: Checkpoint, head: str) -> tuple[int, int]:
    """`--head L.H` checked against the model: (1-based layer, 0-based head) of a transformer."""
    config = ckpt.model.config
    if config.cell != "transformer":
        raise TunesmithError(f"--head: only a transformer has attention heads (this model is an {config.cell}); "
                             "use --neuron")
    try:
        layer, number = (int(part) for part in head.split("."))
    except ValueError:
        raise TunesmithError(f"--head: LAYER.HEAD, e.g. 1.0 (layers from 1, heads from 0; got {head!r})") from None
    if not 1 <= layer <= config.layers:
        raise TunesmithError(f"--head: this model has layers 1 to {config.layers} (got {layer})")
    if not 0 <= number < config.heads:
        raise TunesmithError(f"--head: this model's layers have heads 0 to {config.heads - 1} (got {number})")
    return layer, number


def build_head_view(ckpt: Checkpoint, text: str, head: str, where: str = "text") -> View:
    """Read `text` with a transformer and show the attention of head `L.H` in place of a neuron."""
    layer, number = check_head(ckpt, head)
    ids = piece_ids(ckpt, text, where)
    reading = read_piece(ckpt, ids)
    return View(reading, layer, 0, str(ckpt.path), ckpt.codec.unit, [], number,
                read_attention(ckpt, ids, layer, number))


def build_view(ckpt: Checkpoint, text: str, layer: int | None, neuron: int | str,
               reference: list[str] | None = None, where: str = "text") -> View:
    """Read `text` with the model and pick the neuron: a number, or "auto" (strongest structure tracker).

    `layer` is 1-based (default: the last layer); `reference` are the pieces
    the auto search correlates over (default: the checkpoint's held-out split).
    """
    from ..modes import mode_of

    layer, neuron = check_choice(ckpt, layer, neuron)
    mode = mode_of(ckpt.meta)
    findings: list[Finding] = []
    if neuron == "auto":
        findings = find_neurons(ckpt, mode.measures(), reference or held_out_texts(ckpt), layer)
        if not findings:
            raise TunesmithError("--neuron auto: no structure feature varies in the held-out pieces; give --neuron N")
        layer, neuron = findings[0].layer, findings[0].neuron
    layer = ckpt.model.config.layers if layer is None else layer
    reading = read_piece(ckpt, piece_ids(ckpt, text, where))
    return View(reading, layer, neuron, str(ckpt.path), ckpt.codec.unit, findings)


def visualize_fragment(ckpt: Checkpoint, text: str, layer: int | None = None, neuron: int | str = "auto",
                       reference: list[str] | None = None) -> str:
    """The view of one piece as an HTML fragment, for a page that shows it next to the tune (the web app)."""
    return render_fragment(build_view(ckpt, text, layer, neuron, reference), ckpt.codec.vocab)


def piece_from_file(ckpt: Checkpoint, path: Path, index: int = 1) -> str:
    """The `index`-th (1-based) piece of a file, in the canonical form the model learned."""
    from ..modes import mode_of

    pieces = mode_of(ckpt.meta).load_source(str(path))
    if not 1 <= index <= len(pieces):
        raise TunesmithError(f"--tune {index}: {path} has {len(pieces)} piece(s)")
    return pieces[index - 1].text
