"""The one training loop: stateful truncated BPTT over contiguous streams.

A run folder holds `latest/` (weights + optimizer + random state + where in
the epoch it stopped: everything for an exact resume) and `best/` (the
weights with the lowest held-out bits per symbol so far).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .accel import Comm, Dist, autocast, check_precision
from .atomic import recover_folder, settled
from .checkpoint import TRAINING_STATE, load_checkpoint, read_config, read_tensors, write_checkpoint
from .codecs import Codec
from .corpus.load import Corpus, load_corpus, recorded_corpus
from .data import Streams, encode_tunes, epoch_seed, make_streams
from .errors import TunesmithError
from .modes import mode_name
from .models import CharRNN, ModelConfig, TrainConfig, build_model

LN2 = math.log(2)
EVAL_BATCH = 16
EVAL_SEQ = 256


class TrainingInterrupted(Exception):
    """Ctrl-C during training; `latest/` was saved and the run can be resumed."""

    def __init__(self, out: Path, epoch: int, batch: int):
        super().__init__(f"interrupted in epoch {epoch + 1} at batch {batch}; saved {out / 'latest'}")
        self.out, self.epoch, self.batch = out, epoch, batch


@dataclass
class Progress:
    """Where a run is: the next batch to train, and what it measured so far."""

    epoch: int = 0                # epochs completed
    batch: int = 0                # batches of the current epoch completed
    loss_sum: float = 0.0         # summed training loss (nats/symbol * symbols) this epoch
    loss_symbols: int = 0
    seconds: float = 0.0          # training time spent in the current epoch
    cpu_seconds: float = 0.0      # CPU time of this process in the current epoch's batches (all its threads)
    best_held_out: float | None = None
    history: list[dict] = field(default_factory=list)
    stopped: str | None = None    # why the run ended before its epochs: "patience", "minutes"

    @property
    def cpu_seconds_total(self) -> float:
        """CPU seconds of training over the whole run: what --minutes counts (fair on a shared machine)."""
        return sum(r.get("cpu_seconds", 0.0) for r in self.history) + self.cpu_seconds

    def to_dict(self) -> dict:
        """JSON form for config.json."""
        return dict(self.__dict__)


def bits_per_symbol(model: CharRNN, tune_ids: list[torch.Tensor]) -> float:
    """Mean held-out cross-entropy in bits, over stateful streams in tune order.

    A transformer carries no state: it reads the streams in windows of at most
    its context (each window on its own, as in training).
    """
    seq = min(EVAL_SEQ, getattr(model, "window", EVAL_SEQ))
    streams = make_streams(tune_ids, EVAL_BATCH, seq, order_seed=None)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, state = 0.0, None
    with torch.inference_mode():
        for k in range(streams.batches):
            x, y = (t.to(device) for t in streams.batch(k))
            logits, state = model(x, state)
            total += nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
    model.train(was_training)
    return total / streams.symbols / LN2


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    sd = opt.state_dict()
    tensors = {f"opt.{i}.{k}": v.detach().cpu() for i, st in sd["state"].items() for k, v in st.items()}
    return tensors, sd["param_groups"]


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("opt."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": groups})


def _detached(state):
    """The state to carry into the next batch (None for a transformer, which carries none)."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def check_window(model_config: ModelConfig, train_config: TrainConfig) -> ModelConfig:
    """A transformer's training window must fit its positions; a shorter one becomes its context.

    Positions beyond the training window would never be trained, so the
    model is built with context = seq when --seq is shorter than the preset's.
    """
    if model_config.cell != "transformer":
        return model_config
    if train_config.seq > model_config.context:
        raise TunesmithError(f"--seq {train_config.seq}: longer than the transformer's context "
                             f"{model_config.context} (the positions it has); give --seq {model_config.context} or less")
    return replace(model_config, context=train_config.seq)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam, or AdamW when the run asks for weight decay (on weight matrices only: not on biases,
    norms or the embedding, as is usual for language models)."""
    if config.weight_decay <= 0:
        return torch.optim.Adam(model.parameters(), lr=config.lr)
    decayed, kept = [], []
    for name, param in model.named_parameters():
        (decayed if param.dim() >= 2 and "embed" not in name else kept).append(param)
    groups = [{"params": decayed, "weight_decay": config.weight_decay}, {"params": kept, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


def check_world(batch: int, dist: Dist) -> None:
    """The global batch must split into equal shares, one per process."""
    if dist.active and batch % dist.world:
        raise TunesmithError(f"--batch {batch}: does not divide among the {dist.world} processes of this torchrun "
                             f"(each trains an equal share of the streams); give a multiple of {dist.world}")


class Trainer:
    """Trains one model on one corpus into one run folder.

    Under torchrun (`dist.active`) every process builds the same Trainer;
    process r trains rows r*B/W .. (r+1)*B/W-1 of each epoch's streams (and
    carries their hidden state), DistributedDataParallel averages the
    gradients, and only rank 0 writes checkpoints, history and the bar.
    """

    def __init__(self, out: Path, corpus: Corpus, codec: Codec, model: CharRNN,
                 config: TrainConfig, progress: Progress | None = None,
                 device: torch.device | str = "cpu", dist: Dist | None = None, finetuned_from: dict | None = None):
        self.out, self.corpus, self.codec, self.config = Path(out), corpus, codec, config
        self.finetuned_from = finetuned_from  # the model a fine-tuning started from (finetune.py), kept in every checkpoint
        self.device, self.dist = torch.device(device), dist or Dist()
        check_world(config.batch, self.dist)
        self.amp_dtype = check_precision(config.precision, self.device)
        self.model = model.to(self.device)
        self.comm = Comm(self.dist, self.device)
        self.progress = progress or Progress()
        self.train_ids = encode_tunes(codec, corpus.training_set, "training corpus")
        self.held_ids = encode_tunes(codec, corpus.held_out, "held-out corpus")
        self.opt = make_optimizer(self.model, config)
        # fp16 needs its gradients scaled (bf16 and fp32 do not); only on CUDA (check_precision)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype is torch.float16 else None
        self.net = self.model
        if self.dist.active:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.carry = None  # hidden state carried into the next batch (this process's rows)
        self._stop = False  # set by Ctrl-C (or, under torchrun, SIGTERM) in this process
        self._stop_agreed = False  # some process asked to stop: all stop at the same batch

    # -- saving -------------------------------------------------------------
    def _meta(self) -> dict:
        return {
            "mode": self.corpus.mode,
            "corpus": self.corpus.describe(),
            "train": self.config.to_dict(),
            "progress": self.progress.to_dict(),
            "metrics": self.progress.history[-1] if self.progress.history else {},
            **({"finetuned_from": self.finetuned_from} if self.finetuned_from is not None else {}),
        }

    def save_latest(self) -> None:
        """Write latest/ with everything an exact resume needs.

        Under torchrun every process must call it (the carried states and the
        random states are gathered); rank 0 writes. The carry is saved whole
        (all B rows, as a single process would), the random state once per rank.
        """
        tensors, groups = _optimizer_tensors(self.opt)
        rngs = self.comm.gather(torch.get_rng_state())
        for r, state in enumerate(rngs):
            tensors["rng" if r == 0 else f"rng.{r}"] = state
        if self.device.type == "cuda":
            for r, state in enumerate(self.comm.gather(torch.cuda.get_rng_state(self.device))):
                tensors["cuda_rng" if r == 0 else f"cuda_rng.{r}"] = state
        if self.carry is not None:
            carry = self.carry if isinstance(self.carry, tuple) else (self.carry,)
            for i, t in enumerate(carry):
                tensors[f"carry.{i}"] = torch.cat(self.comm.gather(t), dim=1)  # (layers, B, H)
        if not self.dist.main:
            return
        meta = self._meta() | {"optimizer_groups": groups, "world_size": self.dist.world}
        if self.scaler is not None:
            meta["grad_scaler"] = self.scaler.state_dict()
        write_checkpoint(self.out / "latest", self.model, self.codec, meta, tensors)

    # -- the loop -----------------------------------------------------------
    def _lr(self, epoch: int) -> float:
        # Constant for two epochs, then a gentle decay, as in char-rnn.
        return self.config.lr * (0.95 ** max(0, epoch - 2))

    def run(self, show_progress: bool = True, on_batch: Callable[[int, int], None] | None = None) -> Progress:
        """Train until `config.epochs` epochs are complete; Ctrl-C saves and raises TrainingInterrupted."""
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        cfg, p = self.config, self.progress
        if self.dist.main:
            for folder in ("best", "latest"):  # a run killed while writing them left traces beside them
                recover_folder(self.out / folder)
        self.comm.barrier()
        show_progress = show_progress and self.dist.main
        per_epoch = make_streams(self.train_ids, cfg.batch, cfg.seq, epoch_seed(cfg.seed, 0)).batches
        bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("loss {task.fields[loss]:.3f}  {task.fields[rate]:,.0f} sym/s"),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  disable=not show_progress, transient=False)
        with bar:
            task = bar.add_task("train", total=per_epoch * cfg.epochs,
                                completed=per_epoch * p.epoch + p.batch, loss=float("nan"), rate=0.0)
            previous = self._catch_ctrl_c()
            try:
                while p.epoch < cfg.epochs and p.stopped is None:
                    self._epoch(bar, task, on_batch)
            except KeyboardInterrupt:
                self.save_latest()
                raise TrainingInterrupted(self.out, p.epoch, p.batch) from None
            finally:
                if previous is not None:
                    signal.signal(signal.SIGINT, previous)
        return p

    def _catch_ctrl_c(self):
        # Ctrl-C only sets a flag; the loop stops at the next batch boundary, so
        # a half-applied optimizer step is never saved. A second Ctrl-C is the
        # default one and stops at once.
        # Under torchrun the agent passes Ctrl-C on (SIGINT, then SIGTERM) to every process, which must
        # all stop at the same batch to save together: there every such signal only sets the flag
        # (the agent kills what has not stopped 30 s later).
        self._stop = self._stop_agreed = False
        if threading.current_thread() is not threading.main_thread():
            return None

        def request_stop(signum, frame):
            self._stop = True
            if not self.dist.active:
                signal.signal(signal.SIGINT, signal.default_int_handler)

        if self.dist.active:
            signal.signal(signal.SIGTERM, request_stop)
        return signal.signal(signal.SIGINT, request_stop)

    def streams(self, epoch: int) -> tuple[Streams, Streams]:
        """The epoch's streams (all B rows) and this process's share of them (all of them when alone)."""
        cfg, d = self.config, self.dist
        whole = make_streams(self.train_ids, cfg.batch, cfg.seq, epoch_seed(cfg.seed, epoch))
        if not d.active:
            return whole, whole
        rows = whole.x.shape[0]
        if rows % d.world:
            raise TunesmithError(f"the corpus is too short for --batch {cfg.batch} at --seq {cfg.seq}: it makes "
                                 f"{rows} streams, which do not divide among {d.world} processes; "
                                 "give a smaller --seq or --batch")
        share = slice(d.rank * rows // d.world, (d.rank + 1) * rows // d.world)
        return whole, Streams(whole.x[share], whole.y[share], whole.seq)

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """One optimizer step on this process's batch; its mean loss (nats/symbol)."""
        cfg = self.config
        with autocast(self.device, self.amp_dtype):
            logits, state = self.net(x, self.carry)
            loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
        self.opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
            self.opt.step()
        self.carry = _detached(state)
        return loss.item()

    def _minutes_spent(self) -> bool:
        cfg = self.config
        return cfg.minutes > 0 and self.progress.cpu_seconds_total >= cfg.minutes * 60

    def _epoch(self, bar, task, on_batch) -> None:
        cfg, p, model = self.config, self.progress, self.model
        streams, mine = self.streams(p.epoch)
        for group in self.opt.param_groups:
            group["lr"] = self._lr(p.epoch)
        model.train()
        bar.update(task, description=f"epoch {p.epoch + 1}/{cfg.epochs}")
        minutes_spent = False
        while p.batch < streams.batches:
            if self._stop_agreed or (self._stop and not self.dist.active):
                raise KeyboardInterrupt
            start, cpu_start = time.perf_counter(), time.process_time()
            x, y = (t.to(self.device, non_blocking=True) for t in mine.batch(p.batch))
            loss = self._step(x, y)
            elapsed = time.perf_counter() - start
            p.cpu_seconds += time.process_time() - cpu_start
            # Every process's summed loss, and whether any asked to stop or rank 0's budget is spent: one
            # collective per batch, so that all stop at the same batch (equal shares: the mean of the
            # processes' mean losses is the mean over the global batch, as DDP's averaged gradient is).
            total, count, stop, minutes_spent = self.comm.sum(
                [loss * y.numel(), y.numel(), float(self._stop), float(self.dist.main and self._minutes_spent())])
            self._stop_agreed = stop > 0
            p.batch += 1
            p.loss_sum += total
            p.loss_symbols += int(count)
            p.seconds += elapsed
            bar.update(task, advance=1, loss=loss / LN2, rate=count / max(elapsed, 1e-9))
            if on_batch is not None:
                on_batch(p.epoch, p.batch)
            if minutes_spent and p.batch < streams.batches:
                # The budget is spent mid-epoch: the epoch ends here (measured and saved like a whole one).
                p.stopped = "minutes"
                self._end_epoch(streams.symbols * p.batch // streams.batches, part=p.batch / streams.batches)
                return
        self._end_epoch(streams.symbols)

    def _end_epoch(self, symbols: int, part: float = 1.0) -> None:
        p, cfg = self.progress, self.config
        # Rank 0 measures; the others wait for its figure (and its CPU-minute verdict) to decide as it does.
        held = bits_per_symbol(self.model, self.held_ids) if self.dist.main else 0.0
        held, spent = self.comm.from_main([held, float(self._minutes_spent())])
        record = {
            "epoch": p.epoch + 1,
            **({"part": round(part, 4)} if part < 1 else {}),
            "train_bits_per_symbol": round(p.loss_sum / max(p.loss_symbols, 1) / LN2, 5),
            "held_out_bits_per_symbol": round(held, 5),
            "symbols_per_second": round(symbols / max(p.seconds, 1e-9), 1),
            "seconds": round(p.seconds, 2),
            # Unrounded: the CPU-minute budget is judged on the sum of these, and a rounded record could
            # put a finished run back under its budget (2.9999 s of a 3 s budget).
            "cpu_seconds": p.cpu_seconds,
        }
        p.history.append(record)
        p.epoch, p.batch, p.loss_sum, p.loss_symbols, p.seconds, p.cpu_seconds = p.epoch + 1, 0, 0.0, 0, 0.0, 0.0
        self.carry = None  # state is reset at each epoch: the streams are new
        if p.best_held_out is None or held < p.best_held_out:
            p.best_held_out = held
            if self.dist.main:
                write_checkpoint(self.out / "best", self.model, self.codec, self._meta())
        if spent and p.stopped is None and p.epoch < cfg.epochs:
            p.stopped = "minutes"
        if cfg.patience > 0 and p.stopped is None and len(p.history) > cfg.patience:
            best_before = min(r["held_out_bits_per_symbol"] for r in p.history[:-cfg.patience])
            if min(r["held_out_bits_per_symbol"] for r in p.history[-cfg.patience:]) >= best_before:
                p.stopped = "patience"  # early stopping: best/ keeps the best epoch
        if p.epoch % cfg.checkpoint_every == 0 or p.epoch == cfg.epochs or p.stopped is not None:
            self.save_latest()


def new_trainer(out: Path, corpus_specs: list[str], model_config: ModelConfig, train_config: TrainConfig,
                limit: int | None = None, codec_name: str | None = None, mode: str = "abc",
                device: torch.device | str = "cpu", dist: Dist | None = None) -> Trainer:
    """A fresh run: the corpus is read and split, the vocabulary fitted, the weights seeded."""
    from .modes import get_mode

    chosen = get_mode(mode)
    codecs = {c.name: c for c in chosen.codecs}
    codec_name = codec_name or chosen.codecs[0].name
    if codec_name not in codecs:
        raise TunesmithError(f"--codec {codec_name}: mode {chosen.name} takes {', '.join(codecs)}")
    codec_class = codecs[codec_name]
    out = Path(out)
    if settled(out / "latest").exists():
        raise TunesmithError(f"--out {out}: a run is already there; resume it with --resume {out} or pick another folder")
    check_window(model_config, train_config)  # before reading the corpus
    check_world(train_config.batch, dist or Dist())
    check_transpose(train_config.transpose, chosen.name)
    check_chords(train_config.chords, chosen.name)
    corpus = augmented(load_corpus(corpus_specs, limit, chosen.name), train_config.transpose, train_config.chords)
    # The vocabulary covers held-out tunes too, so that every held-out symbol
    # can be scored; a symbol seen only there simply gets a low probability.
    codec = codec_class.fit([t.text for t in corpus.tunes + corpus.augmented + corpus.harmonised])
    torch.manual_seed(train_config.seed)
    model = build_model(replace(check_window(model_config, train_config), vocab_size=len(codec)))
    if dist is not None and dist.rank > 0:
        torch.manual_seed(train_config.seed * 1_000_003 + dist.rank)  # its own dropout masks, same weights
    return Trainer(out, corpus, codec, model, train_config, device=device, dist=dist)


def check_transpose(policy: str, mode: str) -> str:
    """A --transpose policy that this mode can use, or a clear error."""
    from .corpus.augment import check_policy

    if check_policy(policy) != "none" and mode != "abc":
        raise TunesmithError(f"--transpose {policy}: transposition is for ABC tunes; mode {mode} takes --transpose none")
    return policy


def check_chords(policy: str, mode: str) -> str:
    """A --chords policy that this mode can use, or a clear error."""
    from .corpus.augment import check_chords_policy

    if check_chords_policy(policy) != "none" and mode != "abc":
        raise TunesmithError(f"--chords {policy}: chord symbols are for ABC tunes; mode {mode} takes --chords none")
    return policy


def augmented(corpus: Corpus, transpose: str, chords: str = "none") -> Corpus:
    """The corpus with its training tunes' transposed copies, then harmonised copies of both
    (`corpus/augment.py`); unchanged for `none` and `none`."""
    from .corpus.augment import augment, harmonised_copies

    if check_transpose(transpose, corpus.mode) != "none":
        copies, record = augment(corpus.train, corpus.held_out, transpose)
        corpus = replace(corpus, augmented=copies, augmentation=record)
    if check_chords(chords, corpus.mode) != "none":
        copies, record = harmonised_copies(corpus.train + corpus.augmented, corpus.held_out, chords)
        corpus = replace(corpus, harmonised=copies, harmonisation=record)
    return corpus


def _copies_differ(then: dict | None, now: dict | None) -> str:
    """How a run's augmented copies differ from the ones made now, for the resume error: the counts, and why."""
    if not then or not now:
        return ""
    said = [f"{now.get('added', 0):,} copies now, {then.get('added', 0):,} then"]
    for reason in sorted(set(then.get("dropped") or {}) | set(now.get("dropped") or {})):
        a, b = (now.get("dropped") or {}).get(reason, 0), (then.get("dropped") or {}).get(reason, 0)
        if a != b:
            said.append(f"dropped by {reason}: {a:,} now, {b:,} then")
    return (f" ({'; '.join(said)}): the code that reads, checks or rewrites tunes has changed since; resume it with "
            f"the tunesmith that started it (its version is in config.json), or train again")


def resume_trainer(out: Path, epochs: int | None = None, device: torch.device | str = "cpu",
                   dist: Dist | None = None, **limits) -> Trainer:
    """The run in `out` exactly as it was saved, optionally with a new epoch total or new `minutes` /
    `patience` (a run that stopped early or on its budget goes on when any of them is given).

    A run trained by W processes resumes with W processes (each takes back its rows' carried state
    and its own random state); any other number is refused."""
    out = Path(out)
    dist = dist or Dist()
    latest = settled(out / "latest")  # a run killed while writing latest/ resumes from the one before
    config = read_config(latest)
    for key in ("corpus", "train", "progress"):
        if not isinstance(config.get(key), dict):
            raise TunesmithError(f"{latest}: not a resumable training run (no {key!r} in config.json)")
    world = config.get("world_size", 1)
    if world != dist.world:
        how = "without torchrun (one process)" if world == 1 else f"with torchrun --nproc_per_node {world} (or nodes x processes = {world})"
        raise TunesmithError(f"--resume {out}: this run was trained by {world} process{'es' if world != 1 else ''} and is "
                             f"resumed by {dist.world}; each owns its streams and their carried state, so resume it {how}")
    saved = config["corpus"]
    checkpoint = load_checkpoint(latest)
    corpus = recorded_corpus(saved, mode_name(config), checkpoint.codec)
    if corpus.describe()["hash"] != saved["hash"]:
        raise TunesmithError(f"{latest}: the corpus {saved['sources']} has changed since this run started")
    train_config = TrainConfig.from_dict(config["train"])
    corpus = augmented(corpus, train_config.transpose, train_config.chords)
    if (corpus.augmentation or {}).get("augmented_hash") != (saved.get("augmentation") or {}).get("augmented_hash"):
        raise TunesmithError(f"{latest}: the transposed training copies (--transpose {train_config.transpose}) "
                             f"are not the ones this run started with{_copies_differ(saved.get('augmentation'), corpus.augmentation)}")
    if (corpus.harmonisation or {}).get("harmonised_hash") != (saved.get("chords") or {}).get("harmonised_hash"):
        raise TunesmithError(f"{latest}: the harmonised training copies (--chords {train_config.chords}) "
                             f"are not the ones this run started with{_copies_differ(saved.get('chords'), corpus.harmonisation)}")
    changes = {k: v for k, v in dict(epochs=epochs, **limits).items() if v is not None}
    train_config = replace(train_config, **changes)
    model = checkpoint.model
    try:
        progress = Progress(**config["progress"])
    except TypeError as exc:
        raise TunesmithError(f"{latest}/config.json: corrupt training progress ({exc})") from None
    if changes:
        progress.stopped = None
    trainer = Trainer(out, corpus, checkpoint.codec, model, train_config, progress, device=device, dist=dist,
                      finetuned_from=config.get("finetuned_from"))
    state = read_tensors(latest / TRAINING_STATE)
    _load_optimizer(trainer.opt, state, config.get("optimizer_groups", []))
    suffix = "" if dist.rank == 0 else f".{dist.rank}"
    torch.set_rng_state(state["rng" + suffix])
    if trainer.device.type == "cuda" and "cuda_rng" + suffix in state:
        torch.cuda.set_rng_state(state["cuda_rng" + suffix], trainer.device)
    if trainer.scaler is not None and isinstance(config.get("grad_scaler"), dict):
        trainer.scaler.load_state_dict(config["grad_scaler"])
    carry = [state[f"carry.{i}"] for i in range(2) if f"carry.{i}" in state]
    if carry:
        rows = carry[0].shape[1]  # the whole batch's rows; this process takes back its share
        share = slice(dist.rank * rows // dist.world, (dist.rank + 1) * rows // dist.world)
        carry = [c[:, share].contiguous().to(trainer.device) for c in carry]
        trainer.carry = tuple(carry) if model.config.cell == "lstm" else carry[0]
    return trainer
