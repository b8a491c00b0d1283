"""A few warm verovio processes shared by every sheet-music render: deadlines, a bounded line, slow tunes set aside.

Verovio runs in child processes (`sheet_worker.py`): it can crash on
malformed ABC, and some tunes keep it busy for minutes (its time grows
faster than the square of a tied run inside a tuplet), holding the GIL all
the while.
How the pool keeps one such tune from holding up everyone else:

- a render's deadline counts from its arrival, its wait in line included, so
  it answers within its timeout (and the moment it takes to kill a process);
- `size` processes serve renders as they come; up to `queue` more renders wait
  (in line, or for the same tune's render already under way); when a render
  comes to a full line, the oldest in line leaves it at once with `SheetBusy`
  (the web's 503 and Retry-After), or the newcomer does if none is in line, so
  renders never hold more than `size + aside + queue` of a server's threads;
- a render that has run `slow_after` seconds while others wait is set aside:
  its process leaves the pool and goes on alone until the render ends or its
  deadline kills it, and a fresh process takes its place. At most `aside`
  renders go on aside at once; a slow render that finds no room is stopped
  (`SheetBusy`). So each tune that hangs holds a place for `slow_after`
  seconds at most while others wait (half a second: a tune of ordinary length
  takes tens of milliseconds, one of 8000 characters about one second);
- the line is served newest first: under load the newest render is the one
  someone still waits for (the editor asks for one per pause in typing), and
  the older ones leave at their deadlines or make room for newer ones;
- the same tune asked for while its render is under way shares that render;
- one process is kept idle (or starting) beyond those at work, up to `size +
  aside` in all, so that a render taking a set-aside one's place, or coming
  after a crash or an overrun, finds one warm.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TunesmithError

WORKER = Path(__file__).with_name("sheet_worker.py")
_POLL = 0.05        # seconds between looks at a slow render's line, once it has run slow_after
_START_LIMIT = 30.0  # seconds a replacement process may take to start when nobody waits for it
_GRACE = 0.5        # seconds a render sharing another's may wait past its deadline for that render's verdict


class SheetBusy(TunesmithError):
    """No engraver could take the tune in time: not the tune's fault; try again in `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class _Overrun(Exception):
    """The deadline passed before verovio answered."""


class Engraver:
    """One verovio process: started warm, asked one tune at a time, killed when it overruns."""

    def __init__(self, deadline: float):
        self._proc = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, bufsize=0)
        self._pending = b""
        try:
            ready = self.read(deadline)
        except TunesmithError as exc:  # it died before its first tune: verovio is missing or broken
            self.close()
            raise TunesmithError(f"sheet music: the verovio worker did not start ({exc})") from None
        if ready is None:
            self.close()
            raise _Overrun
        if "ready" not in ready:
            self.close()
            raise TunesmithError(f"sheet music: the verovio worker did not start ({ready})")

    @property
    def alive(self) -> bool:
        """Whether the process still runs."""
        return self._proc.poll() is None

    def ask(self, abc: str, width: int, deadline: float, page_height: int | None = None) -> None:
        """Send one tune (for pages of `page_height`, if given); the worker kills itself a second after
        `deadline` should this process be gone by then."""
        seconds = max(1, math.ceil(deadline - time.monotonic()) + 1)
        asked = {"abc": abc, "width": width, "alarm": seconds}
        if page_height is not None:
            asked["page_height"] = page_height
        request = json.dumps(asked) + "\n"
        try:
            self._proc.stdin.write(request.encode("utf-8"))
            self._proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died between two tunes; read() says how

    def read(self, until: float) -> dict | None:
        """The worker's next answer, or None if `until` (a monotonic time) comes first; a crash is a TunesmithError."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self._pending:
                left = until - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(self._proc.stdout.fileno(), 1 << 20)
                if not chunk:
                    code = self._proc.wait()
                    how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
                    raise TunesmithError(f"sheet music: verovio crashed on this tune ({how}); "
                                         "`tunesmith check` shows what is wrong with it")
                self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return json.loads(line)

    def yield_cpu(self) -> None:
        """Run at the lowest priority: a tune that goes on this long most likely hangs, spinning a core."""
        try:
            os.setpriority(os.PRIO_PROCESS, self._proc.pid, 19)
        except OSError:
            pass  # it has just ended

    def close(self, wait: bool = True) -> None:
        """Kill the process (it may be in the middle of a tune) and reap it, then or (`wait=False`) in the background.

        A process at the lowest priority on a busy machine can take a second to
        finish dying, which a render's answer should not wait for.
        """
        if self._proc.poll() is None:
            self._proc.kill()
        if wait:
            self._reap()
        else:
            threading.Thread(target=self._reap, name="sheet-reap", daemon=True).start()

    def _reap(self) -> None:
        self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout):
            pipe.close()


@dataclass
class _Waiter:
    """A render waiting in line for a place among the pool's processes."""

    granted: bool = False  # handed a place
    evicted: bool = False  # made room for a newer render


@dataclass
class _Flight:
    """A render under way, which later asks for the same tune share."""

    done: threading.Event = field(default_factory=threading.Event)
    svg: str | list[str] | None = None  # a list: the pages of a paged render
    error: TunesmithError | None = None


class SheetPool:
    """Verovio processes shared by renders from many threads (see the module's docstring for the rules).

    `size`: processes serving renders as they come (each kept warm). `queue`:
    renders that may wait beyond those. `slow_after`: seconds a render may run
    while others wait before it is set aside. `aside`: renders that may go on
    aside at once (default: `size`).
    """

    def __init__(self, size: int = 2, queue: int = 8, *, slow_after: float = 0.5, aside: int | None = None):
        if size < 1 or queue < 0 or slow_after <= 0:
            raise ValueError(f"sheet pool: size {size}, queue {queue}, slow_after {slow_after}")
        self.size, self.queue, self.slow_after = size, queue, slow_after
        self.aside = size if aside is None else aside
        self._cond = threading.Condition()
        self._idle: list[Engraver] = []      # warm processes with no tune
        self._engravers: set[Engraver] = set()  # every process, busy or idle, so that close() stops them all
        self._running = 0                    # renders holding one of the `size` places
        self._set_aside = 0                  # renders going on apart
        self._line: list[_Waiter] = []       # waiting for a place, oldest first (served from the end)
        self._followers = 0                  # waiting for a render of the same tune
        self._spares = 0                     # spare processes being started
        self._flights: dict[tuple[str, int, int | None], _Flight] = {}
        self._deadlines: dict[object, float] = {}  # every admitted render's deadline, for Retry-After
        self._closed = False
        _POOLS.add(self)

    def render(self, abc: str, width: int, *, timeout: float, arrived: float | None = None) -> str:
        """The SVG of one tune, within `timeout` seconds of `arrived` (a `time.monotonic()`; default now).

        A crash, an error or an overrun of verovio is a TunesmithError; a full
        line, or a deadline that passed mostly in line, is `SheetBusy`.
        """
        return self._render(abc, width, None, timeout, arrived)

    def render_pages(self, abc: str, width: int, page_height: int, *, timeout: float,
                     arrived: float | None = None) -> list[str]:
        """One tune as printed pages (SVGs) at most `page_height` tall, under the same rules as `render`."""
        return self._render(abc, width, page_height, timeout, arrived)

    def _render(self, abc: str, width: int, page_height: int | None, timeout: float,
                arrived: float | None) -> str | list[str]:
        arrived = time.monotonic() if arrived is None else arrived
        deadline = arrived + timeout
        key, token = (abc, width, page_height), object()
        with self._cond:
            flight = self._flights.get(key)
            if flight is not None or self._running >= self.size or self._line:
                self._make_room()
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
            else:
                self._followers += 1
            self._deadlines[token] = deadline
        try:
            if leader:
                try:
                    flight.svg = self._engrave(abc, width, page_height, arrived, deadline, timeout)
                except TunesmithError as exc:
                    flight.error = exc
                    raise
                finally:
                    with self._cond:
                        del self._flights[key]
                    flight.done.set()
                return flight.svg
            # The render it shares began earlier, so it ends by this deadline; the grace lets its verdict arrive.
            if not flight.done.wait(max(0.0, deadline - time.monotonic()) + _GRACE):
                raise self._overran(arrived, arrived, timeout)
            if flight.error is not None:
                raise _again(flight.error)
            return flight.svg
        finally:
            with self._cond:
                del self._deadlines[token]
                if not leader:
                    self._followers -= 1

    def warm(self, timeout: float = _START_LIMIT) -> int:
        """Start processes until `size` are idle, waiting up to `timeout` seconds for them; how many are idle."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._idle) < self.size and not self._closed and time.monotonic() < deadline:
                if not self._spares:
                    self._spares += 1
                    threading.Thread(target=self._start_spare, name="sheet-spare", daemon=True).start()
                self._cond.wait(deadline - time.monotonic())
            return len(self._idle)

    def close(self) -> None:
        """Stop every process, busy or idle (renders under way end with a crash message)."""
        with self._cond:
            self._closed = True
            engravers, self._idle = list(self._engravers), []
        for engraver in engravers:
            engraver.close()

    # -- one render ---------------------------------------------------------------

    def _engrave(self, abc: str, width: int, page_height: int | None, arrived: float, deadline: float,
                 timeout: float) -> str | list[str]:
        self._wait_for_place(deadline, timeout)
        in_place, aside, keep, engraver, started = True, False, False, None, None
        try:
            engraver = self._warm_engraver(deadline)
            engraver.ask(abc, width, deadline, page_height)
            started = time.monotonic()
            while True:
                now = time.monotonic()
                look = deadline if aside else max(started + self.slow_after, now + _POLL)
                answer = engraver.read(min(deadline, look))
                if answer is not None:
                    break
                if time.monotonic() >= deadline:
                    raise _Overrun
                if not aside:
                    with self._cond:
                        if self._line:  # others wait behind a slow tune: it goes on apart, or stops
                            if self._set_aside >= self.aside:
                                raise SheetBusy("sheet music: the engravers are busy with slow tunes; try again "
                                                "in a moment", self._retry_after())
                            self._set_aside += 1
                            aside, in_place = True, False
                            self._hand_on()
                    if aside:
                        engraver.yield_cpu()
            keep = True
        except _Overrun:
            raise self._overran(arrived, deadline if started is None else started, timeout) from None
        finally:
            with self._cond:
                if in_place:
                    self._hand_on()
                if aside:
                    self._set_aside -= 1
                # One set aside runs at the lowest priority for good (no raising it back unprivileged): it retires.
                if engraver is not None and keep and not aside and not self._closed and len(self._idle) < self.size:
                    self._idle.append(engraver)
                    engraver = None
            if engraver is not None:
                self._retire(engraver)
                with self._cond:
                    self._keep_a_spare()
        if "error" in answer:
            raise TunesmithError(f"sheet music: {answer['error']}; `tunesmith check` shows what is wrong")
        return answer["svg"] if page_height is None else answer["pages"]

    def _wait_for_place(self, deadline: float, timeout: float) -> None:
        """Take one of the `size` places, waiting in line (newest first) until the deadline."""
        with self._cond:
            if self._running < self.size and not self._line:
                self._running += 1
                return
            waiter = _Waiter()
            self._line.append(waiter)
            while not waiter.granted:
                if waiter.evicted:
                    raise SheetBusy("sheet music: busy; newer renders took this one's place in line; try again "
                                    "in a moment", self._retry_after())
                left = deadline - time.monotonic()
                if left <= 0:
                    self._line.remove(waiter)
                    raise SheetBusy(f"sheet music: no engraver was free within {timeout:g} s; try again in a moment",
                                    self._retry_after())
                self._cond.wait(left)

    def _hand_on(self) -> None:
        """Give up a place: to the newest render in line, or back to the pool. Called holding the lock."""
        if self._line:
            self._line.pop().granted = True
            self._cond.notify_all()
        else:
            self._running -= 1

    def _warm_engraver(self, deadline: float) -> Engraver:
        """An idle process, or the spare being started, or a new one; then a spare is started for the next render."""
        with self._cond:
            while True:
                while self._idle:
                    engraver = self._idle.pop()
                    if engraver.alive:
                        self._keep_a_spare()
                        return engraver
                    self._engravers.discard(engraver)
                    engraver.close()
                if not self._spares or time.monotonic() >= deadline:
                    break
                self._cond.wait(deadline - time.monotonic())  # the spare under way is ready sooner than a new one
        engraver = Engraver(deadline)
        with self._cond:
            self._engravers.add(engraver)
            if self._closed:  # closed while it started: it must not outlive the pool
                self._engravers.discard(engraver)
                engraver.close()
                raise TunesmithError("sheet music: the engravers were stopped")
            self._keep_a_spare()
        return engraver

    def _retire(self, engraver: Engraver) -> None:
        with self._cond:
            self._engravers.discard(engraver)
        engraver.close(wait=False)

    def _keep_a_spare(self) -> None:
        """Start a process in the background when none is idle or starting, up to `size + aside` in all, so that
        the next render (one that takes a set-aside render's place, or follows a crash) finds one warm.
        Called holding the lock."""
        if self._closed or self._idle or self._spares or len(self._engravers) >= self.size + self.aside:
            return
        self._spares += 1
        threading.Thread(target=self._start_spare, name="sheet-spare", daemon=True).start()

    def _start_spare(self) -> None:
        try:
            engraver = Engraver(time.monotonic() + _START_LIMIT)
        except (TunesmithError, _Overrun, OSError):
            engraver = None  # the next render starts one itself
        with self._cond:
            self._spares -= 1
            self._cond.notify_all()
            if engraver is not None and not self._closed and len(self._idle) < self.size:
                self._engravers.add(engraver)
                self._idle.append(engraver)
                return
        if engraver is not None:
            engraver.close()

    # -- refusals -----------------------------------------------------------------

    def _make_room(self) -> None:
        """When `queue` renders already wait: the oldest in line leaves it, or SheetBusy. Holding the lock."""
        if len(self._line) + self._followers < self.queue:
            return
        if self._line:
            self._line.pop(0).evicted = True
            self._cond.notify_all()
        else:
            raise SheetBusy(f"sheet music: busy, {len(self._line) + self._followers} renders are waiting; "
                            "try again in a moment", self._retry_after())

    def _retry_after(self) -> int:
        """Whole seconds until the first render now in the pool must end (and so frees its place). Holding the lock."""
        soonest = min(self._deadlines.values(), default=time.monotonic() + 1)
        return max(1, math.ceil(soonest - time.monotonic()))

    def _overran(self, arrived: float, started: float, timeout: float) -> TunesmithError:
        """A passed deadline: the tune's own fault if verovio had most of its time, else the pool's (SheetBusy)."""
        waited = started - arrived  # in line, and for a process to start
        if waited >= timeout / 2:
            with self._cond:
                retry = self._retry_after()
            return SheetBusy(f"sheet music: took longer than {timeout:g} s, {min(waited, timeout):.1f} s of it "
                             "waiting for an engraver; try again in a moment", retry)
        return TunesmithError(f"sheet music: verovio took longer than {timeout:g} s; the tune was abandoned")


def _again(error: TunesmithError) -> TunesmithError:
    """The shared render's error, as a fresh exception for another thread to raise."""
    if isinstance(error, SheetBusy):
        return SheetBusy(str(error), error.retry_after)
    return TunesmithError(str(error))


_POOLS: weakref.WeakSet[SheetPool] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # A process busy with a tune reads no more input, so it would not notice the server is gone.
    for pool in list(_POOLS):
        pool.close()
