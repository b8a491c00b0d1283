"""Turn a training run into a shippable checkpoint with a model card."""

from __future__ import annotations

import datetime
import statistics
from pathlib import Path

from .checkpoint import Checkpoint, load_checkpoint, read_config, write_checkpoint
from .corpus.load import Corpus, recorded_corpus
from .errors import TunesmithError
from .modes import mode_name, mode_of


# What a unit is called in prose where figures say it short.
_UNIT_WORDS = {"char": "character"}


def _about(about: str, cell: str) -> str:
    """The mode's one-line description with the model's architecture named: "An RNN that ..." -> "A GRU that ..."."""
    name = {"lstm": "LSTM", "gru": "GRU", "transformer": "transformer"}.get(cell, cell)
    if cell == "transformer":
        return about.replace("An RNN", "A decoder-only transformer").replace("A character-level RNN",
                                                                             "A character-level transformer")
    return about.replace("An RNN", f"An {name}" if name == "LSTM" else f"A {name}").replace(
        "A character-level RNN", f"A character-level {name}")


def model_card(config: dict, history: list[dict], command: str) -> str:
    """Markdown describing data, model, training and held-out quality."""
    corpus, model, train = config["corpus"], config["model"], config["train"]
    best = min(history, key=lambda r: r["held_out_bits_per_symbol"])
    seconds = sum(r["seconds"] for r in history)
    cpu = sum(r.get("cpu_seconds") or 0 for r in history)
    cpu_words = f", {cpu / 60:.1f} minutes of CPU time" if cpu else ""
    # What an epoch costs when nothing else shares the CPU: its CPU time where the run recorded it (one
    # thread: the same as the wall clock on an idle core), else its wall-clock time.
    timed = [r["cpu_seconds"] for r in history if r.get("cpu_seconds")]
    typical = statistics.median(timed if len(timed) == len(history) and train.get("minutes") else
                                [r["seconds"] for r in history])
    rows = "\n".join(
        f"| {r['epoch']} | {r['train_bits_per_symbol']:.3f} | {r['held_out_bits_per_symbol']:.3f} "
        f"| {r['symbols_per_second']:,.0f} |" for r in history
    )
    mode = mode_of(config)
    codec = next((c for c in mode.codecs if c.name == config.get("codec", {}).get("name")), mode.codecs[0])
    unit = _UNIT_WORDS.get(codec.unit, codec.unit)
    how = f"trained with `tunesmith train --mode {mode.name}`"
    base = config.get("finetuned_from")
    if isinstance(base, dict):
        how = (f"fine-tuned with `tunesmith finetune` from the model `{base.get('name')}` ({base.get('model')}, "
               f"trained on {', '.join(base.get('corpus') or ['?'])}), which scored "
               f"{base.get('held_out_bits_per_symbol', float('nan')):.3f} bits per {unit} on the held-out pieces below")
    data_lines = ""
    if corpus.get("augmentation"):
        from .corpus.augment import describe
        data_lines += f"\n- trained also on {describe(corpus['augmentation'])}"
    if corpus.get("chords"):
        from .corpus.augment import describe_chords
        data_lines += f"\n- trained also on {describe_chords(corpus['chords'])}"
    extras = [f"{train['precision']} arithmetic (autocast; weights kept in fp32)"] if train.get("precision", "fp32") != "fp32" else []
    if train.get("weight_decay"):
        extras.append(f"weight decay {train['weight_decay']}")
    if train.get("minutes"):
        extras.append(f"a budget of {train['minutes']:g} CPU minutes")
    if train.get("patience"):
        extras.append(f"early stopping after {train['patience']} epochs without a better held-out figure")
    extra = "; " + ", ".join(extras) if extras else ""
    split = corpus.get("split")
    held = "5 %, by piece, by content hash"
    if isinstance(split, dict):
        held = f"{split['held_out_share'] * 100:g} %, by piece, drawn by seed {split['seed']}"
        if corpus.get("unreadable"):
            held += f"; {corpus['unreadable']} pieces with {unit}s outside the vocabulary left out"
    return f"""# Model card: {config.get('name', 'tunesmith model')}

{_about(mode.about, model['cell'])}, one {unit} at a time, {how}.

## Data
- corpus: {', '.join(corpus['sources'])} ({mode.corpus_note})
- {corpus['tunes']} pieces: {corpus['train_tunes']} for training, {corpus['held_out_tunes']} held out ({held})
- corpus hash {corpus['hash']}; vocabulary of {model['vocab_size']} {unit}s{data_lines}

## Model
- {model['cell'].upper()}: embedding {model['embedding']} -> {model['layers']} x {model['hidden']}, dropout {model['dropout']} after each layer -> linear -> softmax
- trained statefully: batch {train['batch']} contiguous streams, BPTT {train['seq']}, Adam lr {train['lr']} (x0.95 per epoch after the second), clip {train['clip']}, seed {train['seed']}{extra}

## Training
- {len(history)} epochs, {seconds / 60:.1f} minutes of training on a 2-core CPU (evaluation not counted){cpu_words};
  the median epoch took {typical:.0f} s, so {len(history) * typical / 60:.0f} minutes when nothing else
  shares the CPU (epochs with a low {unit}s/s below did)
- best held-out: **{best['held_out_bits_per_symbol']:.3f} bits per {unit}** at epoch {best['epoch']} (these weights)
- reproduce with: `{command}`

| epoch | train bits/{unit} | held-out bits/{unit} | {unit}s/s |
|---:|---:|---:|---:|
{rows}
"""


def fitted_copy(ckpt: Checkpoint, corpus: Corpus) -> dict:
    """The copy model fitted on the training pieces, with its held-out bits beside the network's."""
    from .insight.evaluate import copy_bits, fit_copy

    copy = fit_copy(ckpt, [p.text for p in corpus.train])
    ckpt.meta["copy"] = copy.to_dict()
    held = copy_bits(ckpt, [p.text for p in corpus.held_out])
    out = copy.to_dict()
    out["held_out"] = {"network": round(held["network"], 4), "mixture": round(held["mixture"], 4),
                       "matched": round(held["matched"], 4), "symbols": held["symbols"]}
    return out


def copy_section(copy: dict, mode) -> str:
    """The card's paragraph on the copy model."""
    unit = _UNIT_WORDS.get(mode.codecs[0].unit, mode.codecs[0].unit)
    held, fit = copy["held_out"], copy["fitted_on"]
    weights = ", ".join(f"{w:.2f}" for w in copy["weights"])
    return f"""
## Copy model
Sampling mixes the network's next-{unit} distribution with a match model over
the piece's own earlier {unit}s (models/copy.py; `--no-copy` turns it off): after
{copy['min_match']} {unit}s that occurred earlier in the piece, it predicts what
followed them there, trusted by match length (bands up to {', '.join(map(str, copy['bands']))} and
beyond: weights {weights}), fitted on {fit['pieces']} training pieces.

| held-out ({held['symbols']:,} {unit}s, read as one stream) | bits per {unit} |
|---|---:|
| the network alone | {held['network']:.3f} |
| network + copy model | **{held['mixture']:.3f}** |

A match was open at {held['matched']:.0%} of the held-out {unit}s.
"""


def validity_section(ckpt: Checkpoint, corpus: Corpus, n: int = 100, seed: int = 1) -> str:
    """abc2midi's verdict on `n` generated tunes and on the training tunes, as Markdown."""
    from .insight.abc2midi import pass_rate
    from .modes import GenerateRequest

    mode = mode_of(ckpt.meta)
    defaults = mode.sampling
    gen_ok, gen_clean = pass_rate(mode.write(ckpt, GenerateRequest(n=n, seed=seed, sampling=defaults)))
    train_ok, train_clean = pass_rate([t.text for t in corpus.train])
    return f"""
## Validity (abc2midi as the judge)
Share of tunes with no abc2midi error about notes, ties, bars or tuplets
(chord-symbol names and header fields set aside), and of those also without a
bar-length warning:

| tunes | no error | and no bar-length warning |
|---|---:|---:|
| `tunesmith generate -n {n} --seed {seed}` (temperature {defaults.temperature}, top-p {defaults.top_p}) | {gen_ok:.0%} | {gen_clean:.0%} |
| the {len(corpus.train)} training tunes | {train_ok:.0%} | {train_clean:.0%} |
"""


def notes_section(notes: Path | None) -> str:
    """A Markdown file's text to add to a model card as written ("" for none), or a clear error naming it."""
    if notes is None:
        return ""
    try:
        return "\n" + Path(notes).read_text(encoding="utf-8").strip() + "\n"
    except (OSError, UnicodeDecodeError) as exc:
        raise TunesmithError(f"{notes}: cannot read the notes for the model card ({exc})") from None


def package_run(run: Path, dest: Path, name: str = "default",
                command: str = "make models", copy: bool = True, notes: Path | None = None) -> Path:
    """Copy a run's best weights to `dest` with config.json and MODEL_CARD.md.

    With `copy`, the copy model (models/copy.py) is fitted on the training
    pieces and saved with it; its held-out effect goes on the card.

    When abc2midi is installed the card also says how many generated and
    training tunes it accepts. `notes` (a Markdown file: what was compared
    before this model was chosen, say) is added to the card as written.
    """
    from .insight.abc2midi import available

    run = Path(run)
    notes_text = notes_section(notes)
    if not (run / "best").is_dir() or not (run / "latest").is_dir():
        raise TunesmithError(f"{run}: not a training run folder (needs best/ and latest/)")
    best = load_checkpoint(run / "best")
    history = read_config(run / "latest")["progress"]["history"]
    meta = {k: best.meta[k] for k in ("mode", "corpus", "train", "metrics", "finetuned_from") if k in best.meta}
    meta |= {"name": name, "history": history}
    card = model_card(best.meta | {"name": name}, history, command)
    corpus = recorded_corpus(best.meta["corpus"], mode_name(best.meta), best.codec)
    if copy:
        meta["copy"] = fitted_copy(best, corpus)
        best.meta["copy"] = meta["copy"]  # sampled with it below, as users will
        card += copy_section(meta["copy"], mode_of(best.meta))
    if available() and mode_name(best.meta) == "abc":
        card += validity_section(best, corpus)
    card += notes_text
    card += f"\nPackaged {datetime.date.today().isoformat()}.\n"
    write_checkpoint(Path(dest), best.model, best.codec, meta, extra_files={"MODEL_CARD.md": card})
    return Path(dest)
