"""MIDI mode: how fast the bundled corpus is encoded, and how the shipped model's music compares with it.

    python benchmarks/midi_encode.py [--model models/midi] [-n 20] [--bars 16] [--card]

1. Speed: every file of the bundled chorale archive read and turned into
   model ids (symusic read, grid, normal form, token text, codec ids),
   against mido merely parsing the same files (no grid, no text): a ratio
   measured in this run, and the issue's target (< 10 s for the corpus).
2. Quality (when the model exists): held-out bits per event from the
   checkpoint; for N generated pieces (--bars, seed 1; top-p 0.8 and 1) and
   for the corpus:
   distinct note lengths, pieces with rests and with simultaneous notes,
   notes still sounding after the end (read back from the MIDI bytes with
   mido), and the pitch-class and note-length histograms side by side with
   their total variation distance. --card appends this to the model's
   MODEL_CARD.md and says there that its symbols are events.
"""

from __future__ import annotations

import argparse
import io
import time
import zipfile
from collections import Counter
from pathlib import Path

import mido

from tunesmith.codecs.midi_events import MidiEventCodec
from tunesmith.corpus.midi_bundled import BACH_ARCHIVE, load_bach
from tunesmith.music.midi import MidiPiece, midi_bytes, piece_from_midi

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
LENGTHS = {3: "1/16", 6: "1/8", 9: "1/8.", 12: "1/4", 18: "1/4.", 24: "1/2", 36: "1/2.", 48: "1"}


def encode_corpus(files: list[tuple[str, bytes]], codec: MidiEventCodec) -> int:
    """Ids of every file, as training makes them; returns how many."""
    return sum(len(codec.encode(piece_from_midi(data, name).text + "\n", name)) for name, data in files)


def mido_parse(files: list[tuple[str, bytes]]) -> int:
    """The reference: only parse each file with mido (pure Python); returns the messages read."""
    return sum(len(track) for _, data in files for track in mido.MidiFile(file=io.BytesIO(data)).tracks)


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def speed() -> list[str]:
    """Encoding the bundled corpus against mido's parse of the same bytes."""
    with zipfile.ZipFile(BACH_ARCHIVE) as archive:
        files = [(name, archive.read(name)) for name in sorted(archive.namelist())]
    codec = MidiEventCodec.fit([p.text for p in load_bach()])
    ours, ids = min((timed(encode_corpus, files, codec) for _ in range(3)), key=lambda r: r[0])
    ref, messages = min((timed(mido_parse, files) for _ in range(3)), key=lambda r: r[0])
    return [
        f"encode {len(files)} bundled MIDI files -> {ids:,} ids: {ours:.2f} s (target < 10 s: "
        f"{'met' if ours < 10 else 'MISSED'})",
        f"mido only parsing the same files ({messages:,} messages): {ref:.2f} s",
        f"ratio: tunesmith's whole encoding takes {ours / ref:.2f}x the time of mido's bare parse",
    ]


def sounding(piece: MidiPiece) -> list[int]:
    """Notes sounding at each step of the piece."""
    grid = [0] * piece.end
    for n in piece.notes:
        for k in range(n.start, n.start + n.duration):
            grid[k] += 1
    return grid


def hanging(data: bytes) -> int:
    """Notes a MIDI file switches on and never off (read with mido)."""
    on: Counter = Counter()
    for msg in mido.merge_tracks(mido.MidiFile(file=io.BytesIO(data)).tracks):
        if msg.type == "note_on" and msg.velocity > 0:
            on[(msg.channel, msg.note)] += 1
        elif msg.type in ("note_on", "note_off") and on[(msg.channel, msg.note)] > 0:
            on[(msg.channel, msg.note)] -= 1
    return sum(on.values())


def describe(pieces: list[MidiPiece]) -> dict:
    """Histograms and counts of a set of pieces."""
    pitch = Counter(PITCH_CLASSES[n.pitch % 12] for p in pieces for n in p.notes)
    length = Counter(LENGTHS.get(n.duration, "other") for p in pieces for n in p.notes)
    rests = chords = 0
    for p in pieces:
        grid = sounding(p)
        first = p.notes[0].start
        rests += 0 in grid[first:max(n.start + n.duration for n in p.notes)]
        chords += max(grid) >= 2
    return {"pitch": pitch, "length": length, "rests": rests, "chords": chords, "pieces": len(pieces),
            "durations": len({n.duration for p in pieces for n in p.notes}),
            "hanging": sum(hanging(midi_bytes(p)) for p in pieces)}


def share(counter: Counter, keys) -> list[float]:
    total = sum(counter.values()) or 1
    return [counter[k] / total for k in keys]


def tv(a: list[float], b: list[float]) -> float:
    """Total variation distance between two histograms (0 = the same, 1 = disjoint)."""
    return sum(abs(x - y) for x, y in zip(a, b)) / 2


def quality(model: Path, n: int, bars: int) -> list[str]:
    """The model's pieces next to the corpus's, as Markdown lines."""
    from tunesmith.checkpoint import load_checkpoint
    from tunesmith.modes import GenerateRequest
    from tunesmith.modes.midi import MidiOptions
    from tunesmith.modes.midi.writer import generate_pieces

    ckpt = load_checkpoint(model)
    history = ckpt.meta.get("history") or ckpt.meta.get("progress", {}).get("history", [])
    best = min(history, key=lambda r: r["held_out_bits_per_symbol"]) if history else ckpt.meta["metrics"]
    from tunesmith.options import Sampling

    start = time.perf_counter()
    default = describe(generate_pieces(ckpt, GenerateRequest(n=n, seed=1, options=MidiOptions(bars=bars))))
    seconds = time.perf_counter() - start
    full = describe(generate_pieces(ckpt, GenerateRequest(n=n, seed=1, options=MidiOptions(bars=bars),
                                                          sampling=Sampling(top_p=1.0))))
    corpus = describe(list(load_bach()))
    sets = (default, full, corpus)
    lines = [
        f"- held-out: **{best['held_out_bits_per_symbol']:.3f} bits per event** "
        f"({best['held_out_bits_per_symbol'] * 0.6931:.3f} nats), epoch {best['epoch']}",
        f"- `generate -n {n} --bars {bars} --seed 1` took {seconds:.1f} s",
        "",
        f"| | {n} generated (top-p 0.8) | {n} generated (`--top-p 1`, the default) | {corpus['pieces']} corpus pieces |",
        "|---|---:|---:|---:|",
        "| distinct note lengths | " + " | ".join(str(d["durations"]) for d in sets) + " |",
        "| pieces with a rest (a moment with no note, after the first) | "
        + " | ".join(str(d["rests"]) for d in sets) + " |",
        "| pieces with simultaneous notes | " + " | ".join(str(d["chords"]) for d in sets) + " |",
        "| notes never switched off in the MIDI file | " + " | ".join(str(d["hanging"]) for d in sets) + " |",
        "",
    ]
    for title, key, keys in (("pitch class", "pitch", PITCH_CLASSES),
                             ("note length (whole notes; . is dotted)", "length", [*LENGTHS.values(), "other"])):
        g, f, c = (share(d[key], keys) for d in sets)
        lines += [f"{title}: total variation distance to the corpus {tv(g, c):.3f} (top-p 0.8), "
                  f"{tv(f, c):.3f} (top-p 1)", "",
                  f"| {title} | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys),
                  "| generated, top-p 0.8 | " + " | ".join(f"{x:.1%}" for x in g) + " |",
                  "| generated, top-p 1 | " + " | ".join(f"{x:.1%}" for x in f) + " |",
                  "| corpus | " + " | ".join(f"{x:.1%}" for x in c) + " |", ""]
    return lines


def fix_card(card: Path, lines: list[str]) -> None:
    """Add the quality section to the model card."""
    text = card.read_text()
    card.write_text(text.rstrip("\n") + "\n\n## Generated pieces next to the corpus\n\n" + "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "models" / "midi")
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--card", action="store_true", help="append the quality section to the model's card")
    args = parser.parse_args()
    print("\n".join(speed()))
    if (args.model / "config.json").exists() or (args.model / "best" / "config.json").exists():
        lines = quality(args.model, args.n, args.bars)
        print("\n".join(lines))
        if args.card:
            fix_card(args.model / "MODEL_CARD.md", lines)
    else:
        print(f"no model at {args.model}: quality skipped")


if __name__ == "__main__":
    main()
