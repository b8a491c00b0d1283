"""abc2midi (Debian package `abcmidi`) as an independent judge of ABC tunes.

abc2midi always exits 0, so its verdict is read from what it prints. A tune
passes when abc2midi reports no *error* about its music (notes, chords, ties,
bars, tuplets, repeats); errors about chord-symbol names and header fields
are set aside, as are warnings and the errors of abc2midi's own swing of
R:hornpipe tunes (see `judge`). Bar-length complaints are warnings in
abc2midi and are counted separately.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

# Errors that are not about the music itself: chord-symbol names, header
# fields (abc2midi checks R:hornpipe against M:, for one).
SET_ASIDE = re.compile(r"guitar chord|chord name|chordname|header|field|hornpipe must be", re.IGNORECASE)
BAR_LENGTH = re.compile(r"Bar \d+ has .* time units")
BAR_POSITION = re.compile(r"line-char (\d+)-(\d+) : Track \d+ Bar \d+ has .* time units")


@dataclass(frozen=True)
class Verdict:
    """What abc2midi said about one tune."""

    errors: tuple[str, ...]         # errors about the music
    set_aside: tuple[str, ...]      # errors about chord names or header fields
    bar_warnings: tuple[str, ...]   # bars whose length differs from the meter

    @property
    def ok(self) -> bool:
        """No error about notes, ties, bars or tuplets."""
        return not self.errors


def available() -> bool:
    """Whether abc2midi is installed."""
    return shutil.which("abc2midi") is not None


def _run(tune: str, timeout: float) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tune.abc"
        path.write_text(tune)
        run = subprocess.run(["abc2midi", str(path), "-o", str(Path(tmp) / "tune.mid")],
                             capture_output=True, text=True, timeout=timeout, errors="replace")
    return run.stdout + run.stderr


def judge(tune: str, timeout: float = 20.0) -> Verdict:
    """Run abc2midi on one tune and sort what it printed.

    abc2midi swings an `R:hornpipe` tune by itself (it reads pairs of notes
    as broken rhythm) and reports an error where a written `>` or a dotted
    note meets its pairs; those errors come from the R: field alone, so
    where the same tune without its R: line has none, they are set aside.
    """
    verdict = _sorted(_run(tune, timeout))
    if verdict.errors and all(HORNPIPE_SWING in e for e in verdict.errors) and HORNPIPE.search(tune):
        plain = _sorted(_run(HORNPIPE.sub("", tune, count=1), timeout))
        if not plain.errors:
            return Verdict((), verdict.set_aside + verdict.errors, verdict.bar_warnings)
    return verdict


# abc2midi's own swing of R:hornpipe tunes (see judge).
HORNPIPE = re.compile(r"^R:\s*hornpipe\s*\n", re.IGNORECASE | re.MULTILINE)
HORNPIPE_SWING = "Cannot apply broken rhythm"


def _sorted(output: str) -> Verdict:
    errors, aside, bars = [], [], []
    for line in output.splitlines():
        if line.startswith("Error"):
            (aside if SET_ASIDE.search(line) else errors).append(line)
        elif line.startswith("Warning") and BAR_LENGTH.search(line) and "in repeat" not in line:
            bars.append(line)
    return Verdict(tuple(errors), tuple(aside), tuple(bars))


def wrong_bar_positions(tune: str, timeout: float = 20.0) -> set[tuple[int, int]]:
    """(line, 1-based column) of the bar lines closing bars abc2midi finds of the wrong length.

    Every pass of a repeat counts ("in repeat" included): abc2midi checks
    bars in the order they are played.
    """
    return {(int(line), int(col) + 1) for line, col in BAR_POSITION.findall(_run(tune, timeout))}


def pass_rate(tunes: list[str]) -> tuple[float, float]:
    """(share of tunes without music errors, share also without bar-length warnings)."""
    verdicts = [judge(t) for t in tunes]
    ok = sum(v.ok for v in verdicts)
    clean = sum(v.ok and not v.bar_warnings for v in verdicts)
    return ok / len(tunes), clean / len(tunes)


def melody(tune: str, timeout: float = 30.0) -> list[int]:
    """abc2midi's melody of a tune: the pitch of every note-on of MIDI channel 1, in order (chords from
    chord symbols play on other channels)."""
    import mido

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tune.abc"
        path.write_text(tune)
        subprocess.run(["abc2midi", str(path), "-o", str(Path(tmp) / "tune.mid")], capture_output=True,
                       timeout=timeout)
        midi = mido.MidiFile(str(Path(tmp) / "tune.mid"))
    return [m.note for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0 and m.channel == 0]


def _without_decorations(tune: str) -> str:
    """The tune with its decorations left out: abc2midi plays a trill, a roll, a turn, a mordent as several
    notes, where tunesmith plays the written note (the score draws the ornament)."""
    from ..music.abc.lexer import tokens

    return "".join(t.text for t in tokens(tune) if t.kind != "decoration")


def note_onsets(tune: str, timeout: float = 30.0) -> list[tuple[Fraction, int]]:
    """(onset in whole notes from the first note, MIDI pitch) of every note abc2midi plays, of every track
    (every voice), sorted: the timing judge for `to_events.tune_parts`.

    abc2midi runs with -NGRA (grace notes take no time in tunesmith), -NFER (it holds a fermata longer;
    tunesmith does not) and -NGUI (chord symbols are the accompaniment, not the melody), decorations
    left out of its text (`_without_decorations`), and an `R:hornpipe` line too (abc2midi swings such a tune by itself, see `judge`).
    """
    import mido

    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "tune.abc", Path(tmp) / "tune.mid"
        path.write_text(HORNPIPE.sub("", _without_decorations(tune), count=1))
        subprocess.run(["abc2midi", str(path), "-NGRA", "-NFER", "-NGUI", "-o", str(out)], capture_output=True,
                       timeout=timeout)
        if not out.exists():
            return []  # abc2midi found no music to write
        midi = mido.MidiFile(str(out))
    found = []
    for track in midi.tracks:
        now = 0
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity > 0:
                found.append((now, message.note))
    first = min((t for t, _ in found), default=0)
    return sorted((Fraction(t - first, 4 * midi.ticks_per_beat), pitch) for t, pitch in found)
