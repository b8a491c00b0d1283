"""The harmoniser (music/abc/harmonise.py) judged over a whole corpus and against chords people wrote.

    PYTHONPATH=src python benchmarks/harmonise_judge.py [--corpus folk] [--abc2midi-every 10] [--chorded PATH ...]

Over the corpus: how many tunes get chords (and why the others do not),
chords per bar, half-bar changes, the chords most written; that `check`
finds the same problems and our reader the same melody in every copy;
abc2midi's melody (first channel) of every N-th copy is the original's and it
reports no new kind of error (the count may grow: abc2midi repeats an error
about a tune's repeats once per MIDI track, and the chords add two tracks). How well the chords fit: the share of the
melody's time (our reader's events) that is a tone of the chord sounding
under it, for the copies and for tunes whose chords people wrote
(`--chorded`, by default music21's `nottingham-dataset` and abc2midi's
examples); and how often the harmoniser, given those tunes without their
chords, picks the chord their transcriber wrote (the same pitch classes
sounding, weighted by melody time).
"""

from __future__ import annotations

import argparse
import bisect
import os
import re
import time
from collections import Counter
from pathlib import Path

from heldout_by_collection import ABC2MIDI_EXAMPLES, chorded_tunes  # benchmarks/heldout_by_collection.py
from machine import cpu_name  # benchmarks/machine.py
from tunesmith.corpus.bundled import music21_corpus_dir
from tunesmith.corpus.load import load_corpus
from tunesmith.insight import abc2midi
from tunesmith.music.abc.check import check_tune
from tunesmith.music.abc.harmonise import NotHarmonisable, chord_symbol_spans, harmonise, without_chord_symbols
from tunesmith.music.abc.lexer import tokens
from tunesmith.music.abc.to_events import TuneParts, tune_parts
from tunesmith.music.chords import parse_chord


class Accompaniment:
    """The chords an accompaniment sounds, to look up by time: (start, end, pitch classes), in order."""

    def __init__(self, parts: TuneParts):
        spans: dict[tuple, set[int]] = {}
        for e in parts.accompaniment:
            spans.setdefault((e.start, e.start + e.duration), set()).add(e.pitch % 12)
        self.spans = sorted((start, end, frozenset(pcs)) for (start, end), pcs in spans.items())
        self.starts = [span[0] for span in self.spans]

    def at(self, time) -> frozenset[int]:
        """Pitch classes sounding at a time (empty where no chord does)."""
        i = bisect.bisect_right(self.starts, time) - 1
        return self.spans[i][2] if i >= 0 and time < self.spans[i][1] else frozenset()


def on_chord(parts: TuneParts) -> tuple[float, float]:
    """(melody time on a chord tone, melody time under a chord), in whole notes."""
    chords = Accompaniment(parts)
    hit = total = 0.0
    for note in parts.melody:
        under = chords.at(note.start)
        if under:
            total += float(note.duration)
            hit += float(note.duration) * (note.pitch % 12 in under)
    return hit, total


def agreement(theirs: TuneParts, ours: TuneParts) -> tuple[float, float]:
    """(melody time where both sound the same chord, melody time where both sound one)."""
    a_chords, b_chords = Accompaniment(theirs), Accompaniment(ours)
    same = total = 0.0
    for note in theirs.melody:
        a, b = a_chords.at(note.start), b_chords.at(note.start)
        if a and b:
            total += float(note.duration)
            same += float(note.duration) * (a == b)
    return same, total


def chords_per_bar(text: str) -> list[int]:
    """How many chord symbols each bar of a tune's body has (bars as the bar lines cut them)."""
    counts = [0]
    for tok in tokens(text.split("\nK:", 1)[1]):
        if tok.kind == "bar":
            counts.append(0)
        elif tok.kind == "chord_symbol" and parse_chord(tok.text) is not None:
            counts[-1] += 1
    return counts


def judge_corpus(name: str, every: int) -> None:
    tunes = load_corpus([name], None, "abc").tunes
    refused, names = Counter(), Counter()
    copies, chords, bars, splits, wrong, hit, total = [], 0, 0, 0, [], 0.0, 0.0
    cpu = 0.0
    for tune in tunes:
        started = time.process_time()
        try:
            text = harmonise(tune.text)
        except NotHarmonisable as why:
            refused[why.reason] += 1
            continue
        finally:
            cpu += time.process_time() - started
        copies.append((tune, text))
        names.update(text[start + 1:end - 1] for start, end in chord_symbol_spans(text))
        counts = chords_per_bar(text)
        chords, bars, splits = chords + sum(counts), bars + sum(n > 0 for n in counts), splits + sum(n > 1 for n in counts)
        if [p.message for p in check_tune(text)] != [p.message for p in check_tune(tune.text)]:
            wrong.append((tune.number, "check"))
        before, after = tune_parts(tune.text), tune_parts(text)
        if after.melody != before.melody:
            wrong.append((tune.number, "melody"))
        h, t = on_chord(after)
        hit, total = hit + h, total + t
    print(f"{name}: {len(tunes)} tunes, {len(copies)} harmonised ({cpu:.1f} CPU s), refused: "
          f"{', '.join(f'{n} {why}' for why, n in refused.most_common()) or 'none'}")
    print(f"  {chords:,} chord symbols in {bars:,} bars; {splits:,} bars change chord at the half "
          f"({splits / max(bars, 1):.1%}); most written: {', '.join(f'{c} {n:,}' for c, n in names.most_common(12))}")
    print(f"  check and our reader's melody unchanged: {len(copies) - len(wrong)} of {len(copies)} {wrong[:5]}")
    print(f"  melody time on a chord tone: {hit / total:.1%}")
    if abc2midi.available():
        judged = copies[::every]
        # Kinds, not counts: abc2midi repeats an error about the repeats once per track, and chords add two.
        kinds = lambda v: {re.sub(r"line-char \d+-\d+ : ", "", e) for e in v.errors}  # noqa: E731
        failed = [t.number for t, text in judged if abc2midi.melody(text) != abc2midi.melody(t.text)
                  or kinds(abc2midi.judge(text)) != kinds(abc2midi.judge(t.text))]
        print(f"  abc2midi, every {every}th copy: {len(judged) - len(failed)} of {len(judged)} with the original's "
              f"melody and no new kind of error {failed[:5]}")


def judge_against(paths: list[Path]) -> None:
    tunes = chorded_tunes(paths)
    own_hit = own_total = ours_hit = ours_total = same = both = 0.0
    print(f"chords people wrote: {len(tunes)} tunes from {', '.join(str(p) for p in paths if p.exists())}")
    for text in tunes:
        theirs = tune_parts(text)
        h, t = on_chord(theirs)
        own_hit, own_total = own_hit + h, own_total + t
        title = text.split("\n")[1][2:]
        try:
            ours = tune_parts(harmonise(without_chord_symbols(text)))
        except NotHarmonisable as why:
            print(f"  {title}: theirs {h / t:.1%} on a chord tone; not harmonised ({why})")
            continue
        h2, t2 = on_chord(ours)
        s, b = agreement(theirs, ours)
        ours_hit, ours_total, same, both = ours_hit + h2, ours_total + t2, same + s, both + b
        print(f"  {title}: on a chord tone, theirs {h / t:.1%}, ours {h2 / t2:.1%}; the same chord {s / b:.1%}")
    print(f"  all: on a chord tone, theirs {own_hit / own_total:.1%}, ours {ours_hit / ours_total:.1%}; "
          f"the same chord as the transcriber {same / both:.1%} of the melody's time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="folk")
    parser.add_argument("--abc2midi-every", type=int, default=10, help="judge every N-th copy with abc2midi")
    parser.add_argument("--chorded", action="append", type=Path)
    args = parser.parse_args()
    print(f"{cpu_name()}, {os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.1f}")
    judge_corpus(args.corpus, args.abc2midi_every)
    judge_against(args.chorded or [music21_corpus_dir() / "nottingham-dataset", ABC2MIDI_EXAMPLES])


if __name__ == "__main__":
    main()
