"""Held-out bits per character, collection by collection, and on tunes with chord symbols.

    python benchmarks/heldout_by_collection.py [--model models/default] [--other 200]

The model's own held-out tunes are scored per bundled collection they come
from (for `folk`: O'Neill's, Ryan's, Aird's, the rest), then split into
tunes with chord symbols and without (and the former again with their chord
symbols removed, so the cost of the chord symbols themselves shows). Other
bundled collections the model did not train on (the Essen regions, the
Nottingham-style `jigs` when not in its corpus) are scored on their first
`--other` tunes: how far the model carries. A character the model's
vocabulary lacks leaves its tune out (counted).
"""

from __future__ import annotations

import argparse
import re

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.bundled import BUNDLED, load_bundled
from tunesmith.corpus.load import load_corpus
from tunesmith.insight.evaluate import bits

CHORD = re.compile(r'"[A-G][^"]*"')


def encodable(ckpt, text: str) -> bool:
    try:
        ckpt.codec.encode(text + "\n")
        return True
    except Exception:  # a symbol outside the vocabulary
        return False


def score(ckpt, texts: list[str]) -> tuple[float | None, int, int]:
    """(bits per character, tunes scored, tunes left out for characters outside the vocabulary)."""
    kept = [t for t in texts if encodable(ckpt, t)]
    if not kept:
        return None, 0, len(texts)
    return bits(ckpt, kept)["bits_per_char"], len(kept), len(texts) - len(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--other", type=int, default=200)
    args = parser.parse_args()
    ckpt = load_checkpoint(args.model)
    sources = ckpt.meta["corpus"]["sources"]
    corpus = load_corpus(sources, ckpt.meta["corpus"].get("limit"), "abc")
    held = {t.text_without_number: t.text for t in corpus.held_out}
    single = {spec.folders: name for name, spec in BUNDLED.items()
              if len(spec.folders) == 1 and spec.keep is None and spec.reader is None}
    members = [single[(f,)] for s in sources if s in BUNDLED for f in BUNDLED[s].folders if (f,) in single]
    trained = {f for s in sources if s in BUNDLED for f in BUNDLED[s].folders}
    rows = []
    for name in members:
        if name not in BUNDLED:
            continue
        own = [held[t.text_without_number] for t in load_bundled(name) if t.text_without_number in held]
        rows.append((f"held-out, from {name}", *score(ckpt, own)))
    with_chords = [t for t in held.values() if CHORD.search(t.split("\nK:", 1)[-1])]
    without = [t for t in held.values() if t not in with_chords]
    rows.append(("held-out, all", *score(ckpt, list(held.values()))))
    rows.append(("held-out with chord symbols", *score(ckpt, with_chords)))
    rows.append(("the same, chord symbols removed", *score(ckpt, [CHORD.sub("", t) for t in with_chords])))
    rows.append(("held-out without chord symbols", *score(ckpt, without)))
    for name, spec in BUNDLED.items():
        if name in sources or name in members or (spec.reader is None and set(spec.folders) <= trained):
            continue  # trained on (or a part of what it trained on)
        tunes = [t.text for t in load_bundled(name)[: args.other]]
        rows.append((f"other collection: {name} (first {len(tunes)})", *score(ckpt, tunes)))
    print(f"model {args.model} (trained on {'+'.join(sources)})")
    print("| tunes | bits per character | scored | left out (characters outside the vocabulary) |")
    print("|---|---:|---:|---:|")
    for label, value, n, out in rows:
        print(f"| {label} | {'—' if value is None else f'{value:.3f}'} | {n} | {out} |")


if __name__ == "__main__":
    main()
