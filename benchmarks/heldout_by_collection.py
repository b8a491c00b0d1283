"""Held-out bits per character, collection by collection, and what chord symbols cost.

    python benchmarks/heldout_by_collection.py [--model models/default ...] [--other 200] [--chorded PATH ...]

The model's own held-out tunes are scored per bundled collection they come
from (for `folk`: O'Neill's, Ryan's, Aird's, the rest), then split into
tunes with chord symbols and without (and the former again with their chord
symbols removed). A chord symbol is a quoted text that names a chord
(`music/chords.parse_chord`: "G", "Am", "D7/F#"); annotations such as
"D.C." or "^Segno" are not. Bits per chord-symbol character count the
quotes too (a `"` that opens one is the model's guess that a chord comes).

Three sets measure the chords themselves:

- the held-out tunes with chord symbols of their own (none in `folk`: its
  collections print none);
- the held-out tunes harmonised by tunesmith (`music/abc/harmonise.py`, the
  chords of `train --chords add`), music the model never saw with chords in
  the harmoniser's style;
- tunes with chords in most bars from elsewhere, not written by our
  harmoniser (`--chorded`; by default music21's `nottingham-dataset` and
  abc2midi's example tunes, where installed), and the same without them.

Other bundled collections the model did not train on (the Essen regions,
`jigs` when not in its corpus) are scored on their first `--other` tunes.
With several `--model`s, each row scores the tunes every model can read
(a character outside one's vocabulary leaves the tune out, counted).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.bundled import BUNDLED, load_bundled, music21_corpus_dir
from tunesmith.corpus.files import tunes_from_path
from tunesmith.corpus.load import load_corpus
from tunesmith.insight.evaluate import char_bits
from tunesmith.music.abc.harmonise import (NotHarmonisable, chord_symbol_spans, harmonise, has_chord_symbols,
                                           without_chord_symbols)

ABC2MIDI_EXAMPLES = Path("/usr/share/doc/abcmidi/examples")


def chord_mask(text: str) -> np.ndarray:
    """True at every character of a chord symbol (quotes included) in a tune's text and its blank line."""
    mask = np.zeros(len(text) + 1, dtype=bool)
    for start, end in chord_symbol_spans(text):
        mask[start:end] = True
    return mask


def readable(ckpts: list, texts: list[str]) -> tuple[list[str], int]:
    """The texts every model's vocabulary covers, and how many were left out."""
    kept = [t for t in texts if not any(c.codec.unknown(t + "\n") for c in ckpts)]
    return kept, len(texts) - len(kept)


def score(ckpt, texts: list[str]) -> tuple[float | None, float | None, float | None]:
    """(bits per character, bits per chord-symbol character, bits per other character) over the texts."""
    if not texts:
        return None, None, None
    total = chords = other = 0.0
    n_all = n_chords = n_other = 0
    for text, bits in zip(texts, char_bits(ckpt, texts)):
        mask, seen = chord_mask(text), ~np.isnan(bits)
        total += bits[seen].sum()
        chords += bits[seen & mask].sum()
        other += bits[seen & ~mask].sum()
        n_all, n_chords, n_other = n_all + seen.sum(), n_chords + (seen & mask).sum(), n_other + (seen & ~mask).sum()
    return (total / n_all, chords / n_chords if n_chords else None, other / n_other if n_other else None)


def harmonised(texts: list[str]) -> list[str]:
    """The tunes with tunesmith's chord symbols, those the harmoniser takes."""
    out = []
    for text in texts:
        try:
            out.append(harmonise(text))
        except NotHarmonisable:
            pass
    return out


def chorded_tunes(paths: list[Path]) -> list[str]:
    """Tunes with chord symbols of their own from files or folders (those that exist)."""
    texts = []
    for path in paths:
        if path.exists():
            texts += [t.text for t in tunes_from_path(path) if has_chord_symbols(t.text)]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", help="checkpoint or run folder (repeat to compare)")
    parser.add_argument("--other", type=int, default=200)
    parser.add_argument("--chorded", action="append", type=Path,
                        help="ABC file or folder of tunes with chord symbols (default: music21's "
                             "nottingham-dataset and abc2midi's examples)")
    args = parser.parse_args()
    models = args.model or [str(DEFAULT_MODEL)]
    ckpts = [load_checkpoint(Path(m)) for m in models]
    sources = ckpts[0].meta["corpus"]["sources"]
    if any(c.meta["corpus"]["held_out_hash"] != ckpts[0].meta["corpus"]["held_out_hash"] for c in ckpts):
        raise SystemExit("the models were not trained on the same held-out split; compare them one by one")
    corpus = load_corpus(sources, ckpts[0].meta["corpus"].get("limit"), "abc")
    held = {t.text_without_number: t.text for t in corpus.held_out}
    single = {spec.folders: name for name, spec in BUNDLED.items()
              if len(spec.folders) == 1 and spec.keep is None and spec.reader is None}
    members = [single[(f,)] for s in sources if s in BUNDLED for f in BUNDLED[s].folders if (f,) in single]
    trained = {f for s in sources if s in BUNDLED for f in BUNDLED[s].folders}
    sets: list[tuple[str, list[str]]] = []
    for name in members:
        sets.append((f"held-out, from {name}", [held[t.text_without_number] for t in load_bundled(name)
                                                 if t.text_without_number in held]))
    with_chords = [t for t in held.values() if has_chord_symbols(t)]
    sets += [("held-out, all", list(held.values())),
             ("held-out with chord symbols of their own", with_chords),
             ("the same, chord symbols removed", [without_chord_symbols(t) for t in with_chords]),
             ("held-out without chord symbols", [t for t in held.values() if t not in with_chords]),
             ("held-out, harmonised by tunesmith", harmonised([t for t in held.values() if t not in with_chords]))]
    chorded = chorded_tunes(args.chorded or [music21_corpus_dir() / "nottingham-dataset", ABC2MIDI_EXAMPLES])
    sets += [("tunes with chords from elsewhere (--chorded)", chorded),
             ("the same, chord symbols removed", [without_chord_symbols(t) for t in chorded])]
    for name, spec in BUNDLED.items():
        if name in sources or name in members or (spec.reader is None and set(spec.folders) <= trained):
            continue  # trained on (or a part of what it trained on)
        tunes = [t.text for t in load_bundled(name)[: args.other]]
        sets.append((f"other collection: {name} (first {len(tunes)})", tunes))
    for number, (model, ckpt) in enumerate(zip(models, ckpts), 1):
        print(f"model {number}: {model} (trained on {'+'.join(sources)}; "
              f"--chords {ckpt.meta['train'].get('chords', 'none')}, --transpose {ckpt.meta['train'].get('transpose', 'none')})")
    heads = " | ".join(f"model {i + 1}: bits/char, chord chars, other chars" for i in range(len(models)))
    print(f"| tunes | {heads} | tunes scored | left out (vocabulary) |")
    print("|---|" + "---:|" * len(models) + "---:|---:|")

    def show(value):
        return "—" if value is None else f"{value:.3f}"

    for label, texts in sets:
        kept, out = readable(ckpts, texts)
        cells = " | ".join(", ".join(show(v) for v in score(c, kept)) for c in ckpts)
        print(f"| {label} | {cells} | {len(kept)} | {out} |")


if __name__ == "__main__":
    main()
