"""How tunesmith's reader plays repeats, against an older revision's reader and abc2midi.

    python benchmarks/repeat_reading.py [--old 5d4a948] [--sample 60] [--seed 5]

Counts the `folk` tunes whose notes (`to_events.tune_parts`) differ between
the working tree and the reader of revision `--old`; then, for a seeded sample
of those tunes (tunes with chords left out: abc2midi's order of a chord's
notes is its own), with grace notes removed (abc2midi plays them, tunesmith
does not), how many play the same pitches as abc2midi under each reader.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tunesmith.corpus.bundled import load_bundled
from tunesmith.insight.abc2midi import available, melody
from tunesmith.music.abc import to_events as new

ROOT = Path(__file__).resolve().parents[1]


def old_reader(revision: str):
    """`to_events` as it was at `revision`, imported from a temporary file."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:src/tunesmith/music/abc/to_events.py"],
                            capture_output=True, text=True, check=True).stdout
    source = re.sub(r"^from \.\.(\w)", r"from tunesmith.music.\1", source, flags=re.M)
    source = re.sub(r"^from \.(\w)", r"from tunesmith.music.abc.\1", source, flags=re.M)
    path = Path(tempfile.mkdtemp()) / "old_to_events.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_to_events", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_to_events"] = module
    spec.loader.exec_module(module)
    return module


def pitches(reader, text: str) -> list[int]:
    return [e.pitch for e in sorted(reader.tune_parts(text).melody, key=lambda e: (e.start, e.pitch))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="5d4a948", help="the revision whose reader to compare with")
    parser.add_argument("--sample", type=int, default=60)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    if not available():
        raise SystemExit("abc2midi is not installed (Debian package abcmidi; `make tools`)")
    old = old_reader(args.old)
    tunes = load_bundled("folk")
    changed = [t for t in tunes if old.tune_parts(t.text).melody != new.tune_parts(t.text).melody]
    print(f"{len(changed)} of {len(tunes)} folk tunes play differently than at {args.old}")
    random.Random(args.seed).shuffle(changed)
    compared = agree_new = agree_old = 0
    for tune in changed[:args.sample]:
        if "[" in tune.body.replace("[1", "").replace("[2", ""):
            continue
        text = re.sub(r"\{[^}]*\}", "", tune.text)
        reference = melody(text)
        compared += 1
        agree_new += pitches(new, text) == reference
        agree_old += pitches(old, text) == reference
    print(f"of {compared} of them (seed {args.seed}, no chords, grace notes removed), abc2midi plays the same "
          f"pitches as this reader on {agree_new}, as the reader of {args.old} on {agree_old}")


if __name__ == "__main__":
    main()
