"""The tune page's "Look inside": the model's guesses at each character and one neuron, from `insight.visualize`.

Finding the neuron that tracks structure ("auto") correlates every neuron
with bar position, header/body, endings... over held-out tunes; the web app
does it over a few tunes, once per model, and keeps the answer until the
model's checkpoint changes.
"""

from __future__ import annotations

import threading

from ..checkpoint import CONFIG
from ..errors import TunesmithError
from .service import Composer, RequestError, field_names

# Held-out tunes the neuron finder reads for the web: the same neurons as with 100 tunes on the
# shipped model (bar position 2/94, endings 3/38, header/body 3/153) in a tenth of the time (~2 s).
REFERENCE_TUNES = 20


class Inside:
    """Builds the "Look inside" view of stored tunes, with the neuron finder's answer kept per model."""

    def __init__(self, composer: Composer):
        self.composer = composer
        self._findings: dict[tuple, list] = {}
        self._lock = threading.Lock()

    def fragment(self, tune_id: int, model: str | None, layer: int | None, neuron: str | int) -> tuple[str, str]:
        """(HTML fragment, model name) for a stored tune read by `model` (default: the one that wrote it)."""
        c = self.composer
        tune = c.tune(tune_id)
        names = [e.name for e in c.catalog.entries()]
        entry = c.catalog.find(model or (tune.model if tune.model in names else None))
        with c.turn():
            try:
                return self._view(c.catalog.load(entry), entry.name, tune_id, tune.abc, layer, neuron)
            except RequestError:
                raise
            except TunesmithError as exc:  # a bad layer or neuron, a character the model never saw
                raise RequestError(422, field_names(str(exc))) from None

    def _view(self, ckpt, name: str, tune_id: int, abc: str, layer: int | None, neuron: str | int) -> tuple[str, str]:
        from ..insight.neurons import find_neurons
        from ..insight.visualize import build_view, check_choice, held_out_texts, render_fragment
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
        return render_fragment(view, ckpt.codec.vocab), name
