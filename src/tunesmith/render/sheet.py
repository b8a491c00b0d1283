"""ABC -> SVG sheet music, engraved by verovio in a worker process.

Verovio can abort or segfault on malformed ABC, and a C++ crash cannot be
caught in Python; so it runs in a child process (`sheet_worker.py`) that is
started once and kept warm (starting it costs about 0.2 s, a render a few
tens of milliseconds). A tune that crashes or hangs the worker gives a
TunesmithError; the next render starts a fresh worker.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..errors import TunesmithError
from ..music.abc.lexer import tokens

WORKER = Path(__file__).with_name("sheet_worker.py")
DEFAULT_WIDTH = 2100  # verovio page units (at scale 40, about 840 px): a score that reads on a laptop
_TUNE_RE = re.compile(r"^K:", re.MULTILINE)
_NOTE_RE = re.compile(r"[A-Ga-g]")


class SheetWorker:
    """One warm verovio process, used by one caller at a time."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._pending = b""

    def render(self, abc: str, timeout: float, width: int = DEFAULT_WIDTH) -> str:
        """The SVG of one tune; a crash or a timeout is a TunesmithError, never the caller's death."""
        with self._lock:
            deadline = time.monotonic() + timeout
            proc = self._start(deadline)
            request = json.dumps({"abc": abc, "width": width}) + "\n"
            try:
                proc.stdin.write(request.encode("utf-8"))
                proc.stdin.flush()
            except BrokenPipeError:
                pass  # it died between two renders; the read below reports it
            answer = self._answer(deadline, timeout)
        if "error" in answer:
            raise TunesmithError(f"sheet music: {answer['error']}; `tunesmith check` shows what is wrong")
        return answer["svg"]

    def close(self) -> None:
        """Stop the worker (the next render starts a new one)."""
        proc, self._proc, self._pending = self._proc, None, b""
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def _start(self, deadline: float) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self.close()
        self._proc = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, bufsize=0)
        ready = self._answer(deadline, None)
        if "ready" not in ready:
            raise TunesmithError(f"sheet music: the verovio worker did not start ({ready})")
        return self._proc

    def _answer(self, deadline: float, timeout: float | None) -> dict:
        """The next line from the worker, or an error if it dies or the deadline passes."""
        proc = self._proc
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self._pending:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    self.close()
                    limit = f"{timeout:g} s" if timeout is not None else "its start-up time"
                    raise TunesmithError(f"sheet music: verovio took longer than {limit}; the tune was abandoned")
                chunk = os.read(proc.stdout.fileno(), 1 << 20)
                if not chunk:
                    code = proc.wait()
                    self.close()
                    how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
                    raise TunesmithError(f"sheet music: verovio crashed on this tune ({how}); "
                                         "`tunesmith check` shows what is wrong with it")
                self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return json.loads(line)


_worker = SheetWorker()
atexit.register(_worker.close)


def engravable(abc: str) -> str:
    """The tune as verovio can take it. Verovio aborts on characters that are not ABC (a stray `!`,
    an old line-break mark), on an unclosed chord symbol (`"Am` while it is being typed) and on two
    bar lines written together (`[|:`); the first two are left out, the bar lines get a space between.

    `tunesmith check` still reports what was left out; the score shows the music around it.
    """
    kept: list[str] = []
    previous = ""
    for t in tokens(abc):
        if t.kind == "unknown" or (t.kind == "chord_symbol" and (len(t.text) < 2 or not t.text.endswith('"'))):
            continue
        if t.kind == "bar" and previous == "bar":
            kept.append(" ")
        kept.append(t.text)
        previous = t.kind
    return "".join(kept)


def render_svg(abc: str, *, timeout: float = 20.0) -> str:
    """SVG sheet music of one tune's ABC text (title, meter, key and notes), engraved by verovio."""
    if timeout <= 0:
        raise TunesmithError(f"timeout {timeout:g}: give a positive number of seconds")
    header, _, body = abc.partition("\nK:")
    if not _TUNE_RE.search(abc) or not _NOTE_RE.search(body.partition("\n")[2]):
        raise TunesmithError("sheet music: not an ABC tune (it needs a K: line and notes after it)")
    if not abc.lstrip().startswith("X:"):
        abc = "X:1\n" + abc  # verovio needs the X: line a tune starts with
    return _worker.render(engravable(abc), timeout)
