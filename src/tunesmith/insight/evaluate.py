"""`tunesmith evaluate`: how good a model's music is, and whether it copies.

For each model: held-out bits per symbol (and per character, comparable
across codecs); N generated pieces checked (our checker, abc2midi for ABC,
a MIDI file round trip for MIDI, bar lengths or complete cycles); copying
(nearest training piece, longest run of shared bars, share of generated
4-bar runs found in training); diversity; and music
statistics compared with the training corpus as overlapping areas; and
per-piece features compared with real held-out pieces in the manner of
Yang & Lerch (features.py: overlapped area and KL divergence of the
distances between pieces), beside the same comparison of alternate real
pieces with the others. What a bar, an event, a statistic and a feature are
comes from the mode's `Measures`. The same measures are taken on the
model's held-out pieces, real music it never saw, as the baseline a perfect
model would reach at this N.
"""

from __future__ import annotations

import datetime
import json
import math
import time
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable

from .. import __version__
from ..checkpoint import Checkpoint, load_checkpoint
from ..errors import TunesmithError
from ..modes import get_mode, mode_name
from ..options import Sampling
from .features import evaluate_sets
from .measures import PieceProfile, measures_for
from .metrics import FLAG_BARS, BarIndex, distinct_ratio, duplicates, overlap
from .reference import PITCH_CLASSES, Reference, distributions, reference_pool, start_reference, statistics_of


@dataclass(frozen=True)
class Settings:
    """What the user asked for."""

    n: int = 200
    seed: int = 0
    heldout: Path | None = None
    max_length: int = 2000
    temperature: float | None = None    # None: the mode's default
    top_p: float | None = None          # None: the mode's default; 1 is off
    sampling: Sampling | None = None    # what was used: the above over the mode's defaults (set by `evaluate`)
    device: str = "cpu"                 # where the models run (generation and held-out bits): a torch device


def _judge(mode: str) -> tuple[str, Callable[[str], bool]] | None:
    """An independent judge of pieces, when one is installed (abc2midi for ABC)."""
    if mode == "abc":
        from . import abc2midi

        if abc2midi.available():
            return "abc2midi", lambda text: abc2midi.judge(text).ok
        return None
    return measures_for(mode).judge


def bits(ckpt: Checkpoint, texts: list[str]) -> dict:
    """Held-out bits per symbol (the training metric) and per character of `texts`."""
    import torch

    from ..train import bits_per_symbol

    ids = [torch.tensor(ckpt.codec.encode(t + "\n"), dtype=torch.long) for t in texts]
    per_symbol = bits_per_symbol(ckpt.model, ids)
    symbols = sum(len(x) for x in ids)
    chars = sum(len(t) + 1 for t in texts)
    # The metric is a mean over symbols; per character it is the same total spread over the characters.
    out = {"pieces": len(texts), "symbols": symbols, "characters": chars,
           "bits_per_symbol": per_symbol, "bits_per_char": per_symbol * symbols / chars}
    if ckpt.copy is not None:  # the same texts under the network mixed with its copy model, read as one stream
        mixed = copy_bits(ckpt, texts)
        out["with_copy"] = {"bits_per_symbol": mixed["mixture"], "network_one_stream": mixed["network"],
                            "bits_per_char": mixed["mixture"] * mixed["symbols"] / chars, "matched": mixed["matched"]}
    return out


LN2 = math.log(2)
COPY_FIT_PIECES = 600  # training pieces the copy model's weights are fitted on


def symbol_bits(ckpt: Checkpoint, texts: list[str]) -> list[list[float]]:
    """Bits of every symbol of each `text + "\n"`, read as one stream in order (as held-out bits are).

    A recurrent model carries its state through the whole stream; a transformer
    reads it in windows of its context. The stream's very first symbol has no
    prediction and gets NaN.
    """
    import torch

    from ..train import EVAL_SEQ

    ids = [ckpt.codec.encode(t + "\n") for t in texts]
    stream = torch.tensor([i for piece in ids for i in piece], dtype=torch.long)
    model = ckpt.model
    seq = min(EVAL_SEQ, getattr(model, "window", EVAL_SEQ))
    was_training = model.training
    model.eval()
    out = [float("nan")]
    state = None
    with torch.inference_mode():
        for start in range(0, len(stream) - 1, seq):
            x = stream[start:start + seq][None]
            y = stream[start + 1:start + seq + 1]
            logits, state = model(x[:, :len(y)], state)
            nats = torch.nn.functional.cross_entropy(logits[0], y, reduction="none")
            out.extend((nats / LN2).tolist())
    model.train(was_training)
    pieces, at = [], 0
    for piece in ids:
        pieces.append(out[at:at + len(piece)])
        at += len(piece)
    return pieces


def copy_positions(ckpt: Checkpoint, texts: list[str], min_match: int) -> tuple:
    """(network log-probability of each symbol, match length there, whether the match predicted it).

    Over every symbol of `texts` but the stream's first; the match model
    starts afresh with each piece (models/copy.py).
    """
    import numpy as np

    from ..models.copy import predictions

    logp, lengths, hits = [], [], []
    for text, bits_of in zip(texts, symbol_bits(ckpt, texts)):
        piece = ckpt.codec.encode(text + "\n")
        for symbol, (predicted, length), b in zip(piece, predictions(piece, min_match), bits_of):
            if b == b:  # not the stream's first symbol (NaN)
                logp.append(-b * LN2)
                lengths.append(length)
                hits.append(predicted == symbol)
    return np.array(logp), np.array(lengths), np.array(hits)


def fit_copy(ckpt: Checkpoint, train_texts: list[str], pieces: int = COPY_FIT_PIECES, seed: int = 0):
    """The copy model's weights fitted on (a seeded sample of) the training pieces."""
    import random

    from ..models.copy import MIN_MATCH, fit

    sample = list(train_texts)
    random.Random(seed).shuffle(sample)
    sample = sample[:pieces]
    model = fit(*copy_positions(ckpt, sample, MIN_MATCH))
    return replace(model, fitted_on={"pieces": len(sample), **model.fitted_on})


def copy_bits(ckpt: Checkpoint, texts: list[str]) -> dict:
    """Bits per symbol of `texts` for the network alone and mixed with the model's copy model."""
    import numpy as np

    from ..models.copy import mixture_bits

    copy = ckpt.copy
    if copy is None:
        raise TunesmithError(f"{ckpt.path}: this model has no copy model (`tunesmith package` fits one)")
    logp, lengths, hits = copy_positions(ckpt, texts, copy.min_match)
    weights = np.array([copy.weight(int(n)) for n in lengths])
    return {"symbols": len(logp), "network": float(-logp.mean() / LN2),
            "mixture": float(mixture_bits(logp, hits, weights).mean()), "matched": float((lengths > 0).mean())}


def char_bits(ckpt: Checkpoint, texts: list[str]) -> list:
    """Bits of every character of each text as `bits` scores it: one float array per text (and the blank
    line after it), a symbol's bits spread evenly over its characters, NaN where no stream predicts it
    (the first symbol, and the few a stream's last row leaves out).

    It reads the same streams as the training metric (`train.bits_per_symbol`), whose loop is kept as it
    is so that the figures of runs do not move; the mean over symbols is the same.
    """
    import numpy as np
    import torch
    from torch import nn

    from ..data import make_streams
    from ..train import EVAL_BATCH, EVAL_SEQ, LN2

    ids = [torch.tensor(ckpt.codec.encode(t + "\n"), dtype=torch.long) for t in texts]
    model = ckpt.model
    seq = min(EVAL_SEQ, getattr(model, "window", EVAL_SEQ))
    streams = make_streams(ids, EVAL_BATCH, seq, order_seed=None)
    model.eval()
    losses, state = [], None
    with torch.inference_mode():
        for k in range(streams.batches):
            x, y = streams.batch(k)
            logits, state = model(x, state)
            losses.append(nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none"))  # (B, T)
    flat = np.full(sum(len(x) for x in ids), np.nan)
    scored = torch.cat(losses, dim=1).flatten().double().numpy() / LN2  # row by row: symbols 1 .. B*row
    flat[1:1 + len(scored)] = scored
    out, at = [], 0
    for text, symbols in zip(texts, ids):
        widths = [len(ckpt.codec.vocab[i]) for i in symbols.tolist()]
        out.append(np.repeat(flat[at:at + len(symbols)] / widths, widths))
        at += len(symbols)
    return out


def file_texts(ckpt: Checkpoint, path: Path) -> tuple[list[str], int]:
    """The pieces of a file the model can read, and how many it cannot (characters it never saw)."""
    from ..modes import mode_of

    texts, skipped = [], 0
    for piece in mode_of(ckpt.meta).load_source(str(path)):
        if ckpt.codec.unknown(piece.text):
            skipped += 1
        else:
            texts.append(piece.text)
    if not texts:
        raise TunesmithError(f"--heldout {path}: every piece has characters outside the model's vocabulary")
    return texts, skipped


def heldout_bits(checkpoint: str, split: list[str], file: tuple[str, list[str], int] | None,
                 device: str = "cpu") -> dict:
    """bits() on the held-out split and on the --heldout file's pieces (run in the second process, on `device`)."""
    import torch

    torch.set_num_threads(1)  # the first process is generating on the other core
    ckpt = load_checkpoint(Path(checkpoint), device)
    result = {"split": bits(ckpt, split)}
    if file is not None:
        path, texts, skipped = file
        result["file"] = bits(ckpt, texts) | {"file": path, "skipped": skipped}
    return result


@dataclass
class Measured:
    """Pieces measured on their own, waiting for the training reference to be compared with."""

    texts: list[str]
    profiles: list[PieceProfile]
    judged: list[bool] | None
    judge: str | None
    mode: str = "abc"


def measure(texts: list[str], mode: str) -> Measured:
    """Profile every piece and ask the independent judge, when there is one."""
    judge = _judge(mode)
    profiles = [measures_for(mode).profile(t, True) for t in texts]
    return Measured(texts, profiles, [judge[1](t) for t in texts] if judge else None, judge[0] if judge else None,
                    mode)


def compare(m: Measured, reference: Reference) -> dict:
    """Validity, copying, diversity and music statistics of measured pieces, against the training set."""
    profiles, n = m.profiles, len(m.profiles)
    measures = measures_for(m.mode)
    flag, bar, event = measures.flag, measures.bar, measures.event
    total_bars = sum(p.bars_total for p in profiles)
    pieces, found, runs = [], 0, 0
    for i, p in enumerate(profiles):
        match = reference.index.nearest(p.bars)
        f, r = reference.index.runs_found(p.bars)
        found, runs = found + f, runs + r
        pieces.append({
            "number": i + 1, "bars": len(p.bars), "nearest": match.piece,
            "nearest_title": reference.titles[match.piece] if match.piece is not None else None,
            "nearest_number": reference.numbers[match.piece] if match.piece is not None else None,
            "longest_run": match.longest_run, "shared_bars": match.shared_bars,
            "flagged": match.longest_run >= flag,
            "checker_ok": p.checker_ok, "judge_ok": m.judged[i] if m.judged else None,
        })
    bar_seqs, note_seqs = [p.bars for p in profiles], [measures.events_of(p) for p in profiles]
    exact, near = duplicates(bar_seqs)
    if flag != FLAG_BARS:  # near duplicates share the mode's `flag` bars in a row
        index = BarIndex(bar_seqs, flag)
        near = sum(index.nearest(bars, exclude=i).longest_run >= flag for i, bars in enumerate(bar_seqs))
    diversity = {}
    for label, seqs, size in ((f"{bar}s", bar_seqs, 1), (f"{flag}-{bar} runs", bar_seqs, flag),
                              (f"4-{event} runs", note_seqs, 4), (f"8-{event} runs", note_seqs, 8)):
        distinct, total = distinct_ratio(seqs, size)
        diversity[label] = {"distinct": distinct, "total": total, "share": distinct / total if total else None}
    mine = distributions(profiles, m.mode)
    checks = sorted({label for p in profiles for label in p.checks})
    return {
        "pieces": n,
        "validity": {
            "checker": sum(p.checker_ok for p in profiles) / n,
            "judge": {"name": m.judge, "share": sum(m.judged) / n} if m.judged is not None else None,
            "bars_right": sum(p.bars_right for p in profiles) / total_bars if total_bars else None,
            "bars": total_bars,
            "checks": {label: sum(p.checks.get(label, False) for p in profiles) / n for label in checks},
        },
        "copying": {
            "flagged": sum(p["flagged"] for p in pieces),
            "runs_in_training": found / runs if runs else None,
            "runs": runs,
            "longest_runs": [p["longest_run"] for p in pieces],
        },
        "diversity": diversity | {"exact_duplicates": exact, "near_duplicates": near},
        "music": {name: overlap(mine[name], reference.distributions[name]) for name in statistics_of(m.mode)},
        "distributions": mine,
        "per_piece": pieces,
    }


class _Clock:
    """Seconds per stage of one model's evaluation."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + now - self.last, 2)
        self.last = now


def _corpus_key(ckpt: Checkpoint) -> tuple:
    """What makes two checkpoints' training corpora one: sources, limit, mode and a fine-tuning's own split."""
    corpus = ckpt.meta.get("corpus") or {}
    if not corpus.get("sources"):
        raise TunesmithError(f"{ckpt.path}: the checkpoint does not name its training corpus; cannot compare with it")
    split = corpus.get("split")
    readable = tuple(ckpt.codec.vocab) if split and split.get("only_readable") else None
    return (tuple(corpus["sources"]), corpus.get("limit"), mode_name(ckpt.meta),
            json.dumps(split, sort_keys=True) if split else None, readable)


def evaluate_model(path: Path, ckpt: Checkpoint, settings: Settings, pool, reference,
                   log: Callable[[str], None]) -> dict:
    """Everything the report says about one model; `reference` is a Future of its corpus's Reference.

    The held-out bits are scored in the pool's process while this one generates.
    """
    from ..corpus.load import recorded_corpus
    from ..modes import GenerateRequest, mode_of

    clock = _Clock()
    mode = mode_of(ckpt.meta)
    _corpus_key(ckpt)  # the checkpoint names its corpus
    held_out = [p.text for p in recorded_corpus(ckpt.meta["corpus"], mode.name, ckpt.codec).held_out]
    extra = None
    if settings.heldout is not None:
        extra = (str(settings.heldout), *file_texts(ckpt, settings.heldout))
    scoring = pool.submit(heldout_bits, str(ckpt.path), held_out, extra, settings.device)
    clock.lap("loading the held-out pieces")
    log(f"{path}: generating {settings.n} pieces")
    request = GenerateRequest(n=settings.n, seed=settings.seed, max_length=settings.max_length,
                              sampling=settings.sampling)
    measures = mode.measures()
    if measures.generate is not None:  # the mode's generate, with what the evaluation adds (tabla: the tala)
        generated = measures.generate(ckpt, request)
    else:
        generated = mode.generate(ckpt, request).pieces
    clock.lap("generating")
    log(f"{path}: checking and measuring")
    mine, real = measure(generated, mode.name), measure(held_out[:settings.n], mode.name)
    clock.lap("measuring")
    features = None  # against the held-out pieces: done while the second process may still be busy
    if measures.piece_features is not None:
        features = evaluate_sets(measures.piece_features, (real.texts, real.profiles), (mine.texts, mine.profiles))
        clock.lap("comparing features (Yang & Lerch)")
    if not (reference.done() and scoring.done()):
        log(f"{path}: waiting for the second process (training corpus, held-out bits)")
    ref = reference.result()
    clock.lap("waiting for the training corpus")
    heldout = scoring.result()
    clock.lap("waiting for the held-out bits")
    result, baseline = compare(mine, ref), compare(real, ref)
    clock.lap("comparing")
    card = ckpt.path / "MODEL_CARD.md"
    return {
        "path": str(path), "checkpoint": str(ckpt.path), "mode": mode.name, "codec": ckpt.codec.name,
        "unit": ckpt.codec.unit, "bar": measures.bar, "flag": measures.flag,
        "bars_right": measures.bars_right, "bar_key": measures.bar_key,
        "statistics": {name: label for name, (label, _) in statistics_of(mode.name).items()},
        "vocabulary": len(ckpt.codec), "parameters": sum(p.numel() for p in ckpt.model.parameters()),
        "model": ckpt.model.config.to_dict(), "corpus": ckpt.meta.get("corpus"),
        "model_card": card.read_text() if card.is_file() else None,
        "heldout": heldout, "generated": result, "heldout_baseline": baseline, "features": features,
        "training": {"pieces": len(ref.titles), "distributions": ref.distributions},
        "pieces": generated, "seconds": clock.seconds | {"total": round(sum(clock.seconds.values()), 2)},
    }


def sort_key(value, statistic: str = "") -> tuple:
    """Order of a distribution's bins in plots: pitch classes chromatically, numbers and fractions by value."""
    if statistic == "pitch_class" and value in PITCH_CLASSES:
        return (0, PITCH_CLASSES.index(value), "")
    if isinstance(value, (int, float)):
        return (0, value, "")
    try:
        return (0, Fraction(value), "")
    except (ValueError, ZeroDivisionError, TypeError):
        return (1, 0, str(value))


def evaluate(models: list[Path], settings: Settings, log: Callable[[str], None] = lambda _: None) -> dict:
    """The whole report's data for one or more models, side by side."""
    if settings.n < 1:
        raise TunesmithError(f"-n must be at least 1 (got {settings.n})")
    if settings.heldout is not None and not Path(settings.heldout).exists():
        raise TunesmithError(f"--heldout {settings.heldout}: no such file or folder")
    start = time.perf_counter()
    ckpts = [load_checkpoint(Path(m), settings.device) for m in models]
    modes = list(dict.fromkeys(mode_name(ckpt.meta) for ckpt in ckpts))
    for name in modes:
        get_mode(name)  # a mode this tunesmith does not know fails now, not after minutes
    if len(modes) > 1:
        raise TunesmithError(f"--model: the models write different kinds of music ({', '.join(modes)}); "
                             "evaluate compares models of one mode side by side")
    defaults = get_mode(modes[0]).sampling
    settings = replace(settings, sampling=replace(
        defaults, temperature=defaults.temperature if settings.temperature is None else settings.temperature,
        top_p=defaults.top_p if settings.top_p is None else settings.top_p))
    settings.sampling.check()
    with reference_pool() as pool:
        references = {}
        for ckpt in ckpts:
            key = _corpus_key(ckpt)
            if key not in references:
                log(f"measuring the training corpus {'+'.join(key[0])} (in a second process)")
                references[key] = start_reference(pool, *key[:3], split=ckpt.meta["corpus"].get("split"),
                                                  codec=ckpt.codec)
        results = [evaluate_model(Path(m), c, settings, pool, references[_corpus_key(c)], log)
                   for m, c in zip(models, ckpts)]
    names = [Path(r["checkpoint"]).name if Path(r["checkpoint"]).name != "best" else Path(r["checkpoint"]).parent.name
             for r in results]
    for i, r in enumerate(results):  # labels must tell models apart in tables and plots
        r["name"] = names[i] if names.count(names[i]) == 1 else f"{names[i]} ({i + 1})"
    sampling = settings.sampling
    return {
        "tunesmith": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": {"models": [str(m) for m in models], "n": settings.n, "seed": settings.seed,
                     "heldout": str(settings.heldout) if settings.heldout else None,
                     "max_length": settings.max_length, "temperature": sampling.temperature,
                     "top_p": sampling.top_p if sampling.top_p is not None else 1.0,
                     "flag_bars": measures_for(modes[0]).flag},
        "models": results,
        "seconds": round(time.perf_counter() - start, 2),
    }
