"""Tabla forms (issue 15, item 6): generated compositions in their form, beside the corpus, and a search of defaults.

    python benchmarks/tabla_forms.py [-n 40] [--seed 500] [--search]

For each of the 8 talas, -n compositions with the defaults (the model chooses
the form; each form its own length), on seeds the tests do not use (the tests
use 11 and 12). Per form: how many, the share in their form
(modes/tabla/forms.py), landing on sam, the share of silent matras, the share
opening with the theka (the first half cycle is the theka's), the median
cycles; the same for the corpus. --search also generates with other sampling
settings and --cycles 4, and compares each with the corpus: overlap of the
form shares (per tala, the model choosing), of cycles per composition, of
bols, and the share in form.
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter

import torch

from tunesmith.checkpoint import DEFAULT_MODEL, load_checkpoint
from tunesmith.corpus.tabla import load_bundled
from tunesmith.insight.metrics import overlap
from tunesmith.modes import GenerateRequest
from tunesmith.modes.tabla import MODE, TablaOptions
from tunesmith.modes.tabla.forms import read_form
from tunesmith.modes.tabla.writer import generate_compositions
from tunesmith.music.tabla import TALAS, theka
from tunesmith.options import Sampling

FORMS = ("theka", "kaida", "rela", "tihai", "tukda")


def opens_with_theka(comp) -> bool:
    """Whether the first half cycle is the tala's theka."""
    n = max(1, TALAS[comp.tala].matras // 2)
    return list(comp.cycles[0][:n]) == theka(comp.tala)[:n]


def row(name: str, comps: list) -> str:
    """One table row: form, n, in form, on sam, silent, opens with theka, median cycles."""
    if not comps:
        return f"| {name} | 0 | | | | | |"
    matras = [m for c in comps for m in c.matras()]
    return (f"| {name} | {len(comps)} | {sum(bool(read_form(c).in_form) for c in comps) / len(comps):.0%} "
            f"| {sum(c.landing is not None and c.landing != ('-',) for c in comps) / len(comps):.0%} "
            f"| {sum(m == ('-',) for m in matras) / len(matras):.1%} "
            f"| {sum(map(opens_with_theka, comps)) / len(comps):.0%} "
            f"| {statistics.median(len(c.cycles) for c in comps):g} |")


def generate(ckpt, n: int, seed: int, sampling: Sampling, cycles: int | None) -> list:
    out = []
    for k, tala in enumerate(TALAS):
        out += generate_compositions(ckpt, GenerateRequest(n=n, seed=seed + 100 * k, sampling=sampling,
                                                           options=TablaOptions(tala, cycles=cycles)))
    return out


def shares(values) -> dict:
    counts = Counter(values)
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


def fidelity(comps: list, corpus: list) -> str:
    """Overlaps with the corpus: forms, cycles, bols; and the share in form."""
    forms = overlap(shares(c.form for c in comps), shares(c.form for c in corpus))
    cycles = overlap(shares((c.form, len(c.cycles)) for c in comps), shares((c.form, len(c.cycles)) for c in corpus))
    bols = overlap(shares(b for c in comps for m in c.matras() for b in m),
                   shares(b for c in corpus for m in c.matras() for b in m))
    in_form = sum(bool(read_form(c).in_form) for c in comps) / len(comps)
    return f"{forms:.2f} | {cycles:.2f} | {bols:.2f} | {in_form:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="compositions per tala")
    parser.add_argument("--seed", type=int, default=500)
    parser.add_argument("--search", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ckpt = load_checkpoint(DEFAULT_MODEL.parent / "tabla")
    corpus = load_bundled("tabla")
    comps = generate(ckpt, args.n, args.seed, MODE.sampling, None)   # the mode's defaults
    print(f"{len(comps)} generated ({args.n} per tala, seeds {args.seed}+100k), {len(corpus)} in the corpus")
    print("| form | n | in its form | lands on sam | silent matras | opens with the theka | median cycles |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for form in FORMS:
        print(row(form, [c for c in comps if c.form == form]))
        print(row(f"{form} (corpus)", [c for c in corpus if c.form == form]))
    if args.search:
        print("\n| temperature | top-p | --cycles | form overlap | form x cycles overlap | bol overlap | in form |")
        print("|---:|---:|---|---:|---:|---:|---:|")
        for temperature in (0.8, 1.0):
            for top_p in (0.8, 0.9, 1.0):
                for cycles in (None, 4):
                    found = generate(ckpt, args.n, args.seed, Sampling(temperature=temperature, top_p=top_p), cycles)
                    print(f"| {temperature:g} | {top_p:g} | {cycles or 'own'} | {fidelity(found, corpus)} |",
                          flush=True)


if __name__ == "__main__":
    main()
