"""The real `tunesmith` command on bad input: exit 2, one line on stderr, no traceback, no output.

Every case runs the CLI's own entry point (`tunesmith.cli:main`) in a process of its
own, with the real argv, exit status and stderr. Importing torch costs seconds per
process, so most cases run in children forked from one runner process that has
imported tunesmith and torch once (see RUNNER); a few run as fully separate
`tunesmith` / `python -m tunesmith.cli` processes, to show that the forked runs
behave like the installed command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from safetensors.torch import save_file

from tunesmith.checkpoint import CONFIG, WEIGHTS, write_checkpoint
from tunesmith.codecs.abc_chars import CharCodec
from tunesmith.models import CharRNN, ModelConfig

TIMEOUT = 120
# One torch thread per process: these runs are tiny, and with the CPUs busy (tests run in
# parallel with other work) OpenMP's thread hand-offs make each sampling step ~100x slower.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

# The vocabulary has every letter and digit, so that a bad --key/--meter/--length is caught by
# the option's own check, not only because the model cannot write it; "@" stays out of it.
TUNES = (
    "X:1\nT:Alpha Jig\nM:6/8\nL:1/8\nR:jig\nK:D\nABc def|gfe dcB|\n\n"
    "X:2\nT:Bravo Reel\nM:4/4\nL:1/8\nR:reel\nK:G\nGABc dedB|cBAG FGAB|]\n\n"
    "X:3\nT:the quick brown fox jumps over the lazy dog 0123456789\nN:CEHIJKLMNOPQRSTUVWXYZ\nK:D\nd|\n"
)

# Forks one child per job from a process that has already imported torch and tunesmith.
# A child does what Python does for `tunesmith ARGS`: call main(), turn SystemExit into
# the exit status, print an uncaught exception's traceback and exit 1.
RUNNER = r"""
import contextlib, io, json, os, sys, traceback
import torch
import tunesmith.cli, tunesmith.train, tunesmith.checkpoint, tunesmith.generate

# Warm up: the first call imports what typer loads lazily (pydantic, ...), 0.2 s a child otherwise.
sys.argv = ["tunesmith", "generate", "--temperature", "0"]
with contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(SystemExit, Exception):
    tunesmith.cli.main()

jobs = json.loads(sys.stdin.read())
results = {}
for name, job in jobs.items():
    out_file, err_file = job["log"] + ".stdout", job["log"] + ".stderr"
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(job["cwd"])
            for fd, file in ((1, out_file), (2, err_file)):
                handle = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(handle, fd)
                os.close(handle)
            sys.argv = ["tunesmith", *job["args"]]
            try:
                tunesmith.cli.main()
                code = 0
            except SystemExit as exc:
                if exc.code is None:
                    code = 0
                elif isinstance(exc.code, int):
                    code = exc.code
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    results[name] = {
        "rc": os.waitstatus_to_exitcode(status),
        "stdout": open(out_file, encoding="utf-8", errors="replace").read(),
        "stderr": open(err_file, encoding="utf-8", errors="replace").read(),
    }
print(json.dumps(results))
"""


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str


@dataclass
class Case:
    args: list[str]
    cwd: Path            # the job's own folder: nothing may appear in it on an error
    names: list[str]     # fragments the error line must contain (the file, the option)


def tiny_checkpoint(path: Path, codec: CharCodec, hidden: int = 8) -> None:
    model = CharRNN(ModelConfig("lstm", len(codec), 8, hidden, 1, 0.0))
    write_checkpoint(path, model, codec, {})


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Fixture files, a tiny valid checkpoint and broken ones, and every CLI run's result."""
    root = tmp_path_factory.mktemp("cli")
    data = root / "data"
    data.mkdir()
    (data / "empty_folder").mkdir()
    (data / "folder_without_abc").mkdir()
    (data / "folder_without_abc" / "notes.txt").write_text(TUNES)
    (data / "empty.abc").write_text("")
    (data / "binary.abc").write_bytes(b"X:1\nT:x\nK:D\n" + bytes(range(256)))
    (data / "prose.abc").write_text("Some notes about tunes; no tune here.\nK:D is a key.\n")

    import torch

    torch.manual_seed(0)
    codec = CharCodec.fit([TUNES])
    assert "@" not in codec.vocab
    assert set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/") <= set(codec.vocab)
    good = data / "tiny"
    tiny_checkpoint(good, codec)

    corrupt_config = data / "corrupt_config"
    tiny_checkpoint(corrupt_config, codec)
    (corrupt_config / CONFIG).write_text('{"format": "tunesmith-checkpoint", "model": {')

    mismatched = data / "mismatched"
    tiny_checkpoint(mismatched, codec)
    other = CharRNN(ModelConfig("lstm", len(codec), 8, 16, 1, 0.0))
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(mismatched / WEIGHTS))

    garbage = data / "garbage_weights"
    tiny_checkpoint(garbage, codec)
    (garbage / WEIGHTS).write_bytes(b"this is not a safetensors file")

    gen = ["generate", "--model", str(good), "-o", "out.abc"]
    cases = {
        "train_missing": Case(["train", "--corpus", "does/not/exist", "--out", "run"], root, ["does/not/exist"]),
        "train_empty_folder": Case(["train", "--corpus", str(data / "empty_folder"), "--out", "run"], root,
                                   [str(data / "empty_folder")]),
        "train_folder_without_abc": Case(["train", "--corpus", str(data / "folder_without_abc"), "--out", "run"],
                                         root, [str(data / "folder_without_abc")]),
        "train_empty_file": Case(["train", "--corpus", str(data / "empty.abc"), "--out", "run"], root,
                                 [str(data / "empty.abc")]),
        "train_binary_file": Case(["train", "--corpus", str(data / "binary.abc"), "--out", "run"], root,
                                  [str(data / "binary.abc")]),
        "train_no_tunes": Case(["train", "--corpus", str(data / "prose.abc"), "--out", "run"], root,
                               [str(data / "prose.abc")]),
        "train_epochs_0": Case(["train", "--corpus", "oneills1850", "--out", "run", "--epochs", "0"], root,
                               ["--epochs"]),
        "generate_missing_model": Case(["generate", "--model", str(data / "no_such_model"), "-o", "out.abc"], root,
                                       [str(data / "no_such_model")]),
        "generate_corrupt_config": Case(["generate", "--model", str(corrupt_config), "-o", "out.abc"], root,
                                        [str(corrupt_config / CONFIG)]),
        "generate_mismatched_weights": Case(["generate", "--model", str(mismatched), "-o", "out.abc"], root,
                                            [str(mismatched / WEIGHTS)]),
        "generate_garbage_weights": Case(["generate", "--model", str(garbage), "-o", "out.abc"], root,
                                         [str(garbage / WEIGHTS)]),
        "temperature_0": Case(gen + ["--temperature", "0"], root, ["--temperature"]),
        "temperature_negative": Case(gen + ["--temperature", "-1"], root, ["--temperature"]),
        "top_p_0": Case(gen + ["--top-p", "0"], root, ["--top-p"]),
        "top_p_1.5": Case(gen + ["--top-p", "1.5"], root, ["--top-p"]),
        "top_k_0": Case(gen + ["--top-k", "0"], root, ["--top-k"]),
        "n_0": Case(gen + ["-n", "0"], root, ["-n"]),
        "meter_7/0": Case(gen + ["--meter", "7/0"], root, ["--meter", "7/0"]),
        "meter_abc": Case(gen + ["--meter", "abc"], root, ["--meter", "abc"]),
        "key_H": Case(gen + ["--key", "H"], root, ["--key", "'H'"]),
        "length_1/0": Case(gen + ["--length", "1/0"], root, ["--length"]),
        "max_length_5": Case(gen + ["--max-length", "5"], root, ["--max-length"]),
        "threads_0": Case(gen + ["--threads", "0"], root, ["--threads"]),
        "primer_unknown_char": Case(gen + ["--primer", "ABc@d"], root, ["--primer", "'@'"]),
        "primer_header_with_meter": Case(gen + ["--primer", "X:1\\nT:a\\nK:D\\n", "--meter", "6/8"], root,
                                         ["--primer"]),
    }
    jobs = {}
    for i, (name, case) in enumerate(cases.items()):
        case.cwd = root / "jobs" / f"{i:02d}"
        case.cwd.mkdir(parents=True)
    positive = ["generate", "--model", str(good), "-n", "2", "--seed", "3", "--max-length", "200", "-o", "out.abc"]
    other_seed = positive[:6] + ["4"] + positive[7:]
    runs = {"good_1": positive, "good_2": positive, "good_seed_4": other_seed}
    for name, args in runs.items():
        (root / "jobs" / name).mkdir()
    logs = root / "logs"
    logs.mkdir()
    for name, case in cases.items():
        jobs[name] = {"args": case.args, "cwd": str(case.cwd), "log": str(logs / name.replace("/", "_"))}
    for name, args in runs.items():
        jobs[name] = {"args": args, "cwd": str(root / "jobs" / name), "log": str(logs / name)}

    # Fully separate processes of the installed command, started alongside the runner.
    script = Path(sys.executable).with_name("tunesmith")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tunesmith.cli"]
    separate = {
        "real_good": (command + positive, root / "jobs" / "real_good"),
        "real_train_missing": ([sys.executable, "-m", "tunesmith.cli", "train", "--corpus", "does/not/exist",
                                "--out", "run"], root / "jobs" / "real_train_missing"),
    }
    procs = {}
    for name, (argv, cwd) in separate.items():
        cwd.mkdir()
        procs[name] = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       env=ENV)
    runner = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(jobs), capture_output=True,
                            text=True, timeout=TIMEOUT, env=ENV)
    assert runner.returncode == 0, runner.stderr
    results = {name: Result(**r) for name, r in json.loads(runner.stdout).items()}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
        results[name] = Result(proc.returncode, stdout, stderr)
    return {"root": root, "cases": cases, "results": results}


def assert_clean_error(result: Result, names: list[str], cwd: Path) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.rc == 2, (result.rc, result.stderr)
    lines = result.stderr.strip("\n").split("\n")
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert result.stdout == ""
    assert list(cwd.iterdir()) == [], "an error left files behind"


CASE_NAMES = [
    "train_missing", "train_empty_folder", "train_folder_without_abc", "train_empty_file",
    "train_binary_file", "train_no_tunes", "train_epochs_0",
    "generate_missing_model", "generate_corrupt_config", "generate_mismatched_weights",
    "generate_garbage_weights",
    "temperature_0", "temperature_negative", "top_p_0", "top_p_1.5", "top_k_0", "n_0",
    "meter_7/0", "meter_abc", "key_H", "length_1/0", "max_length_5", "threads_0",
    "primer_unknown_char", "primer_header_with_meter",
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_is_one_line_exit_2(env, name):
    case = env["cases"][name]
    assert_clean_error(env["results"][name], case.names, case.cwd)


def test_every_case_is_checked(env):
    assert sorted(CASE_NAMES) == sorted(env["cases"])


def test_separate_process_error_matches(env):
    real = env["results"]["real_train_missing"]
    assert_clean_error(real, ["does/not/exist"], env["root"] / "jobs" / "real_train_missing")
    assert real.stderr == env["results"]["train_missing"].stderr


def test_primer_error_names_character_only(env):
    line = env["results"]["primer_unknown_char"].stderr
    assert "'@'" in line and "'@A" not in line


def test_tiny_checkpoint_generates_reproducibly(env):
    jobs = env["root"] / "jobs"
    texts = []
    for name in ("good_1", "good_2", "real_good"):
        result = env["results"][name]
        assert result.rc == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert "wrote 2 tunes" in result.stderr
        texts.append((jobs / name / "out.abc").read_text())
        assert os.listdir(jobs / name) == ["out.abc"]  # no temporary file left beside it
    assert texts[0] == texts[1] == texts[2]
    text = texts[0]
    assert text.startswith("X:1\n")
    assert "\nX:2\n" in text
    x_lines = [line for line in text.split("\n") if line.startswith("X:")]
    assert x_lines == ["X:1", "X:2"]
    assert text.isascii()


def test_other_seed_gives_other_tunes(env):
    jobs = env["root"] / "jobs"
    assert env["results"]["good_seed_4"].rc == 0
    assert (jobs / "good_seed_4" / "out.abc").read_text() != (jobs / "good_1" / "out.abc").read_text()
