"""`tunesmith finetune`: the shipped model adapted to real tunes it never saw (Essen songs from Germany).

The command end to end with a tiny CPU budget; the same seed giving the same
run, and a stopped run resuming exactly; tunes the vocabulary cannot spell
left out and counted; bad input refused with one line and exit 2, nothing
written; the web API's checks and a fine-tuning stopped from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tunesmith import finetune as ft
from tunesmith.checkpoint import DEFAULT_MODEL, SHIPPED_MODELS, load_checkpoint, read_config
from tunesmith.cli import main
from tunesmith.corpus.bundled import corpus_hash
from tunesmith.corpus.load import load_corpus, recorded_corpus
from tunesmith.errors import TunesmithError
from tunesmith.insight import abc2midi
from tunesmith.insight.reference import build_reference
from tunesmith.insight.visualize import held_out_texts
from tunesmith.music.abc.check import check_tune
from tunesmith.music.abc.tunes import join_tunes, parse_tunes
from tunesmith.train import TrainingInterrupted
from tunesmith.web.app import create_app
from tunesmith.web.service import Limits

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
# Tunes with a character the shipped model's vocabulary lacks ("@"), as a user's titles might have them.
AT_TUNES = ("X:1\nT:Tune @ Home\nM:3/4\nL:1/8\nK:D\nA2 d2 f2|e4 d2|]\n\n"
            "X:2\nT:Another @ One\nM:2/4\nL:1/8\nK:G\nGA Bc|d4|]\n\n"
            "X:3\nT:A Third @\nM:2/4\nL:1/8\nK:G\nBA GA|B4|]\n")


@pytest.fixture(scope="module")
def germany():
    """Essen songs from Germany: a style the shipped model (trained on `folk`) never saw."""
    return load_corpus(["essen-germany"]).tunes


def tunebook(folder: Path, tunes, extra: str = "", name: str = "mine.abc") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(join_tunes(list(tunes)) + ("\n" + extra if extra else ""))
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The real command in a process of its own."""
    return subprocess.run([sys.executable, "-m", "tunesmith", *args], capture_output=True, text=True, env=ENV,
                          timeout=600)


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    """`tunesmith ARGS` through the CLI's entry point in this process: (exit status, stdout, stderr)."""
    sys_argv = sys.argv
    sys.argv = ["tunesmith", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = sys_argv
    out, err = capsys.readouterr()
    return code, out, err


# -- the command end to end --------------------------------------------------------

def test_finetune_end_to_end_on_real_tunes(tmp_path, germany, capsys):
    book = tunebook(tmp_path, germany[:24])
    run = tmp_path / "runs" / "mine"
    done = run_cli("finetune", "--model", str(DEFAULT_MODEL), "--corpus", str(book), "--minutes", "0.05",
                   "--seed", "5", "--copy-check", "3", "--threads", "1", "--progress", "json", "--out", str(run))
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    stages = [line["stage"] for line in lines]
    assert stages[0] == "reading" and "started" in stages and "training" in stages and stages[-1] == "done"
    started = next(line for line in lines if line["stage"] == "started")
    assert (started["tunes"], started["train"], started["held_out"], started["unreadable"]) == (24, 19, 5, 0)

    report = json.loads((run / ft.REPORT).read_text())
    assert report == lines[-1]["report"]
    bits = report["held_out_bits_per_char"]
    assert bits["before"] == pytest.approx(started["before_bits_per_char"])
    assert bits["after"] < 0.95 * bits["before"], bits  # a few CPU seconds already move it towards the style
    assert report["training"]["stopped"] == "minutes" and report["training"]["cpu_seconds"] >= 3.0
    assert report["copies"]["generated"] == 3 and report["copies"]["held_out"] == 5
    assert 0 <= report["copies"]["flagged"] <= 3
    assert "held-out bits per character:" in done.stderr and f"generate --model {run}" in done.stderr

    # An ordinary run folder whose checkpoints say where they came from, with the model's own vocabulary.
    best, base = read_config(run / "best"), read_config(DEFAULT_MODEL)
    assert best["finetuned_from"]["model"] == str(DEFAULT_MODEL.resolve())
    assert best["finetuned_from"]["name"] == "default" and best["finetuned_from"]["corpus"] == ["folk"]
    assert best["finetuned_from"]["held_out_bits_per_char"] == pytest.approx(bits["before"])
    assert read_config(run / "latest")["finetuned_from"] == best["finetuned_from"]
    assert best["codec"] == base["codec"] and best["model"] == base["model"]
    assert best["corpus"]["split"] == {"held_out_share": 0.2, "seed": 5, "only_readable": True}
    # ... and the split it records is the one it trained on: read again, the same held-out tunes.
    tuned = load_checkpoint(run)
    again = recorded_corpus(best["corpus"], "abc", tuned.codec)
    assert corpus_hash(again.held_out) == best["corpus"]["held_out_hash"] and len(again.held_out) == 5
    # evaluate and visualize read that split: the held-out tunes, and the training tunes copies are sought in.
    assert held_out_texts(tuned, 100) == [t.text for t in again.held_out]
    reference = build_reference(best["corpus"]["sources"], None, "abc", best["corpus"]["split"], tuned.codec)
    assert reference.titles == [t.title for t in again.train] and len(reference.titles) == 19

    # generate and package work on it as on any run.
    code, out, err = in_process(capsys, "generate", "--model", str(run / "best"), "-n", "2", "--seed", "1")
    assert code == 0, err
    tunes = parse_tunes(out)
    assert len(tunes) == 2
    for tune in tunes:
        assert check_tune(tune.text) == []
        if abc2midi.available():
            assert abc2midi.judge(tune.text).ok, tune.text
    code, _, err = in_process(capsys, "package", str(run), str(tmp_path / "shipped"), "--name", "mine")
    assert code == 0, err
    card = (tmp_path / "shipped" / "MODEL_CARD.md").read_text()
    assert "fine-tuned with `tunesmith finetune` from the model `default`" in card
    assert "5 held out (20 %, by piece, drawn by seed 5)" in card
    assert read_config(tmp_path / "shipped")["finetuned_from"] == best["finetuned_from"]


# -- seeds and resuming ---------------------------------------------------------------

TWO_EPOCHS = ft.Settings(minutes=100, epochs=2, patience=0, seed=3, copy_check=2)


def bits_by_epoch(report: dict) -> list[float]:
    """Each epoch's training and held-out bits, one after the other."""
    return [r[key] for r in report["training"]["history"] for key in ("train_bits_per_symbol", "held_out_bits_per_symbol")]


def test_same_seed_same_run_and_a_stopped_run_resumes_exactly(tmp_path, germany):
    book = tunebook(tmp_path, germany[30:54])
    whole = ft.start(DEFAULT_MODEL, [str(book)], tmp_path / "whole", TWO_EPOCHS)
    ft.train(whole)
    first = ft.finish(whole)
    assert len(first["training"]["history"]) == 2

    again = ft.start(DEFAULT_MODEL, [str(book)], tmp_path / "again", TWO_EPOCHS)
    trainer, batches = again.trainer, []

    def stop_after_two(epoch: int, batch: int) -> None:
        batches.append(batch)
        if len(batches) == 2:
            trainer._stop = True  # what Ctrl-C does: the loop stops at the next batch and saves latest/

    with pytest.raises(TrainingInterrupted):
        trainer.run(show_progress=False, on_batch=stop_after_two)
    assert not (tmp_path / "again" / ft.REPORT).exists()
    resumed = ft.resume(tmp_path / "again", copy_check=2)
    assert resumed.trainer.progress.batch == 2 and resumed.base == whole.base  # stopped inside the first epoch
    ft.train(resumed)
    second = ft.finish(resumed)
    assert bits_by_epoch(second) == pytest.approx(bits_by_epoch(first), abs=1e-6)
    assert second["held_out_bits_per_char"] == pytest.approx(first["held_out_bits_per_char"], abs=1e-6)
    assert second["copies"]["longest_runs"] == first["copies"]["longest_runs"]  # the same tunes from the same seed


def test_resuming_a_finished_run_measures_and_reports_again(tmp_path, germany, capsys):
    book = tunebook(tmp_path, germany[60:75])
    job = ft.start(DEFAULT_MODEL, [str(book)], tmp_path / "run", ft.Settings(minutes=100, epochs=1, copy_check=0))
    ft.train(job)
    first = ft.finish(job)
    (tmp_path / "run" / ft.REPORT).unlink()
    code, _, err = in_process(capsys, "finetune", "--resume", str(tmp_path / "run"), "--copy-check", "0",
                              "--progress", "none")
    assert code == 0, err
    second = ft.read_report(tmp_path / "run")
    assert second["training"]["history"] == first["training"]["history"]  # no epoch more: it had finished
    assert second["held_out_bits_per_char"] == pytest.approx(first["held_out_bits_per_char"])


# -- tunes the model cannot read -----------------------------------------------------

def test_tunes_with_characters_the_model_lacks_are_left_out_and_counted(tmp_path, germany):
    book = tunebook(tmp_path, germany[80:92], AT_TUNES)
    job = ft.start(DEFAULT_MODEL, [str(book)], tmp_path / "run", ft.Settings(seed=2))
    corpus = job.trainer.corpus
    assert (len(corpus.tunes), len(corpus.unreadable), corpus.unknown_characters()) == (12, 3, "@")
    assert not any("@" in t.text for t in corpus.tunes)
    assert corpus.describe()["unreadable"] == 3
    assert not (tmp_path / "run").exists()  # nothing is written before training starts


def test_too_few_readable_tunes_is_an_error_that_says_why(tmp_path, germany):
    book = tunebook(tmp_path, germany[100:108], AT_TUNES)
    with pytest.raises(TunesmithError) as caught:
        ft.start(DEFAULT_MODEL, [str(book)], tmp_path / "run")
    assert str(caught.value) == (f"--corpus {book}: 8 tunes (3 more have characters the model's vocabulary lacks: "
                                 f"'@'); fine-tuning needs at least {ft.MIN_TUNES}")


def test_the_split_is_seeded_and_holds_out_the_share(germany):
    from tunesmith.corpus.split import Split

    tunes = germany[:50]
    train, held = Split(0.2, 7).apply(tunes)
    assert len(held) == 10 and len(train) == 40
    assert Split(0.2, 7).apply(list(reversed(tunes)))[1] == list(reversed(held))  # order does not move a tune
    assert {t.title for t in Split(0.2, 8).apply(tunes)[1]} != {t.title for t in held}
    assert len(Split(0.01, 0).apply(tunes[:10])[1]) == 1 and len(Split(0.99, 0).apply(tunes[:10])[0]) == 1


# -- bad input: exit 2, one line, nothing written -------------------------------------------

@pytest.fixture(scope="module")
def books(tmp_path_factory, germany):
    folder = tmp_path_factory.mktemp("books")
    return {"few": tunebook(folder, germany[:5], name="few.abc"), "ok": tunebook(folder, germany[:12], name="ok.abc")}


@pytest.mark.parametrize("args, message", [
    (["--corpus", "{few}"], "5 tunes; fine-tuning needs at least 10"),
    (["--corpus", "{ok}", "--minutes", "0"], "--minutes must be above 0"),
    (["--corpus", "{ok}", "--minutes", "nan"], "--minutes must be above 0"),
    (["--corpus", "{ok}", "--held-out", "1"], "--held-out must be a share between 0 and 1"),
    (["--corpus", "{ok}", "--seed", "-1"], "--seed must be between 0 and"),
    (["--corpus", "{ok}", "--lr", "0"], "--lr must be above 0"),
    (["--corpus", "{ok}", "--patience", "-1"], "--patience must be at least 0"),
    (["--corpus", "{ok}", "--progress", "xml"], "--progress 'xml': choose bar, json or none"),
    (["--corpus", "{missing}"], "no such file or folder"),
    ([], "--corpus: give your tunes"),
    (["--corpus", "{ok}", "--model", str(SHIPPED_MODELS / "tabla")], "a tabla model; finetune adapts ABC models"),
    (["--corpus", "{ok}", "--model", "{missing}"], "no such checkpoint folder"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, books, capsys, args, message):
    out = tmp_path / "run"
    names = {"few": books["few"], "ok": books["ok"], "missing": tmp_path / "nothing"}
    code, stdout, err = in_process(capsys, "finetune", "--out", str(out), "--progress", "none",
                                   *[a.format(**names) for a in args])
    assert code == 2, err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert stdout == "" and not out.exists()


def test_out_and_resume_are_checked(tmp_path, books, tiny_run, capsys):
    code, _, err = in_process(capsys, "finetune", "--corpus", str(books["ok"]), "--progress", "none")
    assert code == 2 and "--out: name the run folder" in err
    code, _, err = in_process(capsys, "finetune", "--corpus", str(books["ok"]), "--out", str(tiny_run))
    assert code == 2 and "a run is already there" in err and f"finetune --resume {tiny_run}" in err
    code, _, err = in_process(capsys, "finetune", "--resume", str(tiny_run))
    assert code == 2 and "not a fine-tuning run" in err and f"train --resume {tiny_run}" in err
    code, _, err = in_process(capsys, "finetune", "--resume", str(tiny_run), "--corpus", str(books["ok"]))
    assert code == 2 and "--resume takes the model, tunes" in err
    code, _, err = in_process(capsys, "finetune", "--resume", str(tmp_path / "none"))
    assert code == 2 and "no such checkpoint folder" in err


# -- the web API -------------------------------------------------------------------------

@pytest.fixture
def web(tmp_path):
    return TestClient(create_app(db=tmp_path / "tunes.db", runs_dir=tmp_path / "runs",
                                 limits=Limits(max_tunebook=20_000, finetune_minutes=10)))


def test_the_web_refuses_bad_uploads_at_once_and_keeps_nothing(tmp_path, web, germany):
    ok = join_tunes(germany[:12])
    cases = [
        ({"tunebook": join_tunes(germany[:4])}, 422, "tunebook: 4 tunes; fine-tuning needs at least 10"),
        ({"tunebook": "just words, no tune"}, 422, "tunebook: no ABC tunes found"),
        ({"tunebook": "X:1\nT:x\nK:D\n" + "d" * 20_000}, 413, "characters; at most 20000"),
        ({"tunebook": ok, "minutes": 11}, 422, "minutes: at most 10 CPU minutes here"),
        ({"tunebook": ok, "minutes": 0}, 422, "minutes"),
        ({"tunebook": ok, "name": "../up"}, 422, "name '../up': use 1 to 40 letters"),
        ({"tunebook": ok, "model": "nope"}, 400, "model 'nope': no such model"),
        ({"tunebook": ok, "seed": 2**31}, 422, "seed"),
    ]
    for body, status, message in cases:
        answer = web.post("/api/finetune", json=body)
        assert answer.status_code == status, (body.get("name"), answer.text)
        assert message in answer.json()["detail"], answer.text
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    (tmp_path / "runs" / "taken").mkdir(parents=True)
    answer = web.post("/api/finetune", json={"tunebook": ok, "name": "taken"})
    assert answer.status_code == 409 and "name 'taken': a run of that name exists" in answer.json()["detail"]
    assert web.get("/api/finetune/nothing-here").status_code == 404
    assert web.post("/api/finetune/nothing-here/stop").status_code == 404
    assert web.get("/api/finetune").json() == {"finetunes": []}


def test_the_web_needs_a_runs_folder(tmp_path, germany):
    web = TestClient(create_app(db=tmp_path / "tunes.db", runs_dir=None))
    answer = web.post("/api/finetune", json={"tunebook": join_tunes(germany[:12])})
    assert answer.status_code == 409 and "serve --models-dir runs" in answer.json()["detail"]


def wait_for(web, name: str, done, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = web.get(f"/api/finetune/{name}").json()
        if done(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.5)


def test_a_web_fine_tuning_can_be_stopped_and_resumed_from_the_command_line(tmp_path, web, germany, capsys):
    answer = web.post("/api/finetune", json={"tunebook": join_tunes(germany[120:136]), "name": "stopme",
                                             "minutes": 5, "seed": 4})
    assert answer.status_code == 202, answer.text
    assert answer.json()["state"] == "running" and answer.json()["model"] == "runs/stopme"
    second = web.post("/api/finetune", json={"tunebook": join_tunes(germany[:12])})
    assert second.status_code == 409 and "one at a time" in second.json()["detail"]
    job = wait_for(web, "stopme", lambda j: j["epoch"] is not None or j["state"] != "running")
    assert job["state"] == "running" and job["tunes"] == 16 and job["before_bits_per_char"] > 2, job
    web.post("/api/finetune/stopme/stop")
    job = wait_for(web, "stopme", lambda j: j["state"] != "running", timeout=120)
    run = tmp_path / "runs" / "stopme"
    assert job["state"] == "stopped", job.get("error")  # why it failed, in full (the dict is cut in the report)
    assert job["resume"] == f"tunesmith finetune --resume {run}", job
    assert (run / "latest").is_dir() and not (run / ft.REPORT).exists()
    # It carries on from the command line (a smaller total budget: it ends at the next batch).
    code, _, err = in_process(capsys, "finetune", "--resume", str(run), "--minutes", "0.001", "--copy-check", "1",
                              "--progress", "none")
    assert code == 0, err
    assert ft.read_report(run)["corpus"]["tunes"] == 16
    job = web.get("/api/finetune/stopme").json()
    assert job["state"] == "done" and job["summary"] and job["resume"] is None
    assert web.get("/api/finetune").json()["finetunes"][0]["name"] == "stopme"
