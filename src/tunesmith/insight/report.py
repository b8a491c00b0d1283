"""The evaluation report on disk: report.md, report.html, report.json, PNG plots, the generated pieces.

The folder is built beside its destination and renamed into place, so a
reader never sees half a report; an existing folder is replaced only when
it holds an earlier report.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from ..atomic import folder_atomic
from ..errors import TunesmithError
from ..modes import get_mode
from .document import Document
from .evaluate import sort_key
from .metrics import FLAG_BARS
from .reference import STATISTICS

MAX_BINS = 14  # bins drawn per statistic; the rest of a long tail is summed into "other"
_OTHER = "other"


def _pct(x) -> str:
    return "—" if x is None else f"{x:.1%}"


def _num(x, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _statistics(report: dict) -> dict[str, str]:
    """Name -> label of the statistics the report compares (the models are of one mode)."""
    return report["models"][0].get("statistics") or {name: label for name, (label, _) in STATISTICS.items()}


def _flag(report: dict) -> int:
    """Consecutive shared bars (cycles) that flag a copy, in this report's mode."""
    return report["models"][0].get("flag", FLAG_BARS)


def _columns(report: dict) -> list[tuple[str, dict, dict]]:
    """(label, model result, measured pieces): each model's generated pieces, then each corpus's held-out tunes."""
    cols, seen = [], set()
    for m in report["models"]:
        cols.append((m["name"], m, m["generated"]))
    for m in report["models"]:
        corpus = (m["corpus"] or {}).get("hash")
        if corpus not in seen:
            seen.add(corpus)
            sources = "+".join((m["corpus"] or {}).get("sources") or ["?"])
            cols.append((f"held-out {sources} (real)", m, m["heldout_baseline"]))
    return cols


def summary_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    """The side-by-side table: one column per model, one per corpus's real held-out tunes."""
    cols = _columns(report)
    models = report["models"]
    unit = models[0]["unit"] if len({m["unit"] for m in models}) == 1 else "symbol"
    bar, flag = models[0]["bar"], _flag(report)
    real = lambda label: label.startswith("held-out ")  # noqa: E731

    def row(name, fn, for_real=True):
        return [name] + [fn(m, g) if (for_real or not real(label)) else "—" for label, m, g in cols]

    rows = [row(f"held-out bits per {unit} (own split)", lambda m, g: _num(m["heldout"]["split"]["bits_per_symbol"]), False)]
    if any("with_copy" in m["heldout"]["split"] for m in models):
        rows.append(row(f"held-out bits per {unit}, with the copy model",
                        lambda m, g: _num(m["heldout"]["split"]["with_copy"]["bits_per_symbol"])
                        if "with_copy" in m["heldout"]["split"] else "—", False))
    if unit != "char":  # per character too, where a symbol is not one: it compares codecs
        rows.append(row("held-out bits per character", lambda m, g: _num(m["heldout"]["split"]["bits_per_char"]), False))
    if "file" in models[0]["heldout"]:
        name = Path(models[0]["heldout"]["file"]["file"]).name
        rows.append(row(f"bits per character on {name}", lambda m, g: _num(m["heldout"]["file"]["bits_per_char"]), False))
    judge = next((g["validity"]["judge"]["name"] for _, _, g in cols if g["validity"]["judge"]), None)
    rows += [
        row("pieces measured", lambda m, g: str(g["pieces"])),
        row("pass our checker", lambda m, g: _pct(g["validity"]["checker"])),
    ]
    if judge:
        rows.append(row(f"pass {judge}", lambda m, g: _pct(g["validity"]["judge"] and g["validity"]["judge"]["share"])))
    rows += [
        row(f"{bar}s {models[0].get('bars_right', 'with the right length')}",
            lambda m, g: _pct(g["validity"]["bars_right"])),
    ]
    for label in next(iter(cols))[2]["validity"].get("checks", {}):
        rows.append(row(label, lambda m, g, k=label: _pct(g["validity"]["checks"].get(k))))
    rows += [
        row(f"flagged: share >= {flag} consecutive {bar}s with a training piece",
            lambda m, g: f"{g['copying']['flagged']} ({g['copying']['flagged'] / g['pieces']:.1%})"),
        row(f"{flag}-{bar} runs found in the training set", lambda m, g: _pct(g["copying"]["runs_in_training"])),
        row(f"longest shared run, median / max ({bar}s)",
            lambda m, g: f"{statistics.median(g['copying']['longest_runs']):g} / {max(g['copying']['longest_runs'])}"),
    ]
    for label in next(iter(cols))[2]["diversity"]:
        if label in ("exact_duplicates", "near_duplicates"):
            continue
        rows.append(row(f"distinct {label}", lambda m, g, k=label: _pct(g["diversity"][k]["share"])))
    rows.append(row("duplicates: exact / near", lambda m, g: f"{g['diversity']['exact_duplicates']} / "
                                                             f"{g['diversity']['near_duplicates']}"))
    for name, label in _statistics(report).items():
        rows.append(row(f"overlap with training: {label.split(' (')[0]}", lambda m, g, k=name: _num(g["music"][k], 2)))
    if models[0].get("features"):  # the real column: alternate real pieces against the others
        side = lambda m, g: "generated" if g is m["generated"] else "real_halves"  # noqa: E731
        rows.append(row("features (Yang & Lerch) vs real: mean overlapped area",  # over those estimated in both
                        lambda m, g: _num(_mean_of(m["features"], side(m, g), "overlap"), 2)))
        rows.append(row("features (Yang & Lerch) vs real: mean KL",
                        lambda m, g: _num(_mean_of(m["features"], side(m, g), "kl"), 3)))
    rows.append(row("seconds", lambda m, g: f"{m['seconds']['total']:.0f}", False))
    return ["measure"] + [label for label, _, _ in cols], rows


def _mean_of(features: dict, side: str, key: str) -> float | None:
    """The mean of a figure of one comparison ("generated" or "real_halves") over the features both
    comparisons could estimate, so that the two means are over the same features."""
    both = [name for name in features["labels"]
            if features["generated"][name][key] is not None and features["real_halves"][name][key] is not None]
    values = [features[side][name][key] for name in both]
    return sum(values) / len(values) if values else None


def _short(x: float | None) -> str:
    """A number to three significant figures, without an exponent."""
    if x is None:
        return "—"
    if x == 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{digits}f}"


def _absolute(side: dict) -> str:
    """A set's absolute measure of a feature: mean ± std, or a vector's spread (d: distance between two pieces)."""
    if not side.get("pieces"):
        return "— (no piece has one)"
    stats = side["distance"] if "distance" in side else side
    text = f"{_short(stats['mean'])} ± {_short(stats['std'])}"
    return f"d {text}" if "distance" in side else text


def feature_rows(model: dict) -> tuple[list[str], list[list[str]], list[str]]:
    """The Yang & Lerch table of one model: header, rows, and a note per feature that could not be estimated."""
    f = model["features"]
    header = ["feature", "generated: mean ± std", "real: mean ± std", "overlapped area", "KL",
              "real vs real: overlapped area", "real vs real: KL"]
    rows, notes = [], []
    for name, label in f["labels"].items():
        g, h = f["generated"][name], f["real_halves"][name]
        rows.append([label, _absolute(g["other"]), _absolute(g["real"]), _num(g["overlap"], 3), _num(g["kl"], 3),
                     _num(h["overlap"], 3), _num(h["kl"], 3)])
        for who, r in (("generated vs real", g), ("real vs real", h)):
            if r["note"]:
                notes.append(f"{label.split(' (')[0]}, {who}: {r['note']}")
    return header, rows, notes


def _plot_distributions(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models, statistics = report["models"], _statistics(report)
    panels = len(statistics) + 1  # one per statistic, then the overlaps
    cols = panels if panels <= 5 else 4
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(18, 4.25 * rows), squeeze=False)
    for ax in axes.flat[panels:]:
        ax.axis("off")
    series_count = 1 + len(models)
    for ax, (name, label) in zip(axes.flat, statistics.items()):
        train = models[0]["training"]["distributions"][name]
        series = [("training", train)] + [(m["name"], m["generated"]["distributions"][name]) for m in models]
        order = lambda b: sort_key(b, name)  # noqa: E731
        bins = sorted(set().union(*(s.keys() for _, s in series)), key=order)
        if len(bins) > MAX_BINS:  # keep the bins that matter most in training or in any model
            weight = {b: max(s.get(b, 0.0) for _, s in series) for b in bins}
            bins = sorted(sorted(bins, key=lambda b: -weight[b])[:MAX_BINS - 1], key=order) + [_OTHER]
        width = 0.8 / series_count
        for k, (who, dist) in enumerate(series):
            shown = [dist.get(b, 0.0) for b in bins]
            if bins and bins[-1] is _OTHER:  # what the dropped bins held
                shown[-1] = max(0.0, 1.0 - sum(shown[:-1]))
            ax.bar([i + (k - (series_count - 1) / 2) * width for i in range(len(bins))], shown, width, label=who)
        tilt = len(bins) > 8 or max((len(str(b)) for b in bins), default=0) > 5  # long labels would collide
        ax.set_xticks(range(len(bins)), [str(b) for b in bins], rotation=60 if tilt else 0, fontsize=8)
        ax.set_title(label, fontsize=10)
    ax = axes.flat[panels - 1]
    names = list(statistics)
    for k, m in enumerate(models):
        values = [m["generated"]["music"][n] or 0.0 for n in names]
        ax.barh([i + k * 0.8 / len(models) for i in range(len(names))], values, 0.8 / len(models), label=m["name"])
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_title("overlap with training (1 = identical)", fontsize=10)
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)


def _plot_copying(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    cols = _columns(report)
    flag = _flag(report)
    cap = 24  # longer runs share the last bin
    top = min(max(flag + 2, *(max(g["copying"]["longest_runs"], default=0) for _, _, g in cols)), cap)
    width = 0.8 / len(cols)
    for k, (label, _, g) in enumerate(cols):
        runs = [min(r, top) for r in g["copying"]["longest_runs"]]
        shares = [runs.count(x) / len(runs) for x in range(top + 1)]
        ax.bar([x + (k - (len(cols) - 1) / 2) * width for x in range(top + 1)], shares, width, label=label)
    bar = report["models"][0]["bar"]
    ax.axvline(flag - 0.5, color="black", linestyle="--", linewidth=1)
    ax.text(flag - 0.4, ax.get_ylim()[1] * 0.92, f"flagged: {flag} or more", fontsize=9)
    ax.set_xticks(range(top + 1), [str(x) if x < top or top < cap else f"{cap}+" for x in range(top + 1)], fontsize=8)
    ax.set_xlabel(f"longest run of consecutive {bar}s shared with the nearest training piece")
    ax.set_ylabel("share of pieces")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)


def build_document(report: dict) -> Document:
    """The report as a Document (written out as Markdown and HTML)."""
    models, s = report["models"], report["settings"]
    doc = Document("tunesmith evaluation")
    names = ", ".join(f"**{m['name']}** (`{m['path']}`, {m['codec']})" for m in models)
    doc.para(f"{names}: {s['n']} pieces generated with seed {s['seed']} (temperature {s['temperature']}, "
             f"top-p {s['top_p']}, at most {s['max_length']} symbols each); tunesmith {report['tunesmith']}, "
             f"{report['created']}; {report['seconds']:.0f} s in all.")
    doc.para("The last column measures real pieces the model never saw (its held-out split, at most N of them) "
             "in exactly the same way: it is what a perfect model would score at this N.")
    header, rows = summary_rows(report)
    doc.heading(2, "Summary")
    doc.table(header, rows)
    bar, flag = models[0]["bar"], _flag(report)
    bar_key = models[0].get("bar_key", "without spaces, decorations, chord symbols or bar lines")
    doc.heading(2, "Held-out bits")
    doc.para("Mean cross-entropy on held-out pieces, read as in training (stateful streams), in bits per symbol "
             "of the model's codec; per character divides the same total by the characters, so models with "
             "different codecs compare.")
    hrows = []
    for m in models:
        for where, h in m["heldout"].items():
            label = "own held-out split" if where == "split" else h["file"]
            if where != "split" and h["skipped"]:
                label += f" ({h['skipped']} skipped: characters the model never saw)"
            hrows.append([m["name"], label, str(h["pieces"]), f"{_num(h['bits_per_symbol'])} per {m['unit']}",
                          _num(h["bits_per_char"])])
            if "with_copy" in h:
                mixed = h["with_copy"]
                hrows.append([m["name"], label + ", with the copy model (one stream)", str(h["pieces"]),
                              f"{_num(mixed['bits_per_symbol'])} per {m['unit']}", _num(mixed["bits_per_char"])])
    doc.table(["model", "held-out pieces", "count", "bits per symbol", "bits per char"], hrows)
    doc.heading(2, "Copying")
    doc.para(f"For each piece: the training piece sharing the longest run of consecutive {bar}s with it "
             f"({bar}s compared {bar_key}). "
             f"Pieces sharing {flag} or more consecutive {bar}s are flagged.")
    doc.image("copying.png", f"longest shared runs of {bar}s")
    for m in models:
        flagged = [p for p in m["generated"]["per_piece"] if p["flagged"]]
        sources = "+".join((m["corpus"] or {}).get("sources") or [])
        doc.heading(3, f"{m['name']}: {len(flagged)} flagged")
        if flagged:
            doc.para(f"Training pieces are numbered as in `tunesmith corpus export {sources}`.")
        if flagged:
            doc.table(["piece", "title", f"{bar}s", "nearest training piece", f"longest run ({bar}s)", f"shared {bar}s"],
                      [[str(p["number"]), _title(m["pieces"][p["number"] - 1]), str(p["bars"]),
                        f"#{p['nearest_number']} {p['nearest_title']}", str(p["longest_run"]), str(p["shared_bars"])]
                       for p in sorted(flagged, key=lambda p: -p["longest_run"])])
    doc.heading(2, "Music statistics")
    doc.para("Each distribution over all generated pieces against the training pieces; the overlap is the "
             "area the two normalised histograms share (sum of the smaller bar in each bin: 1 = identical, 0 = disjoint).")
    doc.image("distributions.png", "distributions against the training corpus")
    if models[0].get("features"):
        _features_section(doc, report)
    doc.heading(2, "Settings and time")
    srows = [[k, ", ".join(v) if isinstance(v, list) else str(v)] for k, v in s.items()]
    doc.table(["setting", "value"], srows)
    doc.table(["model", "stage", "seconds"],
              [[m["name"], stage, f"{sec:.1f}"] for m in models for stage, sec in m["seconds"].items()])
    for m in models:
        doc.heading(2, f"Model: {m['name']}")
        doc.para(f"`{m['checkpoint']}`: {m['model']['cell'].upper()} {m['model']['layers']} x {m['model']['hidden']}, "
                 f"{m['parameters']:,} parameters, {m['vocabulary']} {m['unit']}s in the vocabulary; "
                 f"trained on {m['training']['pieces']} pieces. Generated pieces: `{piece_file(m)}`.")
        if m["model_card"]:
            doc.pre(m["model_card"])
    return doc


def _features_section(doc: Document, report: dict) -> None:
    first = report["models"][0]["features"]
    pieces = first["pieces"]
    doc.heading(2, "Features (Yang & Lerch)")
    doc.para("Per-piece features in the manner of Yang & Lerch, \"On the evaluation of generative models in music\" "
             "(2020): for each feature, the distances between two real held-out pieces (intra-set, every ordered "
             "pair) and between a generated and a real piece (inter-set), each smoothed into a density by a "
             "Gaussian kernel estimate (Scott's bandwidth) on one grid. The overlapped area is the area the two "
             "densities share (1: the generated pieces sit among the real ones as the real ones sit among "
             "themselves; 0: apart); KL is the Kullback-Leibler divergence KL(intra-real || inter) (0: the same; "
             "it grows as they part, into the tens for disjoint sets). The summary's means are over the features "
             "estimated in both comparisons. Mean ± std are over the pieces; for a "
             "histogram or a transition matrix (d) they are of the distance between two pieces of the set. "
             "The last two columns compare alternate real pieces with the others the same way: what "
             "indistinguishable scores at this N (a perfect model would match them).")
    doc.para(f"Pieces compared: {pieces['generated']} generated, {pieces['real']} real held-out "
             f"({pieces['real_halves'][0]} + {pieces['real_halves'][1]} for real vs real); at most "
             f"{first['max_pieces']} of a set (the first ones).")
    for m in report["models"]:
        if len(report["models"]) > 1:
            doc.heading(3, m["name"])
        header, rows, notes = feature_rows(m)
        doc.table(header, rows)
        if notes:
            doc.para("Not estimated (— above): " + "; ".join(notes) + ".")


def _title(text: str) -> str:
    return next((line.split(":", 1)[1].strip() for line in text.split("\n") if line.startswith(("T:", "title:"))), "")


def piece_file(model: dict) -> str:
    """Name of the file beside the report holding a model's generated pieces."""
    name = model['name'].replace(' ', '_').replace('(', '').replace(')', '')
    return f"generated-{name}.{get_mode(model['mode']).suffix}"


def write_report(report: dict, out: Path) -> list[str]:
    """Write the whole report folder atomically; returns the file names in it."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "report.json").is_file())):
        raise TunesmithError(f"-o {out}: exists and is not an earlier report; choose a new folder")
    with folder_atomic(out, f"-o {out}") as tmp:
        _plot_distributions(report, tmp / "distributions.png")
        _plot_copying(report, tmp / "copying.png")
        doc = build_document(report)
        (tmp / "report.md").write_text(doc.markdown())
        (tmp / "report.html").write_text(doc.html())
        for m in report["models"]:
            (tmp / piece_file(m)).write_text("\n".join(m["pieces"]))
        (tmp / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    return sorted(p.name for p in out.iterdir())
