"""Well-formed ABC, one character at a time: the automaton behind constrained generation.

`feed(state, ch)` says whether a tune body can go on with `ch` and still be
finished as a well-formed tune (prefix feasibility), and returns the state
after it. Well-formed means what `tunesmith check` and abc2midi look for:

- every bar has the meter's length (the first bar may be a short pickup);
  a note, rest or chord is allowed only when it fits in what is left of the
  bar, and a bar line only when the bar is full;
- a broken rhythm (`>`, `<`, `>>`, `<<`) joins two notes of the same
  written length, and the pair's time is reserved when `>` is written;
- a tuplet `(p` takes p notes of the same written length; its time (q
  notes' worth) is reserved at its first note;
- a tie joins a note to the next note of the same spelling;
- chords `[CEG]`, chord symbols `"Am"`, decorations `!x!`, grace notes
  `{g}` are closed, and each is followed by a note;
- repeats: `|:` is not opened twice, a first ending `|1`/`[1` is closed by
  `:|2` or `:| [2`; the tune ends (a blank line) only after a full bar and
  a bar line, with no repeat, ending, tie or tuplet left open.

Note lengths are the written ones folk collections use (`LENGTHS`): all are
multiples of a quarter of the unit note, so what is left of a bar is always
a multiple of that grid and can always be filled. Inside the body only `K:`
and `P:` field lines are allowed (a meter or unit change mid-tune would
change the bar length under the sampler's feet).

The state is a hashable named tuple, so callers can cache one mask per
distinct state: a tune visits few distinct states.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction
from typing import NamedTuple

from .bars import DurationReader
from .tunes import KEY_RE

# Written lengths allowed after a note, rest or chord, in unit notes.
WRITTEN: dict[str, Fraction] = {
    "": Fraction(1), "2": Fraction(2), "3": Fraction(3), "4": Fraction(4), "5": Fraction(5),
    "6": Fraction(6), "7": Fraction(7), "8": Fraction(8), "9": Fraction(9), "12": Fraction(12),
    "16": Fraction(16), "/": Fraction(1, 2), "/2": Fraction(1, 2), "//": Fraction(1, 4),
    "/4": Fraction(1, 4), "3/2": Fraction(3, 2), "3/4": Fraction(3, 4), "5/2": Fraction(5, 2),
    "7/2": Fraction(7, 2),
}
GRID = Fraction(1, 4)
# Time is counted in grid steps (quarter unit notes): small ints hash and add fast.
LENGTHS: dict[str, int] = {w: int(v / GRID) for w, v in WRITTEN.items()}
# The shortest length a written-length prefix can still become (for prefix feasibility).
_SHORTEST_FROM = {w[:i]: min(v for x, v in LENGTHS.items() if x.startswith(w[:i]))
                  for w in LENGTHS for i in range(len(w) + 1)}
_SMALLEST = min(LENGTHS.values())
_BARS = ("|", "||", "|]", "|:", ":|", "::", "[|", "|1", ":|2")
_BAR_PREFIXES = {b[:i] for b in _BARS for i in range(1, len(b) + 1)}
_ACC = "^_="
_NOTE = "ABCDEFGabcdefg"
# Commas lower an upper-case note, apostrophes raise a lower-case one: abc2midi refuses `C'` and `c,`.
_PITCH_RE = re.compile(r"(\^\^|\^|__|_|=)?([A-G],{0,2}|[a-g]'{0,2})")
_NOTE_PREFIX = re.compile(r"(?:\^\^?|__?|=)?(?:[A-G],{0,2}|[a-g]'{0,2})?")
_CHORD_PREFIX = re.compile(r"(?:(?:\^\^?|__?|=)?(?:[A-G],{0,2}|[a-g]'{0,2})){0,4}|(?:(?:\^\^?|__?|=)?(?:[A-G],{0,2}|[a-g]'{0,2})){0,3}(?:\^\^?|__?|=)")
_CHORD_FULL = re.compile(r"(?:(?:\^\^?|__?|=)?(?:[A-G],{0,2}|[a-g]'{0,2})){1,4}")
_QUOTE_MAX, _DECO_MAX, _GRACE_MAX = 10, 12, 12
_KEYS = {
    f"{tonic}{acc}{mode}"
    for tonic in "ABCDEFG" for acc in ("", "#", "b")
    for mode in ("", "m", "maj", "min", "mix", "dor", "phr", "lyd", "loc", "aeo", "ion")
}
_KEY_PREFIXES = {k[:i] for k in _KEYS for i in range(len(k) + 1)}
# The header values the model may write itself (forced ones from --meter etc. are the user's).
HEADER_VALUES = {
    "K": frozenset(_KEYS),
    "M": frozenset({"2/4", "3/4", "4/4", "6/8", "9/8", "12/8", "3/8", "2/2", "C", "C|", "3/2", "6/4", "5/4",
                    "7/8", "5/8"}),
    "L": frozenset({"1/4", "1/8", "1/16"}),
}
HEADER_PREFIXES = {field: {v[:i] for v in values for i in range(len(v) + 1)} for field, values in HEADER_VALUES.items()}
_PART_RE = re.compile(r"[A-Za-z0-9]{0,4}")
# q of a tuplet (p: q notes' time) when not written: ABC 2.1's table.
_TUPLET_Q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}


class State(NamedTuple):
    """Where a tune body is; see the module docstring. Hashable, so masks can be cached by it."""

    ctx: str = "body"            # body, note, bracket, chord, chordlen, quote, deco, grace, paren, tuplet, bar, broken, field, cont, end
    tok: str = ""                # the text of the construct being read
    t: int = 0                   # time used in the bar, in grid steps, reservations included
    bar_len: int | None = None   # grid steps
    compound: bool = False       # the meter is compound (6/8, 9/8, 12/8): tuplet q defaults differ
    pickup: bool = True          # no full bar closed yet
    pick: int = 0                # the pickup of the current section (tune start or last `|:`), if short
    sec_t0: int = 0              # time carried into the section's first bar; -1 once that bar is closed
    music: bool = False          # a note or rest has been written
    rep: int = 0                 # 0: no repeat yet, 1: a `|:` is open, 2: closed by `:|`
    volta: int = 0               # 0 none, 1 in a first ending, 2 in a second, 3 waiting for `[2`
    forced: str | None = None    # written length the next note must have (broken rhythm, tuplet)
    prepaid: int = 0             # notes whose time is already reserved
    tup: int = 0                 # q of a tuplet waiting for its first note (0: none)
    tup_notes: int = 0           # p of that tuplet
    tie: str | None = None       # spelling the next note must have
    need: bool = False           # a note, rest or chord must come next
    prev: tuple | None = None    # (kind, written length, spelling) of the element just read
    linestart: bool = False
    after_bar: str = ""          # the bar line just read (only spaces and newlines since)
    twice: bool = False          # that bar line closed an empty bar: it came right after another
    slur: int = 0
    closing: bool = False        # the tune is long: no new repeats or endings, and open ones close
    deco: bool = False           # the next note carries a decoration (`.`, `~`, `!x!`)
    carried: bool = False        # this bar began with the rest of a short bar before a section line
    pair: bool = False           # the next note ends a broken-rhythm pair: a note, not a rest or chord
    sectioned: bool = False      # the writer places repeats and section lines (a form): only `|` is the tune's
    line_rest: bool = False      # the rest being read began a line: `z:` there would make a field line


_FIELD_INDEX = {name: i for i, name in enumerate(State._fields)}


def _replace(self: State, **changes) -> State:
    """State._replace, faster: the automaton makes a new state for nearly every character it reads."""
    values = list(self)
    index = _FIELD_INDEX
    for name in changes:
        values[index[name]] = changes[name]
    return _new(State, values)


_new = tuple.__new__


State._replace = _replace


def initial_state(header: str) -> State:
    """The state at the start of a body whose header is `header` (its M: and L: lines)."""
    reader = DurationReader()
    for line in header.split("\n"):
        if len(line) > 1 and line[1] == ":" and line[0] in "ML":
            reader.field(line[0], line[2:])
    bar_len = None
    if reader.meter is not None and reader.meter > 0:
        steps = reader.meter / reader.unit / GRID
        # An odd meter/unit pair (a bar that is not whole grid steps): bar lengths are not checked.
        bar_len = int(steps) if steps.denominator == 1 else None
    meter = reader.meter
    compound = meter is not None and meter.denominator == 8 and meter.numerator % 3 == 0
    return State(bar_len=bar_len, compound=compound, linestart=True)


def can_end(s: State) -> bool:
    """A tune may end here (at the start of a line): full bars, a bar line, nothing left open."""
    # The last bar may be short when it and the pickup make one bar.
    last_ok = s.t == 0 or (s.pick > 0 and s.bar_len is not None and s.t + s.pick == s.bar_len)
    return (s.ctx == "body" and s.music and not s.pickup and last_ok and s.after_bar and s.rep != 1
            and not s.sectioned
            and s.volta in (0, 2) and s.tie is None and s.forced is None and s.prepaid == 0
            and s.tup == 0 and not s.need)


_LETTER_RE = re.compile(r"[A-Ga-g]")
_LEXER_BAR = re.compile(r"(?::*\[\||:*\|\]|:*\|\|:*|:*\|:*|::+)(?:\d{1,6})?")


def mask_key(s: State) -> State:
    """A state with the same allowed next characters as `s`, with what cannot matter blanked.

    Which note letter is being read (only its case, which picks the octave
    mark) changes nothing about what may follow, unless a tie asks for one
    spelling; nor does the text of a decoration: many states share one mask.
    """
    if s.tie is not None:
        return s
    tok = s.tok
    if s.ctx in ("note", "chord", "grace"):
        tok = _LETTER_RE.sub(lambda m: "c" if m.group().islower() else "C", tok)  # the case picks the octave mark
    elif s.ctx == "deco":
        tok = "x" * len(tok)
    prev = None if s.prev is None else (s.prev[0], s.prev[1], "C", s.prev[3])
    # The section's pickup and where it started only matter for whether the
    # tune may end here, which is whether the pickup completes this bar.
    completes = s.pick and s.bar_len is not None and 0 < s.t and s.t + s.pick == s.bar_len
    return s._replace(tok=tok, prev=prev, pick=s.bar_len - s.t if completes else 0, sec_t0=-1)


def closed(s: State) -> State:
    """`s` closing up (no new repeat or ending, open ones close), where that is still feasible.

    That is between constructs, with no tie waiting for its note (a tie
    crosses only a plain bar line, which closing may forbid); elsewhere `s`.
    """
    if s.closing or s.ctx != "body" or s.tie is not None:
        return s
    return s._replace(closing=True)


def may_end_now(s: State) -> bool:
    """A newline now would end the bar line just written, and a second one the tune."""
    if s.ctx == "bar":
        s = _bar_done(s) if s.tok in _BARS else None
    return s is not None and s.ctx == "body" and can_end(s._replace(linestart=True))


def feed(s: State, ch: str) -> State | None:
    """The state after `ch`, or None when no well-formed tune goes on this way."""
    return _HANDLERS[s.ctx](s, ch)


def reader_of(s: State):
    """`feed` for one state, without the look-up: the mask builder calls it once per symbol."""
    return _HANDLERS[s.ctx]


def feed_text(s: State | None, text: str) -> State | None:
    """Feed every character of `text`; None as soon as one is not allowed."""
    for ch in text:
        if s is None:
            return None
        s = feed(s, ch)
    return s


# -- time ------------------------------------------------------------------
def _room(s: State) -> int | None:
    return None if s.bar_len is None else s.bar_len - s.t


def _fits(s: State, written: str) -> bool:
    """Whether a note of this complete written length may come now."""
    if s.forced is not None:
        return written == s.forced
    room = _room(s)
    if room is None:
        return True
    cost = LENGTHS[written] * (s.tup or 1)
    return cost <= room


def _length_prefix_ok(s: State, prefix: str) -> bool:
    if s.forced is not None:
        return s.forced.startswith(prefix)
    shortest = _SHORTEST_FROM.get(prefix)
    if shortest is None:
        return False
    room = _room(s)
    return room is None or shortest * (s.tup or 1) <= room


def _note_room(s: State) -> bool:
    """Some note could still come in this bar (for constructs that must be followed by one)."""
    if s.forced is not None or s.prepaid:
        return True
    room = _room(s)
    return room is None or _SMALLEST * (s.tup or 1) <= room


def _timed(s: State, kind: str, written: str, spelling: str | None) -> State | None:
    """A note, rest or chord of written length `written` has been read completely."""
    if written not in LENGTHS or not _fits(s, written):
        return None
    if s.tie is not None and (kind != "n" or spelling != s.tie):
        return None
    t, forced, prepaid, tup, tup_notes = s.t, s.forced, s.prepaid, s.tup, s.tup_notes
    if forced is not None:
        prepaid -= 1
        if prepaid == 0:
            forced = None
    elif tup:
        t += LENGTHS[written] * tup
        if tup_notes > 1:
            forced, prepaid = written, tup_notes - 1
        tup = tup_notes = 0
    else:
        t += LENGTHS[written]
    return s._replace(ctx="body", tok="", t=t, forced=forced, prepaid=prepaid, tup=tup, tup_notes=tup_notes,
                      tie=None, need=False, deco=False, pair=False,
                      prev=(kind, written, spelling, s.forced is None and not s.tup and not s.deco), music=True,
                      linestart=False, after_bar="", twice=False, line_rest=False)


# -- handlers: each reads one character in one context ----------------------
def _body(s: State, ch: str) -> State | None:
    if s.volta == 3 and ch not in " \n[":
        return None  # after `:|` closing a first ending, the second one starts: `[2`
    settled = not s.need and s.forced is None and s.tup == 0 and s.prepaid == 0
    if s.closing and (ch in ' \\()"!{~.' or (ch == "\n" and not s.after_bar)):
        return None  # closing up: only notes, rests and bar lines, and a newline after a bar line
    if ch == " ":
        # Spaces at the start of a line keep it blank so far: a newline after them ends the tune.
        return s._replace(prev=None, tok=" " if s.linestart else "")
    indented = bool(s.tok)
    if indented:
        s = s._replace(tok="")
    if ch == "\n":
        if s.linestart:
            return s._replace(ctx="end") if can_end(s) else None
        if not settled or (s.tie is not None and not s.after_bar):
            return None  # a tie goes on to its note, or across a bar line, before a line ends
        return s._replace(prev=None, linestart=True, after_bar=s.after_bar)
    if ch == "\\":
        return s._replace(ctx="cont", prev=None) if settled else None
    if s.linestart and not indented and ch in "KP" and settled and s.t == 0 and s.tie is None:
        return s._replace(ctx="field", tok=ch, prev=None)
    if ch == "z" and s.pair:
        return None
    if ch in _ACC or ch in _NOTE or ch == "z":
        if not _note_room(s) or (s.tie is not None and not s.tie.startswith(ch)):
            return None
        return s._replace(ctx="note", tok=ch, linestart=False, prev=None, after_bar="", twice=False,
                          line_rest=ch == "z" and s.linestart and not indented)
    if ch == "-":
        if s.prev is None or s.prev[0] != "n" or not s.prev[3] or s.tie is not None:
            return None
        tied = s._replace(tie=s.prev[2], prev=None)
        # Only where its note can come: in this bar, or after a plain bar line.
        if _note_room(tied) or _bar_done(tied._replace(ctx="bar", tok="|")) is not None:
            return tied
        return None
    if ch in "<>":
        prev = s.prev
        # Not after the second note of a pair or inside a tuplet: its time is not its own.
        if prev is None or prev[0] != "n" or not prev[3] or s.forced is not None or s.tup or s.prepaid:
            return None  # abc2midi mistimes a broken rhythm with a rest or a chord in it
        room = _room(s)
        if room is not None and LENGTHS[prev[1]] > room:
            return None
        return s._replace(ctx="broken", tok=ch)
    if s.need and ch not in "~.!\"{[(" :
        return None
    if s.tie is not None and ch not in "[|:":
        return None  # abc2midi loses a tie across anything but spaces and bar lines
    # abc2midi mistimes a broken rhythm or tuplet whose notes carry decorations.
    if ch in "~.!" and (s.forced is not None or s.tup):
        return None
    if ch in "~.":
        if not _note_room(s):
            return None
        return s._replace(need=True, deco=True, prev=None, linestart=False, after_bar="", twice=False)
    if ch == "!":
        if not _note_room(s):
            return None
        return s._replace(ctx="deco", tok="", prev=None, linestart=False, after_bar="", twice=False)
    if ch in '"(' and s.deco:
        return None  # abc2midi reads a chord symbol or tuplet after a decoration as a broken note
    if ch == '"':
        if not _note_room(s):
            return None
        return s._replace(ctx="quote", tok="", prev=None, linestart=False, after_bar="", twice=False)
    if ch == "{":
        if s.need:
            return None  # abc2midi wants a note between two groups of grace notes
        if not _note_room(s):
            return None
        return s._replace(ctx="grace", tok="", prev=None, linestart=False, after_bar="", twice=False)
    if ch == "(":
        opened = s._replace(ctx="paren", prev=None, linestart=False)
        # Only where what a slur or tuplet must open on can follow (a note, or a tuplet's digit).
        return opened if any(_paren(opened, c) is not None for c in "C234") else None
    if ch == ")":
        return s._replace(slur=s.slur - 1, linestart=False) if s.slur > 0 else None
    if ch == "[":
        opened = s._replace(ctx="bracket", prev=None, linestart=False)
        return opened if any(_bracket(opened, c) for c in "12|A") else None
    if ch in "|:":
        if not settled or s.volta == 3:
            return None
        opened = s._replace(ctx="bar", tok=ch, prev=None, linestart=False)
        return opened if any(_bar_done(opened._replace(tok=b)) for b in _BARS if b.startswith(ch)) else None
    return None


def _again(s: State, ch: str) -> State | None:
    """Hand `ch` back to the body once the construct before it is complete."""
    return None if s is None else _body(s, ch)


def _note(s: State, ch: str) -> State | None:
    tok = s.tok + ch
    if s.tok == "z" or (s.tok.startswith("z")):
        if ch == ":" and s.line_rest and s.tok == "z":
            return None  # a line starting `z:` is a field line (`B:|` is music, `z:|` is not)
        if ch in "0123456789/":
            return s._replace(tok=tok) if _length_prefix_ok(s, tok[1:]) else None
        return _again(_timed(s, "r", s.tok[1:], None), ch)
    pitch, written, spelled = _split_note(s.tok)
    if not written and ch not in "0123456789/" and _is_note_prefix(tok):
        # Still spelling the pitch (accidentals, letter, octave marks).
        if s.tie is not None and not s.tie.startswith(tok):
            return None
        return s._replace(tok=tok)
    if not spelled:
        return None
    if s.tie is not None and pitch != s.tie:
        return None
    if ch in "0123456789/":
        return s._replace(tok=tok) if _length_prefix_ok(s, written + ch) else None
    return _again(_timed(s, "n", written, pitch), ch)


@functools.lru_cache(maxsize=4096)
def _split_note(tok: str) -> tuple[str, str, bool]:
    """A note read so far: its pitch spelling, its written length, and whether the spelling is a whole pitch."""
    pitch = _NOTE_PREFIX.match(tok).group()
    return pitch, tok[len(pitch):], _PITCH_RE.fullmatch(pitch) is not None


@functools.lru_cache(maxsize=4096)
def _is_note_prefix(tok: str) -> bool:
    return _NOTE_PREFIX.fullmatch(tok) is not None


def _bracket(s: State, ch: str) -> State | None:
    if ch in "12" and s.after_bar:
        if ch == "1" and s.volta == 0 and not s.closing and s.rep != 2:
            return s._replace(ctx="body", volta=1, after_bar="", twice=False)
        if ch == "2" and s.volta == 3:
            return s._replace(ctx="body", volta=2, after_bar="", twice=False)
        return None
    if s.volta == 3:
        return None
    if ch == "|":
        return _bar_done(s._replace(tok="[|"))
    if (ch in _ACC or ch in _NOTE) and s.tie is None and not s.pair and not s.closing and _note_room(s):
        return s._replace(ctx="chord", tok=ch, after_bar="", twice=False)
    return None


def _chord(s: State, ch: str) -> State | None:
    if ch == "]":
        return s._replace(ctx="chordlen", tok="") if _CHORD_FULL.fullmatch(s.tok) else None
    tok = s.tok + ch
    return s._replace(tok=tok) if _CHORD_PREFIX.fullmatch(tok) else None


def _chordlen(s: State, ch: str) -> State | None:
    if ch in "0123456789/":
        tok = s.tok + ch
        return s._replace(tok=tok) if _length_prefix_ok(s, tok) else None
    return _again(_timed(s, "c", s.tok, None), ch)


def _quote(s: State, ch: str) -> State | None:
    # A chord name abc2midi can play, or an annotation: anything else in quotes
    # (`"~"`, `"D.C."`) it reads as broken notes.
    if ch == '"':
        return s._replace(ctx="body", tok="", need=True) if s.tok in _CHORD_NAMES or _annotation(s.tok) else None
    tok = s.tok + ch
    if tok in _CHORD_PREFIXES or (_annotation(tok) and len(tok) <= _QUOTE_MAX):
        return s._replace(tok=tok)
    return None


def _annotation(text: str) -> bool:
    return len(text) >= 2 and text[0] in "^_<>@" and all(c.isalnum() or c in " .,'" for c in text[1:])


_CHORD_NAMES = {
    f"{root}{acc}{kind}{bass}"
    for root in "ABCDEFG" for acc in ("", "#", "b")
    for kind in ("", "m", "7", "m7", "maj7", "dim", "aug", "sus4", "6", "m6", "9")
    for bass in [""] + [f"/{b}{a}" for b in "ABCDEFG" for a in ("", "#", "b")]
}
_CHORD_PREFIXES = {name[:i] for name in _CHORD_NAMES for i in range(1, len(name) + 1)} | {
    c for c in "^_<>@"}


def _deco(s: State, ch: str) -> State | None:
    if ch == "!":
        return s._replace(ctx="body", tok="", need=True, deco=True) if s.tok else None
    if not (ch.isalnum() or ch in "<>()+-.") or len(s.tok) >= _DECO_MAX:
        return None
    return s._replace(tok=s.tok + ch)


def _grace(s: State, ch: str) -> State | None:
    if ch == "}":
        return s._replace(ctx="body", tok="", need=True) if _grace_full(s.tok) else None
    tok = s.tok + ch
    if not _GRACE_PREFIX.fullmatch(tok) or (len(tok) >= _GRACE_MAX and not _grace_full(tok)):
        return None
    return s._replace(tok=tok) if len(tok) <= _GRACE_MAX else None


_GRACE_NOTE = r"(?:\^\^?|__?|=)?(?:[A-G],{0,2}|[a-g]'{0,2})(?:/{1,2}|/?[248])?"
_GRACE_PREFIX = re.compile(rf"(?:{_GRACE_NOTE})*(?:(?:\^\^?|__?|=)?(?:(?:[A-G],{0,2}|[a-g]'{0,2})/?)?)")


def _grace_full(tok: str) -> bool:
    return bool(tok) and re.fullmatch(rf"(?:{_GRACE_NOTE})+", tok) is not None


def _paren(s: State, ch: str) -> State | None:
    if ch in "234":  # the tuplets folk tunes use; abc2midi times rarer ones its own way
        p = int(ch)
        if s.tup or s.forced is not None or s.prepaid or s.tie is not None:
            return None
        q = _TUPLET_Q.get(p, 3 if s.compound else 2)
        room = _room(s)
        if room is not None and _SMALLEST * q > room:
            return None
        return s._replace(ctx="body", tup=q, tup_notes=p, need=True)
    if s.slur >= 2 or ch in "|:\n\\) ":
        # A slur opens on music: in the 4,399 corpus tunes never before a bar line, a line end, a space
        # or its own close (`()`), and never three deep (`(((`).
        return None
    return _body(s._replace(ctx="body", slur=s.slur + 1), ch)


def _broken(s: State, ch: str) -> State | None:
    if ch == s.tok[0] and len(s.tok) < 2:
        return s._replace(tok=s.tok + ch)
    # The pair's time is reserved now: the next note has the same written
    # length, and the two together last twice that length.
    written = s.prev[1]
    reserved = s._replace(ctx="body", tok="", t=s.t + LENGTHS[written], forced=written, prepaid=1,
                          need=True, prev=None, pair=True)
    return _body(reserved, ch)


def _bar(s: State, ch: str) -> State | None:
    tok = s.tok + ch
    if tok in _BAR_PREFIXES and any(_bar_done(s._replace(tok=b)) for b in _BARS if b.startswith(tok)):
        return s._replace(tok=tok)
    if _LEXER_BAR.fullmatch(tok):
        return None  # the lexer (and abc2midi) would read one bar line here, not two
    done = _bar_done(s)
    return None if done is None else _body(done, ch)


def _bar_done(s: State) -> State | None:
    """A complete bar line `s.tok`: the bar must be full; repeats and endings move on."""
    bar = s.tok
    if bar not in _BARS or s.need or s.forced is not None or s.tup or s.prepaid or s.volta == 3:
        return None
    if s.tie is not None and bar != "|":
        return None  # a tie crosses a plain bar line only (none crosses a repeat or section line in the corpus)
    if s.after_bar and s.t > 0 and bar != "|:":
        return None  # right after a bar line that carried a short bar: abc2midi would lose the carry
    empty = s.t == 0 and s.music
    if empty:
        # An empty bar. A bar line right after another (`|` ending a line, `|:`
        # starting the next) reads as one, when abc2midi reads the pair as one;
        # but not a third (a line of nothing but bar lines: none in the corpus).
        if not s.after_bar or s.twice or not (bar == "|" or s.after_bar == "|" or (
                bar == "|:" and s.after_bar in (":|", ":|2", "||", "|]", "[|"))):
            return None
    elif s.bar_len is not None and s.t > s.bar_len:
        return None
    # A short bar is allowed as a pickup, and at a section or repeat line,
    # where the next bar completes it (a pickup's complement): abc2midi and
    # `check` read the two as one bar.
    carry = 0
    if s.bar_len is not None and 0 < s.t < s.bar_len and not s.pickup:
        # Only at a repeat or double bar, and never twice running: abc2midi
        # carries a short bar into the next one there and nowhere else.
        if bar in ("|", "|1", "[|", "|]") or (s.carried and not s.after_bar):
            return None
        carry = s.t
    rep, volta = s.rep, s.volta
    if s.sectioned and (bar != "|" or (not s.carried and 0 < 2 * s.t - (s.bar_len or 0) and s.t < (s.bar_len or 0))):
        return None  # in a form the writer places section lines, and a pickup is at most half a bar
    if s.closing and (bar in ("|:", "::", "|1") or (rep == 1 and bar not in (":|", ":|2"))):
        return None
    if rep == 1 and bar in ("||", "|]", "[|"):
        return None  # a section does not end inside an open repeat: `:|` closes it
    if bar == "|:":
        if rep == 1:
            return None
        rep = 1
    elif bar in (":|", ":|2"):
        rep = 2
    elif bar == "::":
        if volta == 1:
            return None
        rep = 1
    if bar == "|1":
        if volta != 0 or rep == 2:
            return None
        volta = 1
    elif bar == ":|2":
        if volta != 1:
            return None
        volta = 2
    elif bar == ":|" and volta == 1:
        volta = 3
    elif volta == 1 and bar != "|":
        return None
    elif volta == 2 and bar != "|":
        volta = 0
    # The first bar of a section (of the tune, or after `|:`) may be a pickup:
    # the section's last bar may then be short by as much.
    pick, sec_t0 = s.pick, s.sec_t0
    if sec_t0 >= 0 and s.t > 0:
        own = s.t - sec_t0
        pick = own if s.bar_len is not None and 0 < own < s.bar_len else 0
        sec_t0 = -1
    if bar in ("|:", "::"):
        pick, sec_t0 = 0, carry
    return s._replace(ctx="body", tok="", t=carry, pickup=s.pickup and s.t == 0, pick=pick, sec_t0=sec_t0,
                      rep=rep, volta=volta, prev=None, after_bar=bar, twice=empty, carried=carry > 0)


def _field(s: State, ch: str) -> State | None:
    if ch == "\n":
        value = s.tok[2:]
        ok = (s.tok[0] == "K" and value in _KEYS and KEY_RE.match(value)) or (
            s.tok[0] == "P" and value and _PART_RE.fullmatch(value))
        return s._replace(ctx="body", tok="", linestart=True) if ok else None
    tok = s.tok + ch
    if len(tok) == 2:
        return s._replace(tok=tok) if ch == ":" else None
    value = tok[2:]
    if s.tok[0] == "K":
        return s._replace(tok=tok) if value in _KEY_PREFIXES else None
    return s._replace(tok=tok) if _PART_RE.fullmatch(value) else None


def _cont(s: State, ch: str) -> State | None:
    # linestart: a newline right after a continued line is still a blank line, which ends a tune.
    return s._replace(ctx="body", linestart=True) if ch == "\n" else None


def _end(s: State, ch: str) -> State | None:
    return None


_HANDLERS = {
    "body": _body, "note": _note, "bracket": _bracket, "chord": _chord, "chordlen": _chordlen,
    "quote": _quote, "deco": _deco, "grace": _grace, "paren": _paren, "broken": _broken,
    "bar": _bar, "field": _field, "cont": _cont, "end": _end,
}
