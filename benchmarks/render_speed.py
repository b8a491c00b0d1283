"""Rendering speed, measured in this one run.

    python benchmarks/render_speed.py

1. A 32-bar tune to WAV (the first reel of the folk corpus that plays 32
   bars): the time, and its ratio to the 0.5 s budget (below 1 is within it).
2. The same audio when every note is synthesised on its own, the obvious way,
   against ours, which synthesises each distinct note once.
3. For reference, the same tune to MIDI and to SVG (warm verovio worker).
"""

from __future__ import annotations

import time

import numpy as np

from tunesmith.corpus.bundled import load_bundled
from tunesmith.music.abc.to_events import tune_parts
from tunesmith.render import render_midi, render_svg, render_wav
from tunesmith.render.audio import SAMPLE_RATE, _finish, _note, synthesize

BUDGET = 0.5
REPEATS = 5


def best_of(fn, repeats: int = REPEATS) -> tuple[float, float]:
    """(first run, best run) in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times[0], min(times)


def note_by_note(voices, length: int) -> np.ndarray:
    """The reference: synthesise every note where it is played, no reuse."""
    out = np.zeros(length + SAMPLE_RATE)
    for start, held, pitch, velocity, timbre, gain in voices:
        sound = _note(timbre, pitch, held)
        out[start:start + len(sound)] += gain * (velocity / 127) ** 2 * sound
    return _finish(out[:length])


def main() -> None:
    """Print the timings and ratios."""
    tune = next(t for t in load_bundled("folk") if t.rhythm == "reel" and tune_parts(t.text).end == 32)
    parts = tune_parts(tune.text)
    print(f"tune: X:{tune.number} {tune.title} ({tune.meter}, 32 bars, {len(parts.melody)} notes)")
    for chords in (False, True):
        first, best = best_of(lambda: render_wav(tune.text, chords=chords))
        seconds = len(render_wav(tune.text, chords=chords)) / 2 / SAMPLE_RATE
        label = "with chords" if chords else "melody     "
        print(f"WAV {label}: {best:.3f} s (first run {first:.3f} s) for {seconds:.1f} s of audio; "
              f"{best / BUDGET:.2f} x the {BUDGET} s budget; {seconds / best:.0f} x real time")

    # Ours against note-by-note on the same voices (the synthesiser alone, no ABC reading).
    spw = 4 * 60 / 190 * SAMPLE_RATE
    voices = [(round(e.start * spw), round(e.duration * spw), e.pitch, e.velocity, "pluck", 1.0) for e in parts.melody]
    length = round(parts.end * spw)
    assert np.allclose(synthesize(voices, length), note_by_note(voices, length))
    _, ours = best_of(lambda: synthesize(voices, length))
    _, reference = best_of(lambda: note_by_note(voices, length), 3)
    distinct = len({(v[1], v[2]) for v in voices})
    print(f"synthesiser: {ours:.3f} s vs {reference:.3f} s note by note ({len(voices)} notes, {distinct} distinct): "
          f"{reference / ours:.1f} x faster")

    _, midi = best_of(lambda: render_midi(tune.text))
    render_svg(tune.text)  # starts the worker
    _, svg = best_of(lambda: render_svg(tune.text))
    print(f"MIDI: {midi * 1000:.1f} ms; SVG (warm verovio worker): {svg * 1000:.1f} ms")


if __name__ == "__main__":
    main()
