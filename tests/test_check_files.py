"""Files of pieces read the same way by every command: `check`, `render`, and corpus loading.

- A file with no piece in it (prose, random text, random bytes, empty) is one
  error, with the same words and exit 2, in `check`, `render` and wherever a
  mode reads a file (`load_source`: `train --corpus`, `visualize --text`,
  `evaluate --heldout`), in every mode.
- An ABC tune without its `X:` line is read as a tune, with a warning.
- `check a b c` reports every file and exits with the worst status (2 > 1 > 0).
"""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunesmith import cli
from tunesmith.errors import TunesmithError
from tunesmith.modes import get_mode

KESH = "X:3\nT:The Kesh\nR:jig\nM:6/8\nL:1/8\nK:G\nGAG GAB|ABA ABd|edd gdd|edB dBA:|\n"
REEL = "X:7\nT:Drowsy Maggie\nM:4/4\nL:1/8\nK:Edor\nE2BE dEBE|E2BE AFDF|E2BE dEBE|BABc dBAF:|\n"
BAD_BAR = "X:9\nT:Short\nM:4/4\nL:1/8\nK:D\nABcd|efg|abcd|\n"  # bar 2 is a note short
KAIDA = ("title: Delhi kaida\ntala: teentaal\ntempo: 90\nform: kaida\n"
         "Dha Dha Ti Ta | Dha Dha Tin Na | Ta Ta Ti Ta | Dha Dha Dhin Na ||\nDha\n")
EVENTS = "Tempo_120 TS_4/4\nBar Pos_0 Vel_80 Pitch_60 Dur_12 Pos_12 Pitch_62 Dur_12\n"
PROSE = "These are my notes about the session.\nK:D is a key, and so on.\nTake it easy.\n"

SUFFIX = {"abc": ".abc", "midi": ".txt", "tabla": ".txt"}
GOOD = {"abc": KESH, "midi": EVENTS, "tabla": KAIDA}
MODES = tuple(GOOD)


def run(*args: str) -> tuple[int, str, str]:
    """The real entry point in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), mock.patch.object(sys, "argv", ["tunesmith", *args]):
        try:
            cli.main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    return code, out.getvalue(), err.getvalue()


def load_error(mode: str, path: Path) -> str | None:
    """What reading the file as a corpus source says (None: it was read), as train/visualize/evaluate do."""
    try:
        with redirect_stderr(io.StringIO()):
            get_mode(mode).load_source(str(path))
    except TunesmithError as exc:
        return str(exc)
    return None


def render_error(path: Path) -> str | None:
    """What `render` says reading the file (None: it has tunes to render)."""
    from tunesmith.render.files import tunes_to_render

    try:
        with redirect_stderr(io.StringIO()):
            tunes_to_render(path)
    except TunesmithError as exc:
        return str(exc)
    return None


def error_lines(err: str) -> list[str]:
    return [line[len("error: "):] for line in err.splitlines() if line.startswith("error: ")]


def assert_reads_alike(mode: str, path: Path) -> None:
    """`check` and the corpus reader (and, for ABC, `render`) agree on the file.

    - check exit 2 (no piece, unreadable) <=> reading it fails, with the same message;
    - otherwise a file the reader refuses has a problem `check` reports (exit 1); an ABC
      file is also refused for holding only tunes with several voices, which check and render read.
    """
    code, out, err = run("check", "--mode", mode, str(path))
    assert "Traceback" not in err, err
    loaded = load_error(mode, path)
    if code == 2:
        assert out == "" and err.count("\n") == 1, err
        (message,) = error_lines(err)
        assert str(path) in message
        assert loaded == message
        if mode == "abc":
            assert render_error(path) == message
        return
    assert code in (0, 1), (code, err)
    if loaded is not None:
        assert code == 1 or (mode == "abc" and "several voices" in loaded), (loaded, out)
    elif mode != "abc":  # midi and tabla read only clean pieces; abc trains on tunes with odd bars too
        assert code == 0, out
    if mode == "abc":
        rendered = render_error(path)
        if rendered != loaded:  # render also plays and draws the tunes of several voices that training leaves out
            assert loaded is not None and "V:" in path.read_text(errors="replace"), (loaded, rendered)
            assert rendered is None or "several voices" not in rendered, rendered


# -- a file with no piece ---------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("content", [PROSE, "", "\n  \n\t\n", "random words only\n\nand more\n"])
def test_a_file_with_no_piece_is_one_error_everywhere(tmp_path, mode, content):
    path = tmp_path / f"notes{SUFFIX[mode]}"
    path.write_text(content)
    code, out, err = run("check", "--mode", mode, str(path))
    assert (code, out) == (2, "")
    (message,) = error_lines(err)
    assert err == f"error: {message}\n"
    piece = {"abc": "no ABC tunes found", "midi": "no MIDI pieces found", "tabla": "no tabla compositions found"}
    assert message.startswith(f"{path}: {piece[mode]}; ")
    assert ("the file is empty" in message) == (not content.strip())
    assert load_error(mode, path) == message
    # visualize --text and evaluate --heldout read their file through the mode of the checkpoint
    from tunesmith.insight.evaluate import file_texts
    from tunesmith.insight.visualize import piece_from_file

    ckpt = SimpleNamespace(meta={"mode": mode})
    for read in (piece_from_file, file_texts):
        with pytest.raises(TunesmithError) as caught:
            read(ckpt, path)
        assert str(caught.value) == message


def test_render_and_train_say_the_same_as_check(tmp_path):
    prose = tmp_path / "prose.abc"
    prose.write_text(PROSE)
    lines = []
    for args in (["check", str(prose)], ["render", str(prose), "--to", "midi", "-o", str(tmp_path / "out")],
                 ["train", "--corpus", str(prose), "--out", str(tmp_path / "run")]):
        code, out, err = run(*args)
        assert (code, out) == (2, "") and err.count("\n") == 1, (args, err)
        lines.append(err)
    assert lines[0] == lines[1] == lines[2] and lines[0].startswith(f"error: {prose}: no ABC tunes found; ")
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists()


def test_a_tune_that_cannot_be_read_is_named_with_its_reason(tmp_path):
    """A file whose only tune has no music: check says what is wrong (exit 1); render and train say why none is read."""
    header = tmp_path / "header.abc"
    header.write_text("X:1\nT:Only a header\nK:D\n")
    code, out, _ = run("check", str(header))
    assert code == 1 and "no music after the K: line" in out
    message = f"{header}: no ABC tunes found; the tune at line 1 has no music after its K: line (see `tunesmith check`)"
    assert load_error("abc", header) == render_error(header) == message
    voices = tmp_path / "voices.abc"
    voices.write_text("X:1\nT:Two voices\nM:4/4\nL:1/4\nK:C\nV:1\nCDEF|\nV:2\nEFGA|\n")
    assert "several voices (V:)" in load_error("abc", voices)
    assert render_error(voices) is None  # render plays and draws every voice


# -- a tune without X: --------------------------------------------------------------

@pytest.mark.parametrize("tune", [KESH, REEL])
def test_a_tune_without_x_is_read_with_a_warning(tmp_path, tune):
    path = tmp_path / "nox.abc"
    text = tune.split("\n", 1)[1]  # everything but the X: line
    path.write_text("% my tunes\n\n" + text)
    code, out, err = run("check", str(path))
    title = text.split("\n", 1)[0][2:]
    assert code == 0, out
    assert out == (f"{path}:3:1: tune at line 3 ({title}): warning: no X: line before this tune; read as a tune "
                   "(ABC starts every tune with one, e.g. X:1)\n")
    assert "1 pieces checked, 0 with problems, 1 with warnings" in err
    code, out, _ = run("check", "--json", str(path))
    (piece,) = json.loads(out)[str(path)]
    assert code == 0 and piece["number"] == "" and piece["title"] == title and piece["problems"] == []
    assert [w["line"] for w in piece["warnings"]] == [3] and "no X: line" in piece["warnings"][0]["message"]

    err = io.StringIO()
    with redirect_stderr(err):
        (loaded,) = get_mode("abc").load_source(str(path))
    assert loaded.title == title and loaded.text_without_number == load_tune(tune).text_without_number
    assert err.getvalue() == f"warning: {path}: 1 tune(s) without an X: line (line 3); read as tunes\n"


def load_tune(text: str):
    from tunesmith.music.abc.tunes import parse_tunes

    (tune,) = parse_tunes(text)
    return tune


def test_render_renders_a_tune_without_x(tmp_path):
    path = tmp_path / "kesh.abc"
    path.write_text(KESH.split("\n", 1)[1])
    code, _, err = run("render", str(path), "--to", "midi", "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert "without an X: line" in err and "wrote 1 files for 1 tunes" in err
    (written,) = (tmp_path / "out").iterdir()
    assert written.name == "kesh-0-the-kesh.mid" and written.read_bytes().startswith(b"MThd")


def test_free_text_with_a_key_is_not_a_tune(tmp_path):
    from tunesmith.music.abc.tunes import reads_as_tune

    assert reads_as_tune(["T:Kesh", "K:G", "GAG|"]) and reads_as_tune(["K:G", "GAG|"])
    assert reads_as_tune(["T:Kesh", "M:6/8", "K:G"])                   # a header: read, and check says: no music
    assert not reads_as_tune(["These are notes.", "K:D is a key.", "abc"])
    assert not reads_as_tune(["K:D is a key."]) and not reads_as_tune(["T:A title only"])


# -- tunes with fields removed, random text and bytes: every reader agrees -----------------

TUNE_LINES = (KESH + "\n" + REEL).split("\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.lists(st.booleans(), min_size=len(TUNE_LINES), max_size=len(TUNE_LINES)))
def test_tunes_with_lines_removed_read_alike(tmp_path, keep):
    path = tmp_path / "cut.abc"
    path.write_text("\n".join(line for line, k in zip(TUNE_LINES, keep) if k) + "\n")
    assert_reads_alike("abc", path)


ABCISH = st.text(alphabet=st.sampled_from(list("XTKMLV:|abcdefgzABCDEFG \n%[]\"23/-")), max_size=120)
TABLAISH = st.lists(st.sampled_from(["Dha", "Ti", "Na", "take", "words", "tala:", "teentaal", "dadra", "\n",
                                      "|", "||", "#", "title:", "x", "-", "\n\n"]), max_size=40).map(" ".join)
EVENTISH = st.lists(st.sampled_from(["Tempo_120", "TS_4/4", "Bar", "Pos_0", "Pos_12", "Vel_80", "Pitch_60",
                                     "Dur_12", "hello", "\n", "\n\n"]), max_size=30).map(" ".join)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=st.sampled_from(MODES), data=st.data())
def test_random_text_and_bytes_read_alike(tmp_path, mode, data):
    special = {"abc": ABCISH, "tabla": TABLAISH, "midi": EVENTISH}[mode]
    content = data.draw(st.one_of(st.binary(max_size=200), st.text(max_size=200), special))
    path = tmp_path / f"random{SUFFIX[mode]}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert_reads_alike(mode, path)


# -- check a b c --------------------------------------------------------------------

KINDS = {  # name -> (content, exit status of `check` on it alone)
    "clean": (KESH, 0),
    "problem": (BAD_BAR, 1),
    "warning": (REEL.split("\n", 1)[1], 0),
    "binary": (b"X:1\nT:x\nK:D\nabc\n" + bytes(range(256)), 2),
    "prose": (PROSE, 2),
    "empty": ("", 2),
    "missing": (None, 2),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=5))
def test_every_file_is_reported_and_the_worst_status_wins(tmp_path, kinds):
    paths = []
    for i, kind in enumerate(kinds):
        path = tmp_path / f"{i}-{kind}.abc"
        content = KINDS[kind][0]
        path.unlink(missing_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        paths.append(path)
    worst = max(KINDS[k][1] for k in kinds)
    unreadable = [p for p, k in zip(paths, kinds) if KINDS[k][1] == 2]

    code, out, err = run("check", *map(str, paths))
    assert code == worst, (kinds, err)
    assert "Traceback" not in err
    errors = error_lines(err)
    assert len(errors) == len(unreadable) and all(str(p) in e for p, e in zip(unreadable, errors))
    for path, kind in zip(paths, kinds):
        assert (f"{path}:" in out) == (kind in ("problem", "warning")), (kind, out)
    if len(unreadable) == len(paths):
        assert out == "" and err.count("\n") == len(paths)  # nothing but the error lines
    else:
        assert f"{len(unreadable)} of {len(paths)} files could not be read" in err if unreadable else True

    code, out, err = run("check", "--json", *map(str, paths))
    assert code == worst
    report = json.loads(out)
    assert set(report) == set(map(str, paths))
    for path, kind in zip(paths, kinds):
        entry = report[str(path)]
        if KINDS[kind][1] == 2:
            assert entry == {"error": next(e for e in errors if e.startswith(f"{path}:"))}
        else:
            assert [bool(p["problems"]) for p in entry] == [kind == "problem"]
            assert [bool(p["warnings"]) for p in entry] == [kind == "warning"]


@pytest.mark.parametrize("mode", ["midi", "tabla"])
def test_other_modes_report_every_file_too(tmp_path, mode):
    good = tmp_path / "good.txt"
    good.write_text(GOOD[mode])
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)))
    code, out, err = run("check", "--mode", mode, str(binary), str(good), str(tmp_path / "missing.txt"))
    assert code == 2 and out == ""
    assert error_lines(err)[0].startswith(f"{binary}: a binary file")
    assert error_lines(err)[1] == f"{tmp_path / 'missing.txt'}: cannot read (No such file or directory)"
    assert "1 pieces checked, 0 with problems; 2 of 3 files could not be read" in err


def test_render_renders_the_readable_files_and_exits_2(tmp_path):
    good, bad = tmp_path / "good.abc", tmp_path / "bad.abc"
    good.write_text(KESH)
    bad.write_bytes(bytes(range(256)))
    out = tmp_path / "out"
    code, stdout, err = run("render", str(bad), str(good), "--to", "midi", "-o", str(out))
    assert code == 2 and stdout == ""
    assert error_lines(err) == [f"{bad}: a binary file, not ABC text"]
    assert "wrote 1 files for 1 tunes" in err and "1 of 2 files could not be read" in err
    assert [p.name for p in out.iterdir()] == ["good-3-the-kesh.mid"]  # whole files only, no temporary left
