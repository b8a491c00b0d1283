"""Your own tunes, in the web app: upload a tunebook, fine-tune a model on it in the background, watch it learn.

Page `/finetune`; JSON API `POST /api/finetune` (start one), `GET /api/finetune`
(all of them), `GET /api/finetune/<name>` (poll one), `POST
/api/finetune/<name>/stop`. The work is `tunesmith finetune` itself, run as
a child process with `--progress json` and one torch thread: its CPU-minute
budget counts its own CPU time, not the server's, and stopping is the
command line's Ctrl-C (latest/ saved, `tunesmith finetune --resume` carries
on). The server checks the upload first (size, tunes the model can read) so
that a bad tunebook is a clear 4xx at once, then the child reads it again.

The run is written under the server's runs folder (`serve --models-dir`,
runs/ by default) as `<name>/`, with the upload beside it as
`<name>/tunebook.abc`; the model catalog lists its best/ checkpoint as
`runs/<name>` on the Compose page. One fine-tuning runs at a time.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

from .. import finetune as ft
from ..atomic import write_text_atomic
from ..errors import TunesmithError
from .api import composer
from .catalog import ABC_MODELS, ModelCatalog
from .pages import templates
from .requests import MODEL_NAME_CHARS, Body, Text, text
from .service import Composer, Limits, RequestError

router = APIRouter()

UPLOAD_PATH = "/api/finetune"        # the one route whose body may be a whole tunebook (app.BodyLimit)
TUNEBOOK = "tunebook.abc"            # the upload, kept in the run folder (a resumed run reads it again)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
STOP_WAIT = 30.0                     # seconds a stopped child has to save latest/ when the server exits


class FinetuneIn(Body):
    """A tunebook to fine-tune a model on, and how."""

    tunebook: Text = text(description="Your tunes as ABC text, one after another (a tunebook): "
                                      f"at least {ft.MIN_TUNES}; 20 to 500 suit it.")
    name: Optional[Text] = text(40, default=None, description="The new model's name: letters, digits, - and _ "
                                                              "(default: finetune-1, finetune-2 ...).")
    model: Optional[Text] = text(MODEL_NAME_CHARS, default=None,
                                 description="The model to start from, by its name in the models listing "
                                             "(default: the shipped ABC model).")
    minutes: float = Field(ft.DEFAULT_MINUTES, strict=True, allow_inf_nan=False, gt=0,
                           description="CPU minutes of training (at most the server's limit, 30 by default).")
    seed: int = Field(0, strict=True, ge=0, le=ft.MAX_SEED,
                      description="Seeds the held-out draw, the training and the copy check's tunes.")


@dataclass
class Job:
    """One fine-tuning this server started: its child process and what the child last said."""

    name: str
    run: Path
    base: str                                   # the model it started from, by its catalog name
    minutes: float
    process: subprocess.Popen | None = None
    state: str = "running"                      # running, done, stopped, failed
    status: dict = field(default_factory=dict)  # the child's latest progress line
    training: dict = field(default_factory=dict)  # its latest line while training: CPU seconds, epoch, bits
    started: dict = field(default_factory=dict)  # its "started" line: tunes, split, bits before
    report: dict | None = None
    error: str | None = None
    errors: deque = field(default_factory=lambda: deque(maxlen=20))  # the child's last stderr lines
    created: float = field(default_factory=time.time)


class Finetunes:
    """The server's fine-tunings: each a `tunesmith finetune` child process, one at a time."""

    def __init__(self, catalog: ModelCatalog, limits: Limits):
        self.catalog, self.limits = catalog, limits
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        atexit.register(self.stop_all)  # children save latest/ when the server exits

    # -- starting -----------------------------------------------------------------
    def runs_dir(self) -> Path:
        """Where fine-tunings are written: the server's runs folder (the catalog's), or a 409 without one."""
        if self.catalog.runs_dir is None:
            raise RequestError(409, "this server keeps no runs folder, so it cannot fine-tune; "
                                    "start it with `tunesmith serve --models-dir runs`")
        return self.catalog.runs_dir

    def _name(self, runs: Path, asked: str | None) -> str:
        """The run's name: the one asked for (checked, free) or the next free finetune-N."""
        if asked is None or asked == "":
            n = 1
            while (runs / f"finetune-{n}").exists() or f"finetune-{n}" in self._jobs:
                n += 1
            return f"finetune-{n}"
        if not NAME.fullmatch(asked):
            raise RequestError(422, f"name {asked!r}: use 1 to 40 letters, digits, - and _ (starting with a letter "
                                    "or digit)")
        if (runs / asked).exists() or asked in self._jobs:
            raise RequestError(409, f"name {asked!r}: a run of that name exists in {runs}; choose another")
        return asked

    def start(self, body: FinetuneIn) -> Job:
        """Check the upload, keep it in a new run folder and start the child; a bad one is refused at once."""
        runs = self.runs_dir()
        if len(body.tunebook) > self.limits.max_tunebook:
            raise RequestError(413, f"tunebook: {len(body.tunebook)} characters; at most {self.limits.max_tunebook}")
        if body.minutes > self.limits.finetune_minutes:
            raise RequestError(422, f"minutes: at most {self.limits.finetune_minutes:g} CPU minutes here "
                                    f"(got {body.minutes:g})")
        entry = self.catalog.find(body.model, ABC_MODELS)
        with self._lock:
            running = [j.name for j in self._jobs.values() if j.state == "running"]
            if running:
                raise RequestError(409, f"a fine-tuning is running ({running[0]}); one at a time: wait for it "
                                        "or stop it")
            name = self._name(runs, body.name)
            job = Job(name, runs / name, entry.name, body.minutes)
            self._jobs[name] = job  # holds the name while the upload is checked
        try:
            self._check_and_keep(job, body, entry)
            self._spawn(job, entry.path, body.seed)
        except BaseException:
            with self._lock:
                del self._jobs[name]
            shutil.rmtree(job.run, ignore_errors=True)  # made just now, for this upload: nothing half-written stays
            raise
        return job

    def _check_and_keep(self, job: Job, body: FinetuneIn, entry) -> None:
        """The tunebook written into the run folder and read as the child will read it; too few tunes is a 422."""
        book = job.run / TUNEBOOK
        write_text_atomic(book, body.tunebook.replace("\r\n", "\n").replace("\r", "\n"))
        try:
            ft.read_tunes([str(book)], self.catalog.load(entry), ft.Settings(seed=body.seed))
        except TunesmithError as exc:
            message = str(exc).replace(f"--corpus {book}", "tunebook").replace(str(book), "tunebook")
            raise RequestError(422, message) from None

    def _spawn(self, job: Job, model: Path, seed: int) -> None:
        """`tunesmith finetune` on the kept tunebook, with threads reading its progress lines and its stderr."""
        command = [sys.executable, "-m", "tunesmith", "finetune", "--model", str(model), "--corpus",
                   str(job.run / TUNEBOOK), "--out", str(job.run), "--minutes", repr(job.minutes), "--seed", str(seed),
                   "--threads", "1", "--progress", "json"]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        job.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       encoding="utf-8", errors="replace", env=env)
        threading.Thread(target=self._read_errors, args=(job,), daemon=True).start()
        threading.Thread(target=self._follow, args=(job,), daemon=True).start()

    # -- following ----------------------------------------------------------------
    def _read_errors(self, job: Job) -> None:
        """The child's stderr, its last lines kept (its "error: ..." line says why it failed)."""
        for line in job.process.stderr:
            job.errors.append(line.rstrip("\n"))

    def _follow(self, job: Job) -> None:
        """The child's progress lines, then how it ended."""
        for line in job.process.stdout:
            try:
                status = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(status, dict):
                continue
            if status.get("stage") == "started":
                job.started = status
            elif status.get("stage") == "training":
                job.training = status
            elif status.get("stage") == "done":
                job.report = status.get("report")
            job.status = status
        code = job.process.wait()
        time.sleep(0.1)  # the stderr reader's last lines
        with self._lock:
            if code == 0 and job.report is not None:
                job.state = "done"
            elif code == 130:
                job.state = "stopped"
                if not (job.run / "latest").is_dir():  # stopped before training: only the upload was there
                    shutil.rmtree(job.run, ignore_errors=True)
            else:
                job.state = "failed"
                said = [line[len("error: "):] for line in job.errors if line.startswith("error: ")]
                job.error = said[-1] if said else f"the fine-tuning ended with status {code}: " + \
                    " / ".join(list(job.errors)[-3:])

    # -- asking -------------------------------------------------------------------
    def job_json(self, job: Job) -> dict:
        """What the page shows of a fine-tuning."""
        s, started = job.training, job.started
        if job.state == "stopped" and ft.read_report(job.run) is not None:  # carried on from the command line since
            job.state, job.report = "done", ft.read_report(job.run)
        resumable = job.state == "stopped" and (job.run / "latest").is_dir()
        return {
            "name": job.name, "model": f"{self.runs_dir().name}/{job.name}", "base": job.base,
            "state": job.state, "stage": job.status.get("stage", "starting"), "minutes": job.minutes,
            "cpu_seconds": s.get("cpu_seconds", 0.0), "budget_seconds": job.minutes * 60,
            "epoch": s.get("epoch"), "held_out_bits_per_symbol": s.get("held_out_bits_per_symbol"),
            "best_held_out_bits_per_symbol": s.get("best_held_out_bits_per_symbol"),
            "tunes": started.get("tunes"), "train": started.get("train"), "held_out": started.get("held_out"),
            "unreadable": started.get("unreadable"), "before_bits_per_char": started.get("before_bits_per_char"),
            "report": job.report, "summary": ft.summary(job.report) if job.report else [],
            "error": job.error, "created": job.created,
            "resume": f"tunesmith finetune --resume {job.run}" if resumable else None,
        }

    def _from_disk(self, name: str) -> dict | None:
        """A fine-tuning this server did not start (or started before a restart), from its run folder."""
        runs = self.runs_dir()
        if not NAME.fullmatch(name) or not (runs / name).is_dir():
            return None
        report = ft.read_report(runs / name)
        if report is None and not (runs / name / "latest").is_dir():
            return None
        job = Job(name, runs / name, (report or {}).get("finetuned_from", {}).get("name", "?"),
                  (report or {}).get("training", {}).get("budget_minutes", 0.0),
                  state="done" if report is not None else "stopped", report=report)
        return self.job_json(job)

    def get(self, name: str) -> dict:
        """One fine-tuning, this server's or found in the runs folder; 404 when there is none."""
        with self._lock:
            job = self._jobs.get(name)
        found = self.job_json(job) if job is not None else self._from_disk(name)
        if found is None:
            raise RequestError(404, f"no fine-tuning {name!r}")
        return found

    def all(self) -> list[dict]:
        """This server's fine-tunings, newest first, then the finished ones found in the runs folder."""
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: -j.created)
        listed = [self.job_json(j) for j in jobs]
        known = {j["name"] for j in listed}
        runs = self.catalog.runs_dir
        if runs is not None and runs.is_dir():
            for run in sorted(runs.iterdir()):
                if run.name not in known and (run / ft.REPORT).is_file():
                    found = self._from_disk(run.name)
                    if found is not None:
                        listed.append(found)
        return listed

    def stop(self, name: str) -> dict:
        """Ctrl-C for the child: it saves latest/ at the next batch and ends (resumable)."""
        with self._lock:
            job = self._jobs.get(name)
        if job is None:
            raise RequestError(404, f"no fine-tuning {name!r} running here")
        if job.state == "running" and job.process is not None and job.process.poll() is None:
            job.process.send_signal(signal.SIGINT)
        return self.job_json(job)

    def stop_all(self) -> None:
        """Stop every running child and give it time to save (the server is exiting)."""
        running = [j for j in list(self._jobs.values()) if j.process is not None and j.process.poll() is None]
        for job in running:
            job.process.send_signal(signal.SIGINT)
        for job in running:
            try:
                job.process.wait(timeout=STOP_WAIT)
            except subprocess.TimeoutExpired:
                job.process.kill()


_made = threading.Lock()


def finetunes(request: Request) -> Finetunes:
    """The app's fine-tunings (made on first use, beside its Composer)."""
    state = request.app.state
    with _made:
        if getattr(state, "finetunes", None) is None:
            c: Composer = state.composer
            state.finetunes = Finetunes(c.catalog, c.limits)
        return state.finetunes


# -- the page and the JSON API ---------------------------------------------------

@router.get("/finetune", response_class=HTMLResponse, include_in_schema=False)
def finetune_page(request: Request, c: Composer = Depends(composer)) -> HTMLResponse:
    """Upload a tunebook, fine-tune a model on it, watch it learn."""
    return templates.TemplateResponse(request, "finetune.html", {
        "models": c.catalog.entries(), "limits": c.limits, "min_tunes": ft.MIN_TUNES,
        "default_minutes": ft.DEFAULT_MINUTES, "runs": c.catalog.runs_dir})


@router.post(UPLOAD_PATH, status_code=202)
def start_route(body: FinetuneIn, jobs: Finetunes = Depends(finetunes)) -> dict:
    """Start fine-tuning a model on the tunebook, in the background; poll `GET /api/finetune/<name>`."""
    return jobs.job_json(jobs.start(body))


@router.get("/api/finetune")
def list_route(jobs: Finetunes = Depends(finetunes)) -> dict:
    """The fine-tunings: this server's, newest first, then finished ones in its runs folder."""
    return {"finetunes": jobs.all()}


@router.get("/api/finetune/{name}")
def get_route(name: str, jobs: Finetunes = Depends(finetunes)) -> dict:
    """One fine-tuning: its stage, CPU seconds of its budget, epoch, held-out bits, and the report when done."""
    return jobs.get(name)


@router.post("/api/finetune/{name}/stop")
def stop_route(name: str, jobs: Finetunes = Depends(finetunes)) -> dict:
    """Stop a running fine-tuning: it saves where it is (resume it with `tunesmith finetune --resume`)."""
    return jobs.stop(name)
