"""Fine-tuning: a trained model adapted to a user's own tunes, on a CPU-minute budget.

`tunesmith finetune --model models/default --corpus my_tunes/ --minutes 5 --out runs/mine`
reads the user's tunes as any corpus is read (`corpus.load`), leaves out the
tunes with characters the model's vocabulary lacks (counted, the characters
named: the model keeps its vocabulary), holds out a seeded share of the rest
(`corpus.split.Split`: 5 % of 50 tunes would be two or three) and trains
from the model's weights with the one training loop (`train.Trainer`). The
run folder is an ordinary one: `generate --model runs/mine`, `package`,
`evaluate` and resuming work on it, and its checkpoints record which model
it was fine-tuned from (`finetuned_from`).

Around the training it measures what a user wants to know: the held-out
tunes' bits per character under the model before and after, and the copy
rate, the share of generated tunes that share `Measures.flag` (4)
consecutive bars with one training tune: `evaluate`'s copy measure, against
the user's tunes, beside the same share for the held-out real tunes.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .atomic import settled, write_text_atomic
from .checkpoint import Checkpoint, load_checkpoint, read_config, resolve_model_dir
from .errors import TunesmithError
from .models import TrainConfig

if TYPE_CHECKING:
    from .corpus.load import Corpus
    from .train import Trainer

MAX_SEED = 2**31 - 1        # the data-order seeds derived from it must fit torch's generator
MIN_TUNES = 10              # fewer usable tunes leave nothing to hold out and little to learn from
DEFAULT_HELD_OUT = 0.2      # of 50 tunes, 10 held out
DEFAULT_MINUTES = 5.0
# Tried on 50 essen-europe tunes with seed 102, which the tests and the reported figures do not use
# (benchmarks/finetune.py --sweep; docs/abc.md "Fine-tuning on your own tunes"): half the model's rate came within
# 1.5 % of its whole rate and 6 % ahead of a quarter; the gentler of the two close ones is kept.
DEFAULT_LR_SCALE = 0.5      # the base model's learning rate times this
DEFAULT_PATIENCE = 8        # epochs without a better held-out figure before stopping (best/ keeps the best)
MAX_EPOCHS = 1000           # a cap only: the CPU-minute budget or the patience ends a fine-tuning
COPY_CHECK = 20             # tunes generated to measure the copy rate
REPORT = "finetune.json"    # the report, beside best/ and latest/

Status = Callable[[dict], None]


@dataclass(frozen=True)
class Settings:
    """What a fine-tuning is asked for (the CLI's and the web's options)."""

    minutes: float = DEFAULT_MINUTES
    held_out: float = DEFAULT_HELD_OUT
    seed: int = 0
    lr: float | None = None          # None: the base model's learning rate x DEFAULT_LR_SCALE
    patience: int = DEFAULT_PATIENCE
    epochs: int = MAX_EPOCHS
    copy_check: int = COPY_CHECK     # 0: no copy check

    def check(self) -> None:
        """Refuse settings with no meaning, naming the option."""
        check_limits(self.minutes, self.patience, self.epochs, self.copy_check)
        if not 0 < self.held_out < 1:
            raise TunesmithError(f"--held-out must be a share between 0 and 1, e.g. 0.2 (got {self.held_out})")
        if not 0 <= self.seed <= MAX_SEED:
            raise TunesmithError(f"--seed must be between 0 and {MAX_SEED} (got {self.seed})")
        if self.lr is not None and not 0 < self.lr < 1:
            raise TunesmithError(f"--lr must be above 0 and below 1 (got {self.lr})")


def check_limits(minutes: float | None, patience: int | None, epochs: int | None, copy_check: int | None) -> None:
    """Refuse a budget, patience, epoch cap or copy check with no meaning (None: not given), naming the option."""
    if minutes is not None and not (minutes > 0 and math.isfinite(minutes)):
        raise TunesmithError(f"--minutes must be above 0 (got {minutes}): fine-tuning runs on a CPU-minute budget")
    for name, value, least in (("patience", patience, 0), ("epochs", epochs, 1), ("copy-check", copy_check, 0)):
        if value is not None and value < least:
            raise TunesmithError(f"--{name} must be at least {least} (got {value})")


@dataclass
class Finetuning:
    """A fine-tuning run ready to train: its trainer, and the model it started from."""

    trainer: "Trainer"
    base: dict                       # the `finetuned_from` record (also in every checkpoint of the run)
    copy_check: int = COPY_CHECK

    @property
    def out(self) -> Path:
        return self.trainer.out


def _abc_base(path: Path) -> Checkpoint:
    """The model to fine-tune, which must write ABC tunes."""
    from .modes import mode_name

    base = load_checkpoint(path)
    if mode_name(base.meta) != "abc":
        raise TunesmithError(f"--model {path}: a {mode_name(base.meta)} model; finetune adapts ABC models "
                             "to ABC tunes (train --mode midi/tabla trains the others)")
    return base


def read_tunes(specs: list[str], base: Checkpoint, settings: Settings) -> "Corpus":
    """The user's tunes that the model can read, split; too few is an error that says why."""
    from .corpus.load import load_corpus
    from .corpus.split import Split

    if not specs:
        raise TunesmithError("--corpus: give your tunes: a folder of .abc files or one ABC file (a tunebook)")
    corpus = load_corpus(specs, None, "abc", Split(settings.held_out, settings.seed, base.codec))
    if len(corpus.tunes) < MIN_TUNES:
        left_out = ""
        if corpus.unreadable:
            left_out = (f" ({len(corpus.unreadable)} more have characters the model's vocabulary lacks: "
                        f"{corpus.unknown_characters()!r})")
        raise TunesmithError(f"--corpus {' '.join(specs)}: {len(corpus.tunes)} tunes{left_out}; "
                             f"fine-tuning needs at least {MIN_TUNES}")
    return corpus


def base_record(path: Path, base: Checkpoint, held_out_bits: dict) -> dict:
    """What a fine-tuned checkpoint says of the model it started from."""
    corpus = base.meta.get("corpus") or {}
    folder = resolve_model_dir(path).resolve()
    return {
        "model": str(folder),
        "name": base.meta.get("name") or (folder.parent.name if folder.name == "best" else folder.name),
        "corpus": corpus.get("sources"),
        "corpus_hash": corpus.get("hash"),
        "held_out_bits_per_symbol": held_out_bits["bits_per_symbol"],
        "held_out_bits_per_char": held_out_bits["bits_per_char"],
    }


def train_config(base: Checkpoint, settings: Settings) -> TrainConfig:
    """The base model's own batch and window, a gentler learning rate, the budget and the patience."""
    own = TrainConfig.from_dict(base.meta.get("train") or {})
    lr = settings.lr if settings.lr is not None else own.lr * DEFAULT_LR_SCALE
    return replace(own, lr=lr, epochs=settings.epochs, minutes=settings.minutes, patience=settings.patience,
                   seed=settings.seed, checkpoint_every=1, weight_decay=0.0, transpose="none", precision="fp32")


def start(model: Path, specs: list[str], out: Path, settings: Settings = Settings(),
          on_status: Status = lambda _: None) -> Finetuning:
    """A new fine-tuning of `model` on the tunes of `specs` into the run folder `out`; nothing is written yet."""
    import torch

    from .insight.evaluate import bits
    from .train import Trainer, check_window

    settings.check()
    out = Path(out)
    if settled(out / "latest").exists():
        raise TunesmithError(f"--out {out}: a run is already there; resume it with "
                             f"`tunesmith finetune --resume {out}` or pick another folder")
    on_status({"stage": "reading"})
    base = _abc_base(model)
    corpus = read_tunes(specs, base, settings)
    config = train_config(base, settings)
    check_window(base.model.config, config)
    on_status({"stage": "measuring before", "tunes": len(corpus.tunes), "train": len(corpus.train),
               "held_out": len(corpus.held_out), "unreadable": len(corpus.unreadable)})
    before = bits(base, [t.text for t in corpus.held_out])
    torch.manual_seed(settings.seed)  # dropout: the same seed trains the same weights
    trainer = Trainer(out, corpus, base.codec, base.model, config, finetuned_from=base_record(model, base, before))
    return Finetuning(trainer, trainer.finetuned_from, settings.copy_check)


def resume(out: Path, minutes: float | None = None, patience: int | None = None, epochs: int | None = None,
           copy_check: int = COPY_CHECK) -> Finetuning:
    """The fine-tuning in `out` where it stopped; new `minutes` (the run's total), `patience` or `epochs` let
    a finished one go on. A run that had finished only measures and reports again."""
    from .train import resume_trainer

    out = Path(out)
    check_limits(minutes, patience, epochs, copy_check)
    config = read_config(settled(out / "latest"))
    if not isinstance(config.get("finetuned_from"), dict):
        raise TunesmithError(f"--resume {out}: not a fine-tuning run (no finetuned_from in its config.json); "
                             f"resume a training run with `tunesmith train --resume {out}`")
    trainer = resume_trainer(out, epochs, minutes=minutes, patience=patience)
    return Finetuning(trainer, trainer.finetuned_from, copy_check)


def train(job: Finetuning, on_status: Status = lambda _: None, show_progress: bool = False) -> None:
    """Train until the budget, the patience or the epoch cap ends it; Ctrl-C saves latest/ and raises
    train.TrainingInterrupted."""
    trainer = job.trainer
    p = trainer.progress
    last = [0.0]

    def status(epoch: int, batch: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5:  # two updates a second at most
            last[0] = now
            on_status(training_status(trainer, epoch, batch))

    on_status(training_status(trainer, p.epoch, p.batch))
    trainer.run(show_progress=show_progress, on_batch=status)
    on_status(training_status(trainer, p.epoch, p.batch))


def training_status(trainer: "Trainer", epoch: int, batch: int) -> dict:
    """Where the training is: CPU seconds spent of the budget, the epoch, the held-out figures so far."""
    p = trainer.progress
    last = p.history[-1]["held_out_bits_per_symbol"] if p.history else None
    return {"stage": "training", "cpu_seconds": round(p.cpu_seconds_total, 2),
            "budget_seconds": trainer.config.minutes * 60, "epoch": epoch + 1, "epochs_done": len(p.history),
            "batch": batch, "held_out_bits_per_symbol": last, "best_held_out_bits_per_symbol": p.best_held_out,
            "unit": trainer.codec.unit}


def copies(ckpt: Checkpoint, training: list[str], held_out: list[str], n: int, seed: int) -> dict:
    """The copy rate: of `n` generated tunes, how many share `flag` consecutive bars with one training tune
    (evaluate's measure), beside the same share of the held-out real tunes."""
    from .insight.measures import measures_for
    from .insight.metrics import BarIndex
    from .modes import GenerateRequest, mode_of

    mode = mode_of(ckpt.meta)
    measures = measures_for(mode.name)
    index = BarIndex([measures.profile(t, False).bars for t in training], measures.flag)

    def runs(texts: list[str]) -> list[int]:
        return [index.nearest(measures.profile(t, False).bars).longest_run for t in texts]

    generated = mode.write(ckpt, GenerateRequest(n=n, seed=seed, sampling=mode.sampling)) if n else []
    mine, real = runs(generated), runs(held_out)
    return {
        "flag_bars": measures.flag,
        "generated": len(mine), "flagged": sum(r >= measures.flag for r in mine),
        "share": sum(r >= measures.flag for r in mine) / len(mine) if mine else None,
        "longest_runs": mine,
        "held_out": len(real), "held_out_flagged": sum(r >= measures.flag for r in real),
        "held_out_share": sum(r >= measures.flag for r in real) / len(real) if real else None,
        "seed": seed,
    }


def finish(job: Finetuning, on_status: Status = lambda _: None) -> dict:
    """Measure the best checkpoint (held-out bits, copies), write the report beside it and return it."""
    from .insight.evaluate import bits

    trainer, base = job.trainer, job.base
    corpus, p = trainer.corpus, trainer.progress
    on_status({"stage": "measuring after"})
    best = load_checkpoint(trainer.out / "best")
    held = [t.text for t in corpus.held_out]
    after = bits(best, held)
    on_status({"stage": "checking copies", "generated": job.copy_check})
    copied = copies(best, [t.text for t in corpus.train], held, job.copy_check, trainer.config.seed)
    before_char = base["held_out_bits_per_char"]
    report = {
        "run": str(trainer.out),
        "finetuned_from": base,
        "corpus": {"sources": corpus.sources, "tunes": len(corpus.tunes), "train": len(corpus.train),
                   "held_out": len(corpus.held_out), "unreadable": len(corpus.unreadable),
                   "unknown_characters": corpus.unknown_characters(),
                   "held_out_share": corpus.split.held_out, "seed": corpus.split.seed},
        "held_out_bits_per_char": {"before": before_char, "after": after["bits_per_char"],
                                   "change": (after["bits_per_char"] - before_char) / before_char},
        "held_out_bits_per_symbol": {"before": base["held_out_bits_per_symbol"], "after": after["bits_per_symbol"]},
        "training": {"epochs": len(p.history), "cpu_seconds": round(p.cpu_seconds_total, 2),
                     "budget_minutes": trainer.config.minutes, "stopped": p.stopped, "lr": trainer.config.lr,
                     "history": p.history},
        "copies": copied,
    }
    write_text_atomic(trainer.out / REPORT, json.dumps(report, indent=1) + "\n")
    on_status({"stage": "done", "report": report})
    return report


def read_report(run: Path) -> dict | None:
    """A run's fine-tuning report, when it has one."""
    try:
        report = json.loads((Path(run) / REPORT).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return report if isinstance(report, dict) else None


def summary(report: dict) -> list[str]:
    """The report in a few lines for people."""
    c, b, t, k = report["corpus"], report["held_out_bits_per_char"], report["training"], report["copies"]
    lines = [f"{c['tunes']} tunes: {c['train']} for training, {c['held_out']} held out "
             f"({c['held_out_share']:.0%}, seed {c['seed']})"]
    if c["unreadable"]:
        lines.append(f"left out {c['unreadable']} tunes with characters the model's vocabulary lacks: "
                     f"{c['unknown_characters']!r}")
    stopped = {"minutes": "the CPU-minute budget was spent", "patience": "held-out bits stopped improving",
               None: "the epochs were done"}.get(t["stopped"], t["stopped"])
    lines.append(f"trained {t['epochs']} epochs in {t['cpu_seconds'] / 60:.2f} CPU minutes ({stopped})")
    lines.append(f"held-out bits per character: {b['before']:.3f} before, {b['after']:.3f} after "
                 f"({b['change']:+.1%})")
    if k["generated"]:
        lines.append(f"copies: {k['flagged']} of {k['generated']} generated tunes ({k['share']:.0%}) share "
                     f"{k['flag_bars']} bars in a row with one training tune; of the held-out real tunes "
                     f"{k['held_out_flagged']} of {k['held_out']}")
    return lines

