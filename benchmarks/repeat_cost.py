"""What repetition costs the model: bits per character inside bars that repeat an earlier bar, against first occurrences.

A quarter of the bars of real folk tunes repeat an earlier bar of the same
tune. A model that uses what it has read should find a repeated bar's
characters much cheaper than those of a bar heard for the first time. This
reads a model's own held-out tunes as one stream (as held-out bits are
measured) and splits every character's bits by where it stands:

- *first*: inside a bar whose music (normalised as `evaluate` compares bars:
  spaces, decorations, chord symbols and grace notes left out) is new in the tune;
- *repeat*: inside a bar equal to an earlier bar of the same tune;
- *other*: header lines, bar lines, line breaks.

    python benchmarks/repeat_cost.py [--model models/default] [--model runs/x/best ...]

Character codecs only (a token model's symbols do not sit on characters).
"""

from __future__ import annotations

import argparse
import math

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.load import load_corpus
from tunesmith.insight.evaluate import symbol_bits
from tunesmith.models.copy import predictions
from tunesmith.modes.abc.measures import bar_spans
from tunesmith.music.abc.lexer import tokens


def char_offsets(text: str) -> list[int]:
    """Offset of the start of each 1-based line of `text` (index 0 unused)."""
    starts, at = [0, 0], 0
    for line in text.split("\n"):
        at += len(line) + 1
        starts.append(at)
    return starts


def classes(text: str) -> list[str]:
    """'first', 'repeat' or 'other' for every character of `text`."""
    toks = tokens(text)
    lines = char_offsets(text)
    where = [lines[t.line] + t.col - 1 for t in toks] + [len(text)]
    out = ["other"] * len(text)
    seen: set[str] = set()
    for span in bar_spans(toks):
        label = "repeat" if span.text in seen else "first"
        seen.add(span.text)
        for i in range(where[span.first], where[span.end]):
            if not text[i].isspace():
                out[i] = label
    return out


def with_copy(ckpt, text: str, bits: list[float]) -> list[float]:
    """The bits of one piece's symbols under the network mixed with its copy model (models/copy.py)."""
    copy = ckpt.copy
    piece = ckpt.codec.encode(text + "\n")
    out = []
    for b, symbol, (predicted, length) in zip(bits, piece, predictions(piece, copy.min_match)):
        w = copy.weight(length)
        out.append(-math.log2((1 - w) * 2 ** -b + w * (predicted == symbol)) if b == b else b)
    return out


def split_bits(ckpt, texts: list[str], mixed: bool = False) -> dict[str, tuple[float, int]]:
    """{class: (bits per character, characters)} over `texts` (`mixed`: with the model's copy model)."""
    totals = {"first": [0.0, 0], "repeat": [0.0, 0], "other": [0.0, 0]}
    for text, bits in zip(texts, symbol_bits(ckpt, texts)):
        if mixed:
            bits = with_copy(ckpt, text, bits)
        for label, b in zip(classes(text) + ["other"], bits):
            if not math.isnan(b):
                totals[label][0] += b
                totals[label][1] += 1
    return {k: (s / n if n else float("nan"), n) for k, (s, n) in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", help="checkpoint folder (repeatable; default: the shipped model)")
    args = parser.parse_args()
    print("| model | first occurrences | repeated bars | other | repeat / first | chars (first / repeat) |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in args.model or [str(DEFAULT_MODEL)]:
        ckpt = load_checkpoint(path)
        if ckpt.codec.unit != "char":
            print(f"| {path} | (codec {ckpt.codec.name}: not per character) | | | | |")
            continue
        corpus = load_corpus(ckpt.meta["corpus"]["sources"], ckpt.meta["corpus"].get("limit"), "abc")
        texts = [t.text for t in corpus.held_out]
        for mixed in (False, True) if ckpt.copy is not None else (False,):
            figures = split_bits(ckpt, texts, mixed)
            (first, n1), (rep, n2), (other, _) = figures["first"], figures["repeat"], figures["other"]
            label = f"{path}, {'network + copy model' if mixed else 'network alone'}"
            print(f"| {label} | {first:.3f} | {rep:.3f} | {other:.3f} | {rep / first:.2f} | {n1:,} / {n2:,} |")


if __name__ == "__main__":
    main()
