"""`tunesmith train` killed with SIGKILL at random moments, some of them while `latest/` is being written.

After every kill the run folder must hold a checkpoint that loads (once the
first one was written), `--resume` must carry on from it, and the run must end
with the losses and weights of a run that was never interrupted. SIGKILL runs
no handler and no `finally`: what is on disk is all there is.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from tunesmith.atomic import settled
from tunesmith.checkpoint import TRAINING_STATE, load_checkpoint, read_tensors, write_checkpoint
from tunesmith.codecs.abc_chars import CharCodec
from tunesmith.corpus.bundled import load_bundled
from tunesmith.models import CharRNN, ModelConfig
from tunesmith.music.abc.tunes import join_tunes

TUNESMITH = [sys.executable, "-m", "tunesmith.cli"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
EPOCHS = 20           # short epochs: many writes of latest/ to aim at, and more than the kills can use up
                      # (a kill aimed at a write lets a process finish at most 3 epochs), on any machine
ARGS = ["--preset", "small", "--batch", "4", "--seq", "16", "--seed", "7", "--checkpoint-every", "1",
        "--no-progress", "--threads", "1"]
KILLS = 6             # the run is killed at least this many times before it may finish,
CUT_WRITES = 2        # at least this many of them inside a write of latest/ (up to 3 * KILLS kills for that)
TIMEOUT = 120         # per process: far above what one needs


def bits(run: Path) -> list[tuple[float, float]]:
    """(training, held-out) bits per symbol of every epoch, from latest/."""
    history = json.loads((run / "latest" / "config.json").read_text())["progress"]["history"]
    return [(r["train_bits_per_symbol"], r["held_out_bits_per_symbol"]) for r in history]


def traces(run: Path) -> set[str]:
    """What a write of latest/ has beside it while it runs: its temporary folder, the previous one set aside."""
    try:
        return {name for name in os.listdir(run) if name.startswith(".latest.")}
    except FileNotFoundError:
        return set()


def assert_latest_loads(run: Path) -> int:
    """latest/ (or, killed between the two renames of its swap, the one set aside) is a whole checkpoint
    with its training state; its epochs completed."""
    ckpt = load_checkpoint(run / "latest")
    state = read_tensors(settled(run / "latest") / TRAINING_STATE)
    assert "rng" in state
    return ckpt.meta["progress"]["epoch"]


def test_kill_9_at_random_moments_resumes_to_the_same_losses(tmp_path):
    corpus = tmp_path / "tunes.abc"
    corpus.write_text(join_tunes(list(load_bundled("jigs")[:8])))
    start = time.perf_counter()
    straight = subprocess.Popen(TUNESMITH + ["train", "--corpus", str(corpus), *ARGS, "--epochs", str(EPOCHS),
                                             "--out", str(tmp_path / "straight")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)

    rng = random.Random(14)
    run = tmp_path / "killed"
    fresh = TUNESMITH + ["train", "--corpus", str(corpus), *ARGS, "--epochs", str(EPOCHS), "--out", str(run)]
    resume = TUNESMITH + ["train", "--resume", str(run), "--no-progress", "--threads", "1"]
    saved_epoch = -1      # the epochs latest/ held after the last kill (-1: there was no latest/ yet)
    kills, during_write = 0, 0
    while True:
        left = traces(run)  # by the writes killed before: not a write of this process
        proc = subprocess.Popen(resume if saved_epoch >= 0 else fresh, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env=ENV)
        if kills < KILLS or (during_write < CUT_WRITES and kills < 3 * KILLS):
            at_write = kills % 3 != 2  # two kills of three aim at a write of latest/: this process's 1st to 3rd
            nth = rng.randint(1, 3)    # (after the 1st, the run has moved on since the last kill)
            deadline = time.monotonic() + (TIMEOUT if at_write else rng.uniform(1.0, 4.0))
            writes: set[str] = set()   # the temporary folders of this process's writes of latest/
            while proc.poll() is None and time.monotonic() < deadline:
                if at_write:
                    writes |= {name for name in traces(run) - left if name != ".latest.old"}
                    if len(writes) >= nth:
                        time.sleep(rng.uniform(0, 0.002))  # somewhere inside the write (it takes 4-25 ms)
                        break
                time.sleep(0.0005)
            if proc.poll() is None:
                in_write = bool(traces(run) - left)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=TIMEOUT)
                kills += 1
                cut = in_write and bool(traces(run) - left)  # the write was cut: its traces remain
                during_write += cut
                if settled(run / "latest").exists() or saved_epoch >= 0:
                    epoch = assert_latest_loads(run)
                    assert epoch >= saved_epoch, "latest/ went back in time"
                    saved_epoch = epoch
                print(f"kill {kills}: {f'aimed at write {nth}' if at_write else 'at random'}, "
                      f"{'cut a write of latest/' if cut else 'between writes'}; latest/ holds epoch {saved_epoch}")
                continue
        _, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, err
        break
    _, err = straight.communicate(timeout=TIMEOUT)
    assert straight.returncode == 0, err
    seconds = time.perf_counter() - start
    print(f"{kills} kills, {during_write} while latest/ was being written, {seconds:.0f} s")

    assert kills >= KILLS and during_write >= CUT_WRITES, (kills, during_write)
    assert bits(run) == bits(tmp_path / "straight")
    a = load_checkpoint(run / "latest").model.state_dict()
    b = load_checkpoint(tmp_path / "straight" / "latest").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # Nothing a killed write left behind is still there: a run killed N times does not keep N copies.
    assert sorted(os.listdir(run)) == ["best", "latest"]


def write_and_die(path: Path, model: CharRNN, codec: CharCodec, meta: dict, die_at: int) -> int | None:
    """Write a checkpoint in a forked child that dies (os._exit: no cleanup, as SIGKILL) just before the
    `die_at`-th step that changes the folders on disk (a rename or a removal); None if it died, else the
    number of steps the whole write took."""
    import shutil

    from tunesmith import atomic

    pid = os.fork()
    if pid == 0:
        steps = 0

        def dying(real):
            def step(*args, **kwargs):
                nonlocal steps
                steps += 1
                if steps == die_at:
                    os._exit(137)
                return real(*args, **kwargs)
            return step

        try:
            atomic.os = type(os)("os_in_child")  # only atomic.py's view of os and shutil is changed
            atomic.os.__dict__.update(os.__dict__, replace=dying(os.replace))
            atomic.shutil = type(shutil)("shutil_in_child")
            atomic.shutil.__dict__.update(shutil.__dict__, rmtree=dying(shutil.rmtree))
            write_checkpoint(path, model, codec, meta)
        finally:
            os._exit(100 + steps)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code == 137 or code > 100, code
    return None if code == 137 else code - 100


def test_a_checkpoint_killed_at_any_step_of_its_write_is_the_old_or_the_new(tmp_path):
    """Each step of replacing a checkpoint folder, cut by a kill: the folder still loads, old or new, whole."""
    codec = CharCodec.fit(["X:1\nK:D\nabc\n"])
    torch.manual_seed(1)
    model = CharRNN(ModelConfig("lstm", len(codec), 8, 8, 1, 0.0))
    path = tmp_path / "latest"
    die_at, steps = 1, None
    while steps is None:
        write_checkpoint(path, model, codec, {"version": 1})
        steps = write_and_die(path, model, codec, {"version": 2}, die_at)
        version = load_checkpoint(path).meta["version"]
        assert version == 2 if steps is not None else version in (1, 2), (die_at, version)
        die_at += 1
    assert steps >= 2  # the kills fell between every two steps of the write
    # The next write, after all those kills, leaves nothing else beside the folder.
    write_checkpoint(path, model, codec, {"version": 3})
    assert sorted(os.listdir(tmp_path)) == ["latest"] and load_checkpoint(path).meta["version"] == 3
