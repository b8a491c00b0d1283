"""Well-formed ABC, one character at a time: the automaton behind constrained generation.

`feed(state, ch)` says whether a tune body can go on with `ch` and still be
finished as a well-formed tune (prefix feasibility), and returns the state
after it (None where no well-formed tune goes on that way). Well-formed
means what `tunesmith check` and abc2midi look for.

The rules
---------
- every bar has the meter's length (the first bar may be a short pickup);
  a note, rest or chord is allowed only when it fits in what is left of the
  bar, and a bar line only when the bar is full. The first bar of a section
  (the tune, or after `|:`) may be a pickup, and the section's last bar may
  then be short by as much; a bar before a repeat line or `||` may be
  short when the next bar completes it (abc2midi carries it over), but not
  twice running;
- a broken rhythm (`>`, `<`, `>>`, `<<`) joins two notes of the same
  written length, and the pair's time is reserved when `>` is written;
- a tuplet `(p` (p = 2, 3, 4) takes p notes of the same written length; its
  time (q notes' worth) is reserved at its first note;
- a tie joins a note to the next note of the same spelling, across at most
  a plain bar line, and never to a line end right after it;
- chords `[CEG]`, chord symbols `"Am"`, decorations `!x!` (ABC 2.1's), grace notes
  `{g}` are closed, and each is followed by a note (a `.` or `~` mark directly:
  abc2midi reads `. d` or `.!x!d` as malformed; a `~` neither after grace
  notes nor before a chord: abc2midi plays a roll as grace notes of its own,
  refuses two groups with no note between them, and rolls no chord); a slur opens on music
  (a note, or what comes before one), never before a rest, a chord, a
  space or its own close, and at most two deep; a rest does not open a line as `z:`
  (a field line);
- a bar line may follow another (`|` ending a line, `|:` starting the next)
  but not a third;
- repeats: `|:` is not opened twice, a first ending `|1`/`[1` is closed by
  `:|2` or `:| [2`; the tune ends (a blank line) only after a full bar and
  a bar line, with no repeat, ending, tie or tuplet left open;
- a tune closing up (`closed`: it has grown long) writes only notes, rests
  and bar lines, opens no repeat or ending, and closes the open ones;
- in a form (`sectioned`: the writer places the repeats and section lines,
  modes/abc/sections.py) the tune writes only `|`, its pickup is at most
  half a bar, and it does not end on its own.

Note lengths are the written ones folk collections use (`LENGTHS`): all are
multiples of a quarter of the unit note (`GRID`), so what is left of a bar is
always a multiple of that grid and can always be filled. Time is counted in
grid steps. Inside the body only `K:` and `P:` field lines are allowed (a
meter or unit change mid-tune would change the bar length under the
sampler's feet).

Contexts: what is being read (`State.ctx`)
------------------------------------------
Between constructs the context is `body`. The first character of a construct
moves to the construct's own context. A construct closed by a character of
its own (`"`, `!`, `}`, a field line's newline; a chord's `]` moves on to
`chordlen`) moves back to `body` on it; one whose end shows only in the
character after it (a note or rest, a chord's length, `>` or `>>`, a bar
line, the `(` of a slur) hands that character back to `body`, which reads
it in turn. `[1`, `[2`, `[|` and `(2`..`(4` go back to `body` on their
last character.

    body      between constructs
    note      a note or rest (`^c'3/2`, `z2`): its pitch, then its written length
    bracket   just after `[`: an ending `[1` `[2`, a bar line `[|` or a chord
    chord     the notes of a chord, up to `]`
    chordlen  after a chord's `]`: its written length
    quote     inside `"..."`: a chord name or an annotation
    deco      inside `!...!`
    grace     inside `{...}`
    paren     just after `(`: a tuplet `(2` `(3` `(4`, or else a slur
    broken    after `>` or `<` (a second one makes `>>` `<<`)
    bar       a bar line, as long as it can still grow (`|` -> `|:`, `:` -> `:|2`)
    field     a `K:` or `P:` line in the body, up to its newline
    cont      after `\\`: the line goes on, and only a newline may follow
    end       after the blank line that ends the tune: nothing may follow

The state
---------
`State` is a hashable named tuple, so callers can cache one mask per
distinct state: a tune visits few distinct states. Its fields, by what they
track:

- what is being read: `ctx`, `text`;
- the tune's rhythm: `hornpipe` (no `.` mark: abc2midi swings a hornpipe's
  pairs and fails on a staccato one);
- time in the bar: `bar_length`, `time_used` (reservations included),
  `compound`, and what is reserved: `forced_length`, `prepaid_notes` (a
  broken-rhythm pair or a tuplet under way), `tuplet_q`, `tuplet_p` (a
  tuplet waiting for its first note);
- short bars: `first_bar`, `section_pickup`, `carry_into_section`,
  `carried_in`;
- what must come next: `needs_note`, `tie`, `ends_pair`, `decorated`, `marked`, `graced`, `rolled`, and
  `previous` (the note, rest or chord just read, for `-` and `>`);
- repeats and endings: `repeat`, `ending`, `closing`;
- lines and bar lines: `linestart`, `bar_line_just_read`,
  `second_bar_line`, `has_music`, `has_note`, `open_slurs`, `line_rest`;
- forms: `sectioned`.

Each context has a reader (`_HANDLERS`); `_body`'s rules are looked up by the
character read (`_BODY_RULES`), and a complete bar line is judged by
`_bar_done`.

Using it
--------
`initial_state(header)` starts a body; `feed` / `feed_text` read on (None:
refused). `can_end` says a blank line may end the tune here, `may_end_now`
that a newline would end the bar line just written and a second the tune;
`closed` turns a long tune to closing up. `mask_key` blanks what cannot
change the allowed next characters, so that states share masks, and
`reader_of` gives the mask builder a state's reader.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction
from typing import NamedTuple

from .bars import DurationReader
from .lint import DECORATIONS
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
# The bar lines a bar line begun so can still become, by what is written of it.
_BARS_FROM = {b[:i]: tuple(x for x in _BARS if x.startswith(b[:i])) for b in _BARS for i in range(1, len(b) + 1)}
_ACC = "^_="
# What abc2midi reads after a decoration mark `.` or `~`: its note, a chord, a rest, another mark.
_AFTER_MARK = frozenset(_ACC + "ABCDEFGabcdefg" + "[z.~")
_NOTE = "ABCDEFGabcdefg"
# Commas lower an upper-case note, apostrophes raise a lower-case one: abc2midi refuses `C'` and `c,`.
_PITCH_RE = re.compile(r"(\^\^|\^|__|_|=)?([A-G],{0,2}|[a-g]'{0,2})")
_NOTE_PREFIX = re.compile(r"(?:\^\^?|__?|=)?(?:[A-G],{0,2}|[a-g]'{0,2})?")
_CHORD_PREFIX = re.compile(r"(?:(?:\^\^?|__?|=)?(?:[A-G],{0,2}|[a-g]'{0,2})){0,4}|(?:(?:\^\^?|__?|=)?(?:[A-G],{0,2}|[a-g]'{0,2})){0,3}(?:\^\^?|__?|=)")
_CHORD_FULL = re.compile(r"(?:(?:\^\^?|__?|=)?(?:[A-G],{0,2}|[a-g]'{0,2})){1,4}")
_QUOTE_MAX, _GRACE_MAX = 10, 12
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

# State.repeat
_NO_REPEAT, _REPEAT_OPEN, _REPEAT_CLOSED = 0, 1, 2
# State.ending: `_SECOND_ENDING_DUE` after `:|` closed a first ending, until `[2` opens the second.
_NO_ENDING, _FIRST_ENDING, _SECOND_ENDING, _SECOND_ENDING_DUE = 0, 1, 2, 3


class Element(NamedTuple):
    """The note, rest or chord just read, as far as a `-` or `>` after it needs to know."""

    kind: str               # "n" note, "r" rest, "c" chord
    length: str             # its written length (a key of LENGTHS)
    spelling: str | None    # a note's pitch as written (`^c'`); a tie asks the next note for it
    plain: bool             # its time is its own (not in a broken-rhythm pair or a tuplet) and it is
                            # undecorated: only such a note may be tied or start a broken rhythm


class State(NamedTuple):
    """Where a tune body is; see the module docstring. Hashable, so masks can be cached by it."""

    # What is being read.
    ctx: str = "body"                # see "Contexts" in the module docstring
    text: str = ""                   # the construct read so far; in `body`, " " after spaces opening a line
    # Time in the bar, in grid steps.
    bar_length: int | None = None    # None: an odd meter/unit pair, bar lengths are not checked
    compound: bool = False           # the meter is compound (6/8, 9/8, 12/8): tuplet q defaults differ
    hornpipe: bool = False           # R:hornpipe: abc2midi swings its note pairs, and a `.` mark breaks that
    time_used: int = 0               # reservations included
    forced_length: str | None = None  # the written length the next note must have (broken rhythm, tuplet)
    prepaid_notes: int = 0           # notes to come whose time is already reserved
    tuplet_q: int = 0                # a tuplet `(p` waits for its first note: its p notes last q (0: none)
    tuplet_p: int = 0                # and its p
    # Short bars: pickups, and short bars carried over a repeat line or `||`.
    first_bar: bool = True           # no bar with music in it closed yet: this one may be a pickup
    section_pickup: int = 0          # the current section's pickup (tune start or last `|:`), if short
    carry_into_section: int = 0      # time carried into the section's first bar; -1 once that bar is closed
    carried_in: bool = False         # this bar completes a short bar before a repeat line or `||`
    # What must come next.
    needs_note: bool = False         # a note, rest or chord must come next
    tie: str | None = None           # the spelling the next note must have
    ends_pair: bool = False          # the next note ends a broken-rhythm pair: a note, not a rest or chord
    decorated: bool = False          # the next note carries a decoration (`.`, `~`, `!x!`)
    graced: bool = False             # the next note has grace notes: no `~` (a roll) may come before it
    rolled: bool = False             # the next note has a `~` (a roll): it may not be a chord
    marked: bool = False             # a `.` or `~` was just read: its note (or chord, rest, slur, mark) follows
    previous: Element | None = None  # the note, rest or chord just read (None once anything else is read)
    # Repeats and endings.
    repeat: int = _NO_REPEAT         # _NO_REPEAT, _REPEAT_OPEN (a `|:`), _REPEAT_CLOSED (by `:|`)
    ending: int = _NO_ENDING         # _NO_ENDING, _FIRST_ENDING, _SECOND_ENDING, _SECOND_ENDING_DUE
    closing: bool = False            # the tune is long: no new repeats or endings, and open ones close
    # Lines and bar lines.
    linestart: bool = False          # at the start of a line (spaces aside): a newline now ends the tune
    bar_line_just_read: str = ""     # the bar line just read (only spaces and newlines since), else ""
    second_bar_line: bool = False    # that bar line closed an empty bar: it came right after another
    has_music: bool = False          # a note or rest has been written
    has_note: bool = False           # a note or chord has been written (rests alone are no tune: check refuses it)
    open_slurs: int = 0              # slurs open (at most two)
    line_rest: bool = False          # the rest being read began a line: `z:` there would make a field line
    # Forms.
    sectioned: bool = False          # the writer places repeats and section lines (a form): only `|` is the tune's

    def _with(self, **changes) -> State:
        """This state with `changes`: what `_replace` does, faster.

        The automaton makes a new state for nearly every character it reads.
        A method (NamedTuple forbids redefining `_replace`) rather than a
        function: Python 3.11 passes a method call's keywords on the stack,
        but turns a function call with many of them (over 14, like
        `_element_done`'s 16) into a call through a dict, a third slower.
        """
        values = list(self)
        index = _FIELD_INDEX
        for name, value in changes.items():
            values[index[name]] = value
        return _new_tuple(State, values)


_FIELD_INDEX = {name: i for i, name in enumerate(State._fields)}
_new_tuple = tuple.__new__


def initial_state(header: str) -> State:
    """The state at the start of a body whose header is `header` (its M:, L: and R: lines)."""
    reader = DurationReader()
    hornpipe = False
    for line in header.split("\n"):
        if len(line) > 1 and line[1] == ":" and line[0] in "ML":
            reader.field(line[0], line[2:])
        elif line[:2] == "R:":
            hornpipe = line[2:].strip().lower() == "hornpipe"
    bar_length = None
    if reader.meter is not None and reader.meter > 0:
        steps = reader.meter / reader.unit / GRID
        # An odd meter/unit pair (a bar that is not whole grid steps): bar lengths are not checked.
        bar_length = int(steps) if steps.denominator == 1 else None
    meter = reader.meter
    compound = meter is not None and meter.denominator == 8 and meter.numerator % 3 == 0
    return State(bar_length=bar_length, compound=compound, linestart=True, hornpipe=hornpipe)


def can_end(s: State) -> bool:
    """A tune may end here (at the start of a line): full bars, a bar line, nothing left open."""
    # The last bar may be short when it and the pickup make one bar.
    last_ok = s.time_used == 0 or (s.section_pickup > 0 and s.bar_length is not None
                                   and s.time_used + s.section_pickup == s.bar_length)
    return (s.ctx == "body" and s.has_note and not s.first_bar and last_ok and s.bar_line_just_read
            and s.repeat != _REPEAT_OPEN and s.ending in (_NO_ENDING, _SECOND_ENDING) and s.tie is None
            and not s.sectioned and _settled(s))


_LETTER_RE = re.compile(r"[A-Ga-g]")
_LEXER_BAR = re.compile(r"(?::*\[\||:*\|\]|:*\|\|:*|:*\|:*|::+)(?:\d{1,6})?")


def mask_key(s: State) -> State:
    """A state with the same allowed next characters as `s`, with what cannot matter blanked.

    Which note letter is being read (only its case, which picks the octave
    mark) changes nothing about what may follow, unless a tie asks for one
    spelling: many states share one mask.
    """
    if s.tie is not None:
        return s
    text = s.text
    if s.ctx in ("note", "chord", "grace"):
        text = _LETTER_RE.sub(lambda m: "c" if m.group().islower() else "C", text)  # the case picks the octave mark
    previous = s.previous
    if previous is not None:
        previous = _new_tuple(Element, (previous.kind, previous.length, "C", previous.plain))
    # The section's pickup and where it started only matter for whether the
    # tune may end here, which is whether the pickup completes this bar.
    completes = (s.section_pickup and s.bar_length is not None and 0 < s.time_used
                 and s.time_used + s.section_pickup == s.bar_length)
    return s._with(text=text, previous=previous, section_pickup=s.bar_length - s.time_used if completes else 0,
                   carry_into_section=-1)


def closed(s: State) -> State:
    """`s` closing up (no new repeat or ending, open ones close), where that is still feasible.

    That is between constructs, with no tie waiting for its note (a tie
    crosses only a plain bar line, which closing may forbid); elsewhere `s`.
    """
    if s.closing or s.ctx != "body" or s.tie is not None:
        return s
    return s._with(closing=True)


def may_end_now(s: State) -> bool:
    """A newline now would end the bar line just written, and a second one the tune."""
    if s.ctx == "bar":
        s = _bar_done(s) if s.text in _BARS else None
    return s is not None and s.ctx == "body" and can_end(s._with(linestart=True))


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
def _settled(s: State) -> bool:
    """Nothing is owed: no note must come next, no reserved or tuplet time waits for its notes."""
    return not s.needs_note and s.forced_length is None and s.tuplet_q == 0 and s.prepaid_notes == 0


def _room_left(s: State) -> int | None:
    """Grid steps left in the bar; None where bar lengths are not checked."""
    return None if s.bar_length is None else s.bar_length - s.time_used


def _fits(s: State, written: str) -> bool:
    """Whether a note of this complete written length may come now."""
    if s.forced_length is not None:
        return written == s.forced_length
    room = _room_left(s)
    if room is None:
        return True
    # A tuplet's first note pays for the whole tuplet: q notes of its length.
    cost = LENGTHS[written] * (s.tuplet_q or 1)
    return cost <= room


def _length_prefix_ok(s: State, prefix: str) -> bool:
    """Whether a written length begun as `prefix` can still become one that fits."""
    if s.forced_length is not None:
        return s.forced_length.startswith(prefix)
    shortest = _SHORTEST_FROM.get(prefix)
    if shortest is None:
        return False
    room = _room_left(s)
    return room is None or shortest * (s.tuplet_q or 1) <= room


def _room_for_a_note(s: State) -> bool:
    """Some note could still come in this bar (for constructs that must be followed by one)."""
    if s.forced_length is not None or s.prepaid_notes:
        return True
    room = _room_left(s)
    return room is None or _SMALLEST * (s.tuplet_q or 1) <= room


def _element_done(s: State, kind: str, written: str, spelling: str | None) -> State | None:
    """A note, rest or chord (`kind` n, r, c) of written length `written` has been read completely."""
    if written not in LENGTHS or not _fits(s, written):
        return None
    if s.tie is not None and (kind != "n" or spelling != s.tie):
        return None
    time_used, forced_length, prepaid_notes = s.time_used, s.forced_length, s.prepaid_notes
    tuplet_q, tuplet_p = s.tuplet_q, s.tuplet_p
    if forced_length is not None:
        # Its time was reserved by the note before (a pair's first, a tuplet's first).
        prepaid_notes -= 1
        if prepaid_notes == 0:
            forced_length = None
    elif tuplet_q:
        # A tuplet's first note reserves the whole tuplet, whose other notes take its length.
        time_used += LENGTHS[written] * tuplet_q
        if tuplet_p > 1:
            forced_length, prepaid_notes = written, tuplet_p - 1
        tuplet_q = tuplet_p = 0
    else:
        time_used += LENGTHS[written]
    plain = s.forced_length is None and not s.tuplet_q and not s.decorated
    return s._with(ctx="body", text="", time_used=time_used, forced_length=forced_length,
                   prepaid_notes=prepaid_notes, tuplet_q=tuplet_q, tuplet_p=tuplet_p,
                   tie=None, needs_note=False, decorated=False, ends_pair=False, graced=False, rolled=False,
                   previous=_new_tuple(Element, (kind, written, spelling, plain)), has_music=True,
                   has_note=s.has_note or kind != "r",
                   linestart=False, bar_line_just_read="", second_bar_line=False, line_rest=False)


# -- body: between constructs -------------------------------------------------
def _body(s: State, ch: str) -> State | None:
    """Between constructs: `ch` starts one, or is a space, a line end or a bar line (`_BODY_RULES`)."""
    if s.ending == _SECOND_ENDING_DUE and ch not in " \n[":
        return None  # after `:|` closing a first ending, the second one starts: `[2`
    if s.closing and (ch in ' \\()"!{~.' or (ch == "\n" and not s.bar_line_just_read)):
        return None  # closing up: only notes, rests and bar lines, and a newline after a bar line
    if s.marked and ch not in _AFTER_MARK:
        return None  # abc2midi reads `. d`, `.!x!`, `~"D"`, `.{g}` as malformed notes
    if ch == " ":
        return _space(s)
    if ch in "KP":
        return _field_start(s, ch)  # while the spaces opening the line are known: none may come before a field
    if ch == "z":
        return _rest_start(s, ch)  # the same: `z:` opening a line would be a field line
    if s.text:
        s = s._with(text="")  # the line had only spaces so far: it is not blank now
    rule = _BODY_RULES.get(ch)
    return None if rule is None else rule(s, ch)


def _space(s: State) -> State:
    """Spaces at the start of a line keep it blank so far: a newline after them ends the tune."""
    return s._with(previous=None, text=" " if s.linestart else "")


def _newline(s: State, ch: str) -> State | None:
    """A line ends; a blank one ends the tune."""
    if s.linestart:
        return s._with(ctx="end") if can_end(s) else None
    if not _settled(s) or (s.tie is not None and not s.bar_line_just_read):
        return None  # a tie goes on to its note, or across a bar line, before a line ends
    return s._with(previous=None, linestart=True)


def _line_continues(s: State, ch: str) -> State | None:
    """`\\`: the line goes on on the next one."""
    return s._with(ctx="cont", previous=None) if _settled(s) else None


def _field_start(s: State, ch: str) -> State | None:
    """`K` or `P` at the very start of a line, between bars: a key or part field line."""
    if s.linestart and not s.text and _settled(s) and s.time_used == 0 and s.tie is None:
        return s._with(ctx="field", text=ch, previous=None)
    return None


def _note_start(s: State, ch: str) -> State | None:
    """An accidental or a note letter starts a note."""
    if not _room_for_a_note(s) or (s.tie is not None and not s.tie.startswith(ch)):
        return None
    return s._with(ctx="note", text=ch, linestart=False, previous=None, bar_line_just_read="",
                   second_bar_line=False, marked=False)


def _rest_start(s: State, ch: str) -> State | None:
    """`z` starts a rest, though not as a broken-rhythm pair's second note."""
    if s.ends_pair:
        return None
    started = _note_start(s._with(text=""), ch)
    if started is None or not s.linestart or s.text:
        return started
    return started._with(line_rest=True)


def _tie(s: State, ch: str) -> State | None:
    """`-` after a plain note: the next note must have its spelling."""
    previous = s.previous
    if previous is None or previous.kind != "n" or not previous.plain or s.tie is not None:
        return None
    tied = s._with(tie=previous.spelling, previous=None)
    # Only where its note can come: in this bar, or after a plain bar line.
    if _room_for_a_note(tied) or _bar_done(tied._with(ctx="bar", text="|")) is not None:
        return tied
    return None


def _broken_rhythm_start(s: State, ch: str) -> State | None:
    """`>` or `<` after a plain note: its pair's second note must fit in the bar too."""
    previous = s.previous
    # Not after the second note of a pair or inside a tuplet: its time is not its own.
    if (previous is None or previous.kind != "n" or not previous.plain or s.forced_length is not None
            or s.tuplet_q or s.prepaid_notes):
        return None  # abc2midi mistimes a broken rhythm with a rest or a chord in it
    room = _room_left(s)
    if room is not None and LENGTHS[previous.length] > room:
        return None
    return s._with(ctx="broken", text=ch)


def _decoration_refused(s: State) -> bool:
    """A decoration may not come here."""
    # abc2midi loses a tie across anything but spaces and bar lines, and
    # mistimes a broken rhythm or tuplet whose notes carry decorations.
    return s.tie is not None or s.forced_length is not None or s.tuplet_q != 0


def _decoration_mark(s: State, ch: str) -> State | None:
    """`~` or `.`: the next note is decorated."""
    if _decoration_refused(s) or not _room_for_a_note(s) or (ch == "." and s.hornpipe) or (ch == "~" and s.graced):
        return None  # (abc2midi swings a hornpipe's pairs, and cannot when one has a staccato dot)
    return s._with(needs_note=True, decorated=True, marked=True, previous=None, linestart=False,
                   bar_line_just_read="", second_bar_line=False, rolled=s.rolled or ch == "~")


def _decoration_start(s: State, ch: str) -> State | None:
    """`!` opens a decoration `!x!`."""
    if _decoration_refused(s) or not _room_for_a_note(s):
        return None
    return s._with(ctx="deco", text="", previous=None, linestart=False, bar_line_just_read="",
                   second_bar_line=False)


def _chord_symbol_start(s: State, ch: str) -> State | None:
    """`"` opens a chord symbol or an annotation."""
    if s.tie is not None or s.decorated or not _room_for_a_note(s):
        return None  # abc2midi reads a chord symbol after a decoration as a broken note
    return s._with(ctx="quote", text="", previous=None, linestart=False, bar_line_just_read="",
                   second_bar_line=False)


def _grace_start(s: State, ch: str) -> State | None:
    """`{` opens grace notes."""
    if s.tie is not None or s.needs_note or not _room_for_a_note(s):
        return None  # abc2midi wants a note between two groups of grace notes
    return s._with(ctx="grace", text="", previous=None, linestart=False, bar_line_just_read="",
                   second_bar_line=False)


def _paren_start(s: State, ch: str) -> State | None:
    """`(` opens a tuplet or a slur (which one, the next character says)."""
    if s.tie is not None or s.decorated:
        return None  # abc2midi reads a tuplet after a decoration as a broken note
    opened = s._with(ctx="paren", previous=None, linestart=False)
    # Only where what a slur or a tuplet must open on can follow (a note, or a tuplet's digit).
    return opened if any(_paren(opened, c) is not None for c in "C234") else None


def _slur_end(s: State, ch: str) -> State | None:
    """`)` closes a slur."""
    if s.needs_note or s.tie is not None or s.open_slurs <= 0:
        return None
    return s._with(open_slurs=s.open_slurs - 1, linestart=False)


def _bracket_start(s: State, ch: str) -> State | None:
    """`[` opens an ending `[1` `[2`, a bar line `[|` or a chord, where one of them may come."""
    opened = s._with(ctx="bracket", previous=None, linestart=False)
    return opened if any(_bracket(opened, c) for c in "12|A") else None  # `A`: any chord note


def _bar_line_start(s: State, ch: str) -> State | None:
    """`|` or `:` opens a bar line, where one that starts so may come."""
    if not _settled(s):
        return None
    opened = s._with(ctx="bar", text=ch, previous=None, linestart=False)
    return opened if _bar_line_can_become(opened, ch) else None


def _bar_line_can_become(s: State, prefix: str) -> bool:
    """Some bar line that starts with `prefix` may end the bar here."""
    for bar in _BARS_FROM[prefix]:
        if _bar_done(s._with(text=bar)) is not None:
            return True
    return False


_BODY_RULES = {
    "\n": _newline, "\\": _line_continues, "-": _tie, "<": _broken_rhythm_start,
    ">": _broken_rhythm_start, "~": _decoration_mark, ".": _decoration_mark, "!": _decoration_start,
    '"': _chord_symbol_start, "{": _grace_start, "(": _paren_start, ")": _slur_end, "[": _bracket_start,
    "|": _bar_line_start, ":": _bar_line_start,
    **{ch: _note_start for ch in _ACC + _NOTE},
}


def _back_to_body(s: State | None, ch: str) -> State | None:
    """Hand `ch` back to the body once the construct before it is complete (None: it was refused)."""
    return None if s is None else _body(s, ch)


# -- notes and chords -----------------------------------------------------------
def _note(s: State, ch: str) -> State | None:
    """A note or rest: its pitch (accidentals, letter, octave marks), then its written length."""
    if s.text.startswith("z"):
        if ch == ":" and s.line_rest and s.text == "z":
            return None  # a line starting `z:` is a field line (`B:|` is music, `z:|` is not)
        return _rest(s, ch)
    text = s.text + ch
    pitch, written, spelled = _split_note(s.text)
    if not written and ch not in "0123456789/" and _is_note_prefix(text):
        # Still spelling the pitch (accidentals, letter, octave marks).
        if s.tie is not None and not s.tie.startswith(text):
            return None
        return s._with(text=text)
    if not spelled:
        return None
    if s.tie is not None and pitch != s.tie:
        return None
    if ch in "0123456789/":
        return s._with(text=text) if _length_prefix_ok(s, written + ch) else None
    return _back_to_body(_element_done(s, "n", written, pitch), ch)


def _rest(s: State, ch: str) -> State | None:
    """A rest `z`, then its written length."""
    if ch in "0123456789/":
        text = s.text + ch
        return s._with(text=text) if _length_prefix_ok(s, text[1:]) else None
    return _back_to_body(_element_done(s, "r", s.text[1:], None), ch)


@functools.lru_cache(maxsize=4096)
def _split_note(text: str) -> tuple[str, str, bool]:
    """A note read so far: its pitch spelling, its written length, and whether the spelling is a whole pitch."""
    pitch = _NOTE_PREFIX.match(text).group()
    return pitch, text[len(pitch):], _PITCH_RE.fullmatch(pitch) is not None


@functools.lru_cache(maxsize=4096)
def _is_note_prefix(text: str) -> bool:
    """`text` can still grow into a pitch spelling."""
    return _NOTE_PREFIX.fullmatch(text) is not None


def _bracket(s: State, ch: str) -> State | None:
    """Just after `[`: an ending `[1` `[2` (after a bar line), a bar line `[|`, or a chord's first note."""
    if ch in "12" and s.bar_line_just_read:
        return _ending_start(s, ch)
    if s.ending == _SECOND_ENDING_DUE:
        return None
    if ch == "|":
        return _bar_done(s._with(text="[|"))
    # Not under a tie (it asks for one note), as a pair's second note, or closing up.
    if ((ch in _ACC or ch in _NOTE) and s.tie is None and not s.ends_pair and not s.closing and not s.rolled
            and _room_for_a_note(s)):
        return s._with(ctx="chord", text=ch, bar_line_just_read="", second_bar_line=False, marked=False)
    return None


def _ending_start(s: State, ch: str) -> State | None:
    """`[1` or `[2` after a bar line."""
    if not _settled(s):
        return None  # a tuplet or decoration waits for its note
    if ch == "1" and s.ending == _NO_ENDING and not s.closing and s.repeat != _REPEAT_CLOSED:
        return s._with(ctx="body", ending=_FIRST_ENDING, bar_line_just_read="", second_bar_line=False)
    if ch == "2" and s.ending == _SECOND_ENDING_DUE:
        return s._with(ctx="body", ending=_SECOND_ENDING, bar_line_just_read="", second_bar_line=False)
    return None


def _chord(s: State, ch: str) -> State | None:
    """The notes of a chord, up to `]`."""
    if ch == "]":
        return s._with(ctx="chordlen", text="") if _CHORD_FULL.fullmatch(s.text) else None
    text = s.text + ch
    return s._with(text=text) if _CHORD_PREFIX.fullmatch(text) else None


def _chordlen(s: State, ch: str) -> State | None:
    """After a chord's `]`: its written length."""
    if ch in "0123456789/":
        text = s.text + ch
        return s._with(text=text) if _length_prefix_ok(s, text) else None
    return _back_to_body(_element_done(s, "c", s.text, None), ch)


# -- what comes before a note: chord symbols, decorations, grace notes, tuplets, slurs
def _quote(s: State, ch: str) -> State | None:
    """Inside `"..."`."""
    # A chord name abc2midi can play, or an annotation: anything else in quotes
    # (`"~"`, `"D.C."`) it reads as broken notes.
    if ch == '"':
        if s.text in _CHORD_NAMES or _annotation(s.text):
            return s._with(ctx="body", text="", needs_note=True)
        return None
    text = s.text + ch
    if text in _CHORD_PREFIXES or (_annotation(text) and len(text) <= _QUOTE_MAX):
        return s._with(text=text)
    return None


def _annotation(text: str) -> bool:
    """`text` is an annotation: a placement mark (`^_<>@`), then words."""
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
    """Inside `!...!`: one of ABC 2.1's decorations (free text there abc2midi reads as notes)."""
    if ch == "!":
        return s._with(ctx="body", text="", needs_note=True, decorated=True) if s.text in DECORATIONS else None
    text = s.text + ch
    return s._with(text=text) if text in _DECORATION_PREFIXES else None


_DECORATION_PREFIXES = {name[:i] for name in DECORATIONS for i in range(1, len(name) + 1)}


def _grace(s: State, ch: str) -> State | None:
    """Inside `{...}`."""
    if ch == "}":
        return s._with(ctx="body", text="", needs_note=True, graced=True) if _grace_full(s.text) else None
    text = s.text + ch
    if not _GRACE_PREFIX.fullmatch(text) or (len(text) >= _GRACE_MAX and not _grace_full(text)):
        return None
    return s._with(text=text) if len(text) <= _GRACE_MAX else None


_GRACE_NOTE = r"(?:\^\^?|__?|=)?(?:[A-G],{0,2}|[a-g]'{0,2})(?:/{1,2}|/?[248])?"
_GRACE_PREFIX = re.compile(rf"(?:{_GRACE_NOTE})*(?:(?:\^\^?|__?|=)?(?:(?:[A-G],{0,2}|[a-g]'{0,2})/?)?)")
_GRACE_FULL = re.compile(rf"(?:{_GRACE_NOTE})+")


def _grace_full(text: str) -> bool:
    """`text` is one or more whole grace notes."""
    return bool(text) and _GRACE_FULL.fullmatch(text) is not None


def _paren(s: State, ch: str) -> State | None:
    """Just after `(`: a tuplet `(2` `(3` `(4`, or else a slur, whose first music `ch` is."""
    if ch in "234":  # the tuplets folk tunes use; abc2midi times rarer ones its own way
        return _tuplet_start(s, int(ch))
    if s.open_slurs >= 2 or ch in "|:\n\\) [z":
        # A slur opens on music: in the 4,399 corpus tunes never before a bar line, a line end, a space,
        # a rest or its own close (`()`), before a chord once (`([`), and never three deep (`(((`).
        return None
    return _body(s._with(ctx="body", open_slurs=s.open_slurs + 1), ch)


def _tuplet_start(s: State, p: int) -> State | None:
    """A tuplet of `p` notes, where its shortest notes fit in the bar and no other time is reserved."""
    if s.tuplet_q or s.forced_length is not None or s.prepaid_notes or s.tie is not None or s.marked:
        return None  # (after `.` or `~` abc2midi reads the digit as a stray character)
    q = _TUPLET_Q.get(p, 3 if s.compound else 2)
    room = _room_left(s)
    if room is not None and _SMALLEST * q > room:
        return None
    return s._with(ctx="body", tuplet_q=q, tuplet_p=p, needs_note=True)


def _broken(s: State, ch: str) -> State | None:
    """After `>` or `<`: a second one doubles it; anything else starts the pair's second note."""
    if ch == s.text[0] and len(s.text) < 2:
        return s._with(text=s.text + ch)
    # The pair's time is reserved now: the next note has the same written
    # length, and the two together last twice that length.
    written = s.previous.length
    reserved = s._with(ctx="body", text="", time_used=s.time_used + LENGTHS[written], forced_length=written,
                       prepaid_notes=1, needs_note=True, previous=None, ends_pair=True)
    return _body(reserved, ch)


# -- bar lines ------------------------------------------------------------------
def _bar(s: State, ch: str) -> State | None:
    """A bar line grows while it can still become one that may come here; the next character ends it."""
    text = s.text + ch
    if text in _BARS_FROM and _bar_line_can_become(s, text):
        return s._with(text=text)
    if _LEXER_BAR.fullmatch(text):
        return None  # the lexer (and abc2midi) would read one bar line here, not two
    done = _bar_done(s)
    return None if done is None else _body(done, ch)


def _bar_done(s: State) -> State | None:
    """A complete bar line `s.text`: the bar must be full; repeats and endings move on."""
    bar = s.text
    if bar not in _BARS or not _settled(s) or s.ending == _SECOND_ENDING_DUE:
        return None
    if s.tie is not None and bar != "|":
        return None  # a tie crosses a plain bar line only (none crosses a repeat or section line in the corpus)
    if s.bar_line_just_read and s.time_used > 0 and bar != "|:":
        return None  # right after a bar line that carried a short bar: abc2midi would lose the carry
    empty = s.time_used == 0 and s.has_music
    if empty and not _empty_bar_allowed(s, bar):
        return None
    if s.bar_length is not None and s.time_used > s.bar_length:
        return None
    carry = _carry_over(s, bar)
    if carry is None:
        return None
    if s.sectioned and not _sectioned_bar_ok(s, bar):
        return None
    repeat = _repeat_after(s, bar)
    if repeat is None:
        return None
    ending = _ending_after(s, bar, repeat)
    if ending is None:
        return None
    section_pickup, carry_into_section = _section_after(s, bar, carry)
    return s._with(ctx="body", text="", time_used=carry, first_bar=s.first_bar and s.time_used == 0,
                   section_pickup=section_pickup, carry_into_section=carry_into_section, repeat=repeat,
                   ending=ending, previous=None, bar_line_just_read=bar, second_bar_line=empty, carried_in=carry > 0)


def _sectioned_bar_ok(s: State, bar: str) -> bool:
    """In a form the writer places section lines (only `|` is the tune's), and a pickup is at most half a bar."""
    if bar != "|":
        return False
    bar_length = s.bar_length or 0
    return s.carried_in or not (0 < 2 * s.time_used - bar_length and s.time_used < bar_length)


def _empty_bar_allowed(s: State, bar: str) -> bool:
    """A bar line that closes an empty bar: it reads as one with the bar line before it."""
    # A bar line right after another (`|` ending a line, `|:` starting the
    # next) reads as one, when abc2midi reads the pair as one; but not a
    # third (a line of nothing but bar lines: none in the corpus).
    before = s.bar_line_just_read
    if not before or s.second_bar_line:
        return False
    return bar == "|" or before == "|" or (bar == "|:" and before in (":|", ":|2", "||", "|]", "[|"))


def _carry_over(s: State, bar: str) -> int | None:
    """The time a short bar closed by `bar` carries into the next one (0: not short); None: not here."""
    # A short bar is allowed as a pickup, and at a section or repeat line,
    # where the next bar completes it (a pickup's complement): abc2midi and
    # `check` read the two as one bar.
    if s.bar_length is None or not 0 < s.time_used < s.bar_length or s.first_bar:
        return 0
    # Only at a repeat or double bar, and never twice running: abc2midi
    # carries a short bar into the next one there and nowhere else.
    if bar in ("|", "|1", "[|", "|]") or (s.carried_in and not s.bar_line_just_read):
        return None
    return s.time_used


def _repeat_after(s: State, bar: str) -> int | None:
    """`State.repeat` after `bar`, or None where `bar` may not come."""
    repeat = s.repeat
    # Closing up: no new repeat or ending, and an open repeat closes first.
    if s.closing and (bar in ("|:", "::", "|1") or (repeat == _REPEAT_OPEN and bar not in (":|", ":|2"))):
        return None
    if repeat == _REPEAT_OPEN and bar in ("||", "|]", "[|"):
        return None  # a section does not end inside an open repeat: `:|` closes it
    if bar == "|:":
        return None if repeat == _REPEAT_OPEN else _REPEAT_OPEN
    if bar in (":|", ":|2"):
        return _REPEAT_CLOSED
    if bar == "::":
        # Not in a first ending, nor after a `:|` with no `|:` since (abc2midi: "found :: before |:").
        return None if s.ending == _FIRST_ENDING or repeat == _REPEAT_CLOSED else _REPEAT_OPEN
    return repeat


def _ending_after(s: State, bar: str, repeat: int) -> int | None:
    """`State.ending` after `bar` (`repeat`: `State.repeat` after it), or None where `bar` may not come."""
    ending = s.ending
    if bar == "|1":
        return _FIRST_ENDING if ending == _NO_ENDING and repeat != _REPEAT_CLOSED else None
    if bar == ":|2":
        return _SECOND_ENDING if ending == _FIRST_ENDING else None
    if bar == ":|" and ending == _FIRST_ENDING:
        return _SECOND_ENDING_DUE
    if ending == _FIRST_ENDING and bar != "|":
        return None
    if ending == _SECOND_ENDING and bar != "|":
        return _NO_ENDING
    return ending


def _section_after(s: State, bar: str, carry: int) -> tuple[int, int]:
    """`State.section_pickup` and `State.carry_into_section` after `bar`, which carries `carry` over."""
    # The first bar of a section (of the tune, or after `|:`) may be a pickup:
    # the section's last bar may then be short by as much.
    section_pickup, carry_into_section = s.section_pickup, s.carry_into_section
    if carry_into_section >= 0 and s.time_used > 0:
        own = s.time_used - carry_into_section
        section_pickup = own if s.bar_length is not None and 0 < own < s.bar_length else 0
        carry_into_section = -1
    if bar in ("|:", "::"):
        section_pickup, carry_into_section = 0, carry
    return section_pickup, carry_into_section


# -- field lines, continued lines, the end ---------------------------------------
def _field(s: State, ch: str) -> State | None:
    """A `K:` or `P:` line, up to its newline: a key or part name tunesmith reads."""
    if ch == "\n":
        value = s.text[2:]
        ok = (s.text[0] == "K" and value in _KEYS and KEY_RE.match(value)) or (
            s.text[0] == "P" and value and _PART_RE.fullmatch(value))
        return s._with(ctx="body", text="", linestart=True) if ok else None
    text = s.text + ch
    if len(text) == 2:
        return s._with(text=text) if ch == ":" else None
    value = text[2:]
    if s.text[0] == "K":
        return s._with(text=text) if value in _KEY_PREFIXES else None
    return s._with(text=text) if _PART_RE.fullmatch(value) else None


def _cont(s: State, ch: str) -> State | None:
    """After `\\`: only a newline."""
    # linestart: a newline right after a continued line is still a blank line, which ends a tune.
    return s._with(ctx="body", linestart=True) if ch == "\n" else None


def _end(s: State, ch: str) -> State | None:
    """The tune has ended: nothing more."""
    return None


_HANDLERS = {
    "body": _body, "note": _note, "bracket": _bracket, "chord": _chord, "chordlen": _chordlen,
    "quote": _quote, "deco": _deco, "grace": _grace, "paren": _paren, "broken": _broken,
    "bar": _bar, "field": _field, "cont": _cont, "end": _end,
}
