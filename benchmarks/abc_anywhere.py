"""ABC from anywhere, measured on real tunebooks: the raw ABC files behind the bundled corpora.

    python benchmarks/abc_anywhere.py

Every tune of the ABC files of music21's corpus (O'Neill's, Ryan's, Aird's, the fife and minstrelsy books,
and the other ABC files there) that uses something the models never write: several voices (`V:`), parts
(`P:`), lyrics (`w:`), `%%` directives, inline fields (`[K:]` `[M:]` `[L:]` `[Q:]` `[P:]`), a `&`. For each:
what `support.unplayable` refuses (by kind), and for the rest, whether every note's onset and pitch equal
abc2midi's (`abc2midi.note_onsets`): for the whole tune; else voice by voice (abc2midi's reading of
interleaved voices drops notes of repeats that it plays for each voice alone); else part by part (its
reading of a P: order whose parts have repeats of their own differs from its reading of each part alone).
For tunes of several voices: whether the score has a staff per voice. The tunes that still differ are listed.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from pathlib import Path

from machine import cpu_name

from tunesmith.corpus.bundled import music21_corpus_dir
from tunesmith.insight.abc2midi import available, note_onsets
from tunesmith.music.abc.check import tune_blocks
from tunesmith.music.abc.lexer import tokens
from tunesmith.music.abc.support import ignored, unplayable
from tunesmith.music.abc.to_events import part_marker, tune_parts
from tunesmith.music.abc.voices import has_voices, split_voices

FEATURES = {
    "voices": has_voices,
    "parts": lambda t: re.search(r"^P:|\[P:", t, re.M) is not None,
    "lyrics": lambda t: re.search(r"^[wW]:", t, re.M) is not None,
    "directives": lambda t: re.search(r"^%%", t, re.M) is not None,
    "inline fields": lambda t: re.search(r"\[[KMLQ]:", t) is not None,
    "&": lambda t: "&" in t,
}


def agrees(text: str) -> bool:
    """Our note onsets and pitches (from the first note) equal abc2midi's."""
    events = tune_parts(text).melody
    if not events:
        return True
    first = min(e.start for e in events)
    return sorted((e.start - first, e.pitch) for e in events) == note_onsets(text)


def voice_texts(text: str) -> list[str]:
    return [v.text for v in split_voices(text) if v.has_music] or [text]


def part_texts(text: str) -> list[str]:
    """Each part of a tune alone: the header without its P: line, then the part's own music."""
    lines = text.split("\n")
    key_at = next((i for i, line in enumerate(lines) if line.startswith("K:")), len(lines) - 1)
    header = "\n".join(line for line in lines[:key_at + 1] if not line.startswith("P:")) + "\n"
    parts: list[list[str]] = [[]]
    for tok in tokens("\n".join(lines[key_at + 1:])):
        if part_marker(tok) is not None:
            parts.append([])
        parts[-1].append(tok.text)
    return [header + "".join(p).strip("\n") + "\n" for p in parts if re.search(r"[A-Ga-g]", "".join(p))]


def main() -> None:
    if not available():
        raise SystemExit("abc2midi is not installed (Debian package abcmidi; `make tools`)")
    started = time.perf_counter()
    files = sorted(Path(music21_corpus_dir()).glob("*/*.abc"))
    chosen, features = [], Counter()
    for path in files:
        for line, text in tune_blocks(path.read_text(encoding="latin-1")):
            found = [name for name, has in FEATURES.items() if has(text)]
            if found and re.search(r"^K:", text, re.M):
                chosen.append((path, line, text, found))
                features.update(found)
    refused, warned, verdicts, staves, differ = Counter(), Counter(), Counter(), Counter(), []
    for path, line, text, found in chosen:
        problems = unplayable(text)
        warned.update(w.message.split(":")[0] for w in ignored(text))
        if problems:
            refused.update({p.message.split(" ")[0].split(":")[0] for p in problems})
            continue
        if not tune_parts(text).melody:
            verdicts["no notes"] += 1
            continue
        voices = voice_texts(text)
        if agrees(text):
            verdict = "whole tune"
        elif all(agrees(v) for v in voices):
            verdict = "voice by voice"
        elif all(agrees(p) for v in voices for p in part_texts(v)):
            verdict = "part by part"
        else:
            verdict = "differs"
            differ.append(f"{path.parent.name}/{path.name}:{line} ({', '.join(found)})")
        verdicts[verdict] += 1
        if len(voices) > 1:
            from tunesmith.render.sheet import render_svg

            svg = render_svg(text)
            per_measure = len(re.findall(r'class="staff\b', svg)) / max(1, len(re.findall(r'class="measure\b', svg)))
            staves["a staff per voice" if per_measure == len(voices) else f"{per_measure:g} for {len(voices)}"] += 1
    seconds = time.perf_counter() - started
    print(f"{len(chosen)} tunes of {len(files)} files use: " + ", ".join(f"{k} {v}" for k, v in features.items()))
    print(f"refused for sound: {sum(refused.values())} things: " + ", ".join(f"{k} {v}" for k, v in refused.items()))
    print("warnings: " + ", ".join(f"{k} {v}" for k, v in warned.items()))
    print("onsets and pitches equal abc2midi's: " + ", ".join(f"{k} {v}" for k, v in verdicts.items()))
    print("scores of several voices: " + ", ".join(f"{k} {v}" for k, v in staves.items()))
    print(f"{seconds:.0f} s on {cpu_name()}")
    for name in differ:
        print("differs:", name)


if __name__ == "__main__":
    sys.exit(main())
