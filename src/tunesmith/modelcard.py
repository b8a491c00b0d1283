"""Turn a training run into a shippable checkpoint with a model card."""

from __future__ import annotations

import datetime
from pathlib import Path

from .checkpoint import load_checkpoint, read_config, write_checkpoint
from .errors import TunesmithError


def model_card(config: dict, history: list[dict], command: str) -> str:
    """Markdown describing data, model, training and held-out quality."""
    corpus, model, train = config["corpus"], config["model"], config["train"]
    best = min(history, key=lambda r: r["held_out_bits_per_symbol"])
    seconds = sum(r["seconds"] for r in history)
    rows = "\n".join(
        f"| {r['epoch']} | {r['train_bits_per_symbol']:.3f} | {r['held_out_bits_per_symbol']:.3f} "
        f"| {r['symbols_per_second']:,.0f} |" for r in history
    )
    return f"""# Model card: {config.get('name', 'tunesmith model')}

A character-level LSTM that writes folk tunes in ABC notation (canonical
header order X, T, M, L, R, K), trained with `tunesmith train`.

## Data
- corpus: {', '.join(corpus['sources'])} (bundled with music21; cleaned to canonical ABC, exact duplicates removed)
- {corpus['tunes']} tunes: {corpus['train_tunes']} for training, {corpus['held_out_tunes']} held out (5 %, by tune, by content hash)
- corpus hash {corpus['hash']}; vocabulary of {model['vocab_size']} characters

## Model
- {model['cell'].upper()}: embedding {model['embedding']} -> {model['layers']} x {model['hidden']}, dropout {model['dropout']} after each layer -> linear -> softmax
- trained statefully: batch {train['batch']} contiguous streams, BPTT {train['seq']}, Adam lr {train['lr']} (x0.95 per epoch after the second), clip {train['clip']}, seed {train['seed']}

## Training
- {len(history)} epochs, {seconds / 60:.1f} minutes of training on a 2-core CPU (evaluation not counted)
- best held-out: **{best['held_out_bits_per_symbol']:.3f} bits per character** at epoch {best['epoch']} (these weights)
- reproduce with: `{command}`

| epoch | train bits/char | held-out bits/char | chars/s |
|---:|---:|---:|---:|
{rows}

Packaged {datetime.date.today().isoformat()}.
"""


def package_run(run: Path, dest: Path, name: str = "default",
                command: str = "make models") -> Path:
    """Copy a run's best weights to `dest` with config.json and MODEL_CARD.md."""
    run = Path(run)
    if not (run / "best").is_dir() or not (run / "latest").is_dir():
        raise TunesmithError(f"{run}: not a training run folder (needs best/ and latest/)")
    best = load_checkpoint(run / "best")
    history = read_config(run / "latest")["progress"]["history"]
    meta = {k: best.meta[k] for k in ("corpus", "train", "metrics") if k in best.meta}
    meta |= {"name": name, "history": history}
    card = model_card(best.meta | {"name": name}, history, command)
    write_checkpoint(Path(dest), best.model, best.codec, meta, extra_files={"MODEL_CARD.md": card})
    return Path(dest)
