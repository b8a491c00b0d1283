"""Data augmentation: training tunes again in the other keys the tradition plays in, and with chord symbols.

Only the *training* split grows; the held-out split is never touched, so
held-out bits per symbol stay comparable between runs with and without it.

Transposition (`tunesmith train --transpose POLICY`) comes first, then
harmonised copies (`--chords add`, at the end of this module) of the
training tunes and of their transposed copies.

Policies (`tunesmith train --transpose POLICY`):

- `none`: no copies (the default).
- `common`: each tune again in the other common keys of its mode, read from
  the training tunes' own key distribution: the three most frequent tonics
  of each mode (major, minor, dorian, mixolydian, ...; a tonic needs at
  least `MIN_TUNES` tunes). In the folk corpus that is G, D and A for major
  tunes, E, A and G for minor ones, A, E and G dorian, A, D and G
  mixolydian: a reel in D comes back in G and A.
- `all12`: each tune in all eleven other keys.

A copy moves by the smaller interval to its key (up to a fourth up or a
fifth down, or the other way when that one leaves the playable range) and
is kept when

- its K: is a key (`K:Hp`, `K:none`, explicit accidentals are not moved),
- `tunesmith check` finds nothing in it,
- its notes stay in the corpus's playable range: from the 1st percentile of
  the training tunes' lowest notes to the 99th percentile of their highest,
- it is not a tune already there (in either split) or a held-out tune's
  music under another title.

Everything is a function of the training tunes and the policy, so a resumed
run rebuilds the same copies (`augmented_hash` in the record checks it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from ..errors import TunesmithError
from ..music.abc.check import check_tune
from ..music.abc.harmonise import NotHarmonisable, harmonise
from ..music.abc.to_events import tune_events
from ..music.abc.transpose import NotTransposable, mode_family, parse_key, transpose_tune
from ..music.abc.tunes import Tune
from .bundled import corpus_hash

POLICIES = ("none", "common", "all12")
CHORD_POLICIES = ("none", "add")
COMMON_TONICS = 3      # keys per mode under `common`
MIN_TUNES = 2          # a tonic with fewer training tunes in a mode is not common
RANGE_PERCENTILE = 1   # the playable range leaves out this percent of tunes at each end
_BASE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def check_policy(policy: str) -> str:
    """The policy name, or a clear error."""
    if policy not in POLICIES:
        raise TunesmithError(f"--transpose {policy}: choose one of {', '.join(POLICIES)}")
    return policy


def tune_key(tune: Tune) -> tuple[str, int, str] | None:
    """(mode family, tonic pitch class, tonic as written) of a tune's header key; None when not a key."""
    parsed = parse_key(tune.key)
    if parsed is None:
        return None
    letter, accidental, _, mode = parsed
    return mode_family(mode), (_BASE[letter] + {"#": 1, "b": -1, "": 0}[accidental]) % 12, letter + accidental


def common_keys(tunes: list[Tune]) -> dict[str, list[tuple[int, str]]]:
    """Per mode family, its most frequent tonics in these tunes: (pitch class, name as most often written)."""
    counts: Counter = Counter()
    names: dict[tuple[str, int], Counter] = {}
    for tune in tunes:
        key = tune_key(tune)
        if key is not None:
            counts[key[:2]] += 1
            names.setdefault(key[:2], Counter())[key[2]] += 1
    out: dict[str, list[tuple[int, str]]] = {}
    # Most frequent first; ties by pitch class, so the choice never depends on the tunes' order.
    for (family, pc), n in sorted(counts.items(), key=lambda item: (-item[1], item[0][0], item[0][1])):
        chosen = out.setdefault(family, [])
        if n >= MIN_TUNES and len(chosen) < COMMON_TONICS:
            chosen.append((pc, min(names[(family, pc)].items(), key=lambda x: (-x[1], x[0]))[0]))
    return {family: chosen for family, chosen in sorted(out.items()) if chosen}


def _percentile(values: list[int], percent: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(percent / 100 * (len(ordered) - 1))))]


def augment(train: list[Tune], held_out: list[Tune], policy: str) -> tuple[list[Tune], dict | None]:
    """(transposed copies of training tunes, the record of what was added and dropped); ([], None) for `none`."""
    check_policy(policy)
    if policy == "none":
        return [], None
    ranges: dict[int, tuple[int, int]] = {}
    for i, tune in enumerate(train):
        pitches = [e.pitch for e in tune_events(tune.text)]
        if pitches:
            ranges[i] = (min(pitches), max(pitches))
    low = _percentile([r[0] for r in ranges.values()], RANGE_PERCENTILE) if ranges else 0
    high = _percentile([r[1] for r in ranges.values()], 100 - RANGE_PERCENTILE) if ranges else 127
    keys = common_keys(train)
    seen = {t.text_without_number for t in train + held_out}
    held_bodies = {t.body for t in held_out}
    copies: list[Tune] = []
    dropped = Counter()
    sources = 0
    for i, tune in enumerate(train):
        key = tune_key(tune)
        if key is None or i not in ranges:
            dropped["not_transposable"] += 1
            continue
        family, pc, _ = key
        targets = [t for t, _ in keys.get(family, [])] if policy == "common" else list(range(12))
        added = 0
        for target in targets:
            up = (target - pc) % 12
            if up == 0:
                continue
            # The smaller move first (up to +5 or down to -6), the other way when it leaves the range.
            moves = sorted((up, up - 12), key=lambda k: (abs(k), k))
            fits = [k for k in moves if low <= ranges[i][0] + k and ranges[i][1] + k <= high]
            if not fits:
                dropped["range"] += 1
                continue
            try:
                text = transpose_tune(tune.text, fits[0])
            except NotTransposable:  # a key change in the body that is not a key
                dropped["not_transposable"] += 1
                break
            if check_tune(text):
                dropped["check"] += 1
                continue
            head, body = text.split("\n", 1)
            lines = body.split("\n")
            moved = next(line[2:] for line in lines if line.startswith("K:"))
            copy = replace(tune, key=moved, body=text.split(f"\nK:{moved}\n", 1)[1].rstrip("\n"))
            if copy.text != text:  # the canonical form read back must be the text written
                dropped["check"] += 1
                continue
            if copy.text_without_number in seen or copy.body in held_bodies:
                dropped["duplicate"] += 1
                continue
            seen.add(copy.text_without_number)
            copies.append(copy)
            added += 1
        sources += added > 0
    record = {
        "policy": policy,
        "keys": {family: [name for _, name in chosen] for family, chosen in keys.items()} if policy == "common" else "all",
        "range": [low, high],
        "added": len(copies),
        "from_tunes": sources,
        "dropped": dict(sorted(dropped.items())),
        "augmented_hash": corpus_hash(copies),
    }
    return copies, record


def _dropped_words(record: dict) -> str:
    """What a copy policy left out, in words: "1407 check, 321 range" (or "none")."""
    return ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in record["dropped"].items()) or "none"


def describe(record: dict | None) -> str:
    """One line for the run's output."""
    if record is None:
        return "no transposed copies"
    dropped = _dropped_words(record)
    keys = record["keys"] if isinstance(record["keys"], str) else "; ".join(
        f"{family} {' '.join(names)}" for family, names in record["keys"].items())
    return (f"--transpose {record['policy']}: +{record['added']} transposed copies of {record['from_tunes']} "
            f"training tunes (keys: {keys}; range MIDI {record['range'][0]}-{record['range'][1]}; dropped: {dropped})")


# -- harmonised copies (`--chords`) ---------------------------------------------------------------------

def check_chords_policy(policy: str) -> str:
    """The --chords policy, or a clear error."""
    if policy not in CHORD_POLICIES:
        raise TunesmithError(f"--chords {policy}: choose one of {', '.join(CHORD_POLICIES)}")
    return policy


def harmonised_copies(tunes: list[Tune], held_out: list[Tune], policy: str) -> tuple[list[Tune], dict | None]:
    """(a copy with chord symbols of each tune that has none, the record of what was added and dropped).

    `tunes` are what the model trains on (the training tunes and their
    transposed copies); ([], None) for `none`. The chords are written by
    `music/abc/harmonise.py`; a copy is kept when `tunesmith check` finds
    nothing in it, its canonical form reads back as written, and it is not a
    tune already there. Tunes with chord symbols of their own stay as they are.
    """
    check_chords_policy(policy)
    if policy == "none":
        return [], None
    seen = {t.text_without_number for t in tunes + held_out}
    copies: list[Tune] = []
    dropped = Counter()
    symbols = 0
    for tune in tunes:
        try:
            text = harmonise(tune.text)
        except NotHarmonisable as refused:
            dropped[refused.reason] += 1
            continue
        copy = replace(tune, body=text.split(f"\nK:{tune.key}\n", 1)[1].rstrip("\n"))
        if check_tune(text) or copy.text != text:
            dropped["check"] += 1
            continue
        if copy.text_without_number in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(copy.text_without_number)
        copies.append(copy)
        symbols += text.count('"') - tune.text.count('"')
    record = {
        "policy": policy,
        "added": len(copies),
        "chord_symbols": symbols // 2,
        "dropped": dict(sorted(dropped.items())),
        "harmonised_hash": corpus_hash(copies),
    }
    return copies, record


def describe_chords(record: dict | None) -> str:
    """One line for the run's output."""
    if record is None:
        return "no harmonised copies"
    dropped = _dropped_words(record)
    return (f"--chords {record['policy']}: +{record['added']} harmonised copies with {record['chord_symbols']:,} "
            f"chord symbols (dropped: {dropped})")
