"""How often `tunesmith check` and abc2midi agree on which bars have the wrong length.

    python benchmarks/check_agreement.py

Over every tune of the bundled `folk` corpus: for each bar with a meter, is
it wrong by our checker, and does abc2midi warn at its closing bar line?
"""

from __future__ import annotations

from tunesmith.corpus.bundled import load_bundled
from tunesmith.insight.abc2midi import available, wrong_bar_positions
from tunesmith.music.abc.bars import read_bars, wrong_length_bars


def main() -> None:
    if not available():
        raise SystemExit("abc2midi is not installed (Debian package abcmidi; `make tools`)")
    agree = total = only_ours = only_theirs = 0
    for tune in load_bundled("folk"):
        bars = read_bars(tune.text)
        ours = {(b.line, b.col) for b, _ in wrong_length_bars(bars)}
        theirs = wrong_bar_positions(tune.text)
        for bar in bars:
            if bar.expected is None:
                continue
            here = (bar.line, bar.col)
            total += 1
            agree += (here in ours) == (here in theirs)
            only_ours += here in ours and here not in theirs
            only_theirs += here in theirs and here not in ours
    print(f"bars checked: {total}; agreement with abc2midi {agree / total:.2%} "
          f"(only we flag {only_ours}, only abc2midi flags {only_theirs})")


if __name__ == "__main__":
    main()
