"""Writes that fail, and outputs that must not be written: a full disk at each write (an OSError
injected where files are renamed into place) gives one line and keeps the measured rows; an output that
is a link, a FIFO, a device, a folder or one of the run's inputs is refused and left as it is; a report
folder's files that mubench did not write are never overwritten."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mubench.checkpoints import shipped_checkpoint
from mubench.cli.app import app
from mubench.errors import UsageError
from mubench.outputs import check_replaceable
from mubench.results import write_bytes_atomic

TINY = ["-m", "ode-u-tiny"]
REAL_REPLACE = os.replace


def _disk_full(monkeypatch, when=lambda dst: True) -> None:
    """Every atomic rename (to a destination ``when`` accepts) fails as on a full disk."""

    def replace(src, dst, *args, **kwargs):
        if when(str(dst)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return REAL_REPLACE(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def _lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("error:")]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path


def test_a_full_disk_at_the_final_write_keeps_the_rows_in_a_named_file(in_tmp, monkeypatch, runner):
    _disk_full(monkeypatch, when=lambda dst: dst.endswith("params.csv"))
    result = runner.invoke(app, ["params", *TINY, "--csv", "params.csv", "-q"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = _lines(result)
    fallback = Path(line.rsplit(" ", 1)[1])
    assert "No space left" in line and pd.read_csv(fallback)["params_total"].iloc[0] > 0
    assert not (in_tmp / "params.csv").exists()


def test_a_full_disk_everywhere_prints_the_rows(in_tmp, monkeypatch, runner):
    _disk_full(monkeypatch)
    result = runner.invoke(app, ["params", *TINY, "--csv", "params.csv", "-q"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "they follow as CSV" in _lines(result)[0]
    assert "params_total" in result.stdout and "ode-u-tiny" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("command", ["params", "flops"])
def test_unfinished_rows_that_cannot_be_kept_do_not_stop_the_run(command, in_tmp, monkeypatch, runner):
    _disk_full(monkeypatch, when=lambda dst: ".partial" in dst)
    result = runner.invoke(app, [command, *TINY, "--csv", "out.csv", "-q"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(in_tmp / "out.csv")) >= 1


CHECKPOINT = str(shipped_checkpoint("ode-u-tiny"))
WRITERS = {  # command line -> the file the injected failure hits
    "sample": (["sample", *TINY, "--seeds", "0-1", "--steps", "2", "--out", "s", "-q"], "000000.png"),
    "sample grid": (["sample", *TINY, "--seeds", "0-1", "--steps", "2", "--out", "s", "-q"], "grid.png"),
    "train": (
        ["train", *TINY, "--steps", "1", "--batch-size", "2", "--out", "t.safetensors", "-q"],
        "t.json",
    ),
    "report": (["report", "rows.csv", "--out", "rep", "-q"], "report.md"),
    "run": (["run", "suite.toml", "--out", "r", "-q"], "results.csv"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(WRITERS))
def test_a_full_disk_at_each_writer_is_one_line(case, in_tmp, monkeypatch, runner):
    args, target = WRITERS[case]
    if case == "report":
        assert runner.invoke(app, ["params", *TINY, "--csv", "rows.csv", "-q"]).exit_code == 0
    (in_tmp / "suite.toml").write_text('[[params]]\nmodels = ["ode-u-tiny"]\n')
    _disk_full(monkeypatch, when=lambda dst: dst.endswith(target))
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    (line,) = _lines(result)
    assert "No space left on device" in line and target in line
    assert not [p for p in in_tmp.rglob("*.tmp")]  # no temporary file left behind
    if case == "run":  # the measured rows are kept
        kept = Path(line.split("every row so far is in ")[1])
        assert pd.read_csv(kept)["params_total"].iloc[0] > 0


def test_a_folder_where_a_png_goes_is_one_line(in_tmp, runner):
    (in_tmp / "s").mkdir()
    (in_tmp / "s" / "000001.png").mkdir()
    result = runner.invoke(app, ["sample", *TINY, "--seeds", "0-1", "--steps", "2", "--out", "s", "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


def test_statistics_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from mubench.fid.stats import write_npz
    from mubench.outputs import WriteError

    monkeypatch.setattr(os, "link", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space")))
    with pytest.raises(WriteError, match="No space"):
        write_npz(tmp_path / "s.npz", np.zeros(2), np.eye(2))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- special files and inputs


def _special(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"out-{kind}.csv"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        (tmp_path / "target.csv").write_text("the user's file\n")
        path.symlink_to(tmp_path / "target.csv")
    elif kind == "dangling symlink":
        path.symlink_to(tmp_path / "nowhere.csv")
    elif kind == "folder":
        path.mkdir()
    return path


@pytest.mark.parametrize("kind", ["fifo", "symlink", "dangling symlink", "folder"])
@pytest.mark.parametrize("flag", ["--csv", "--json"])
def test_an_output_that_is_not_a_regular_file_is_refused_and_left_as_it_is(kind, flag, tmp_path, runner):
    path = _special(tmp_path, kind)
    before = os.lstat(path)
    result = runner.invoke(app, ["params", *TINY, flag, str(path), "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert not (tmp_path / "nowhere.csv").exists()
    if kind == "symlink":
        assert (tmp_path / "target.csv").read_text() == "the user's file\n"


@pytest.mark.parametrize("kind", ["fifo", "symlink", "dangling symlink", "folder"])
def test_the_atomic_write_never_replaces_a_special_file(kind, tmp_path):
    path = _special(tmp_path, kind)
    before = os.lstat(path)
    with pytest.raises(UsageError, match="not a regular file|a directory"):
        write_bytes_atomic(path, b"x")
    assert os.lstat(path).st_ino == before.st_ino


@pytest.mark.skipif(not Path("/dev/null").is_char_device(), reason="no /dev/null")
def test_a_device_node_is_refused_before_anything_is_written():
    with pytest.raises(UsageError, match="a device, not a regular file"):
        check_replaceable(Path("/dev/null"))


def test_compare_refuses_to_write_over_its_baseline(tmp_path, runner):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert runner.invoke(app, ["params", *TINY, "--csv", str(a), "-q"]).exit_code == 0
    shutil.copy(a, b)
    before = a.read_bytes()
    for out in (a, b, Path(os.path.relpath(a))):
        result = runner.invoke(app, ["compare", str(a), str(b), "--csv", str(out)])
        assert result.exit_code == 2 and "would overwrite the input" in result.output, result.output
    assert a.read_bytes() == before


def test_fid_refuses_to_write_into_an_input_folder(tmp_path, runner):
    from PIL import Image

    for side in ("d1", "d2"):
        (tmp_path / side).mkdir()
        Image.new("RGB", (32, 32)).save(tmp_path / side / "000.png")
    before = (tmp_path / "d1" / "000.png").read_bytes()
    for out in ("d1/000.png", "d1/new.csv"):
        result = runner.invoke(app, ["fid", str(tmp_path / "d1"), str(tmp_path / "d2"), "--csv",
                                     str(tmp_path / out)])  # fmt: skip
        assert result.exit_code == 2 and "would overwrite the input" in result.output, result.output
    assert (tmp_path / "d1" / "000.png").read_bytes() == before


def test_a_name_the_file_system_accepts_is_not_refused_for_its_temporary_names(tmp_path, runner):
    path = tmp_path / ("b" * 248 + ".csv")  # 252 bytes: the partial and temporary names must fit too
    result = runner.invoke(app, ["params", *TINY, "--csv", str(path), "-q"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(path)) == 1 and sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# ---------------------------------------------------------------- a report's folder


@pytest.fixture
def results_folder(tmp_path, runner) -> Path:
    folder = tmp_path / "res"
    folder.mkdir()
    args = ["params", *TINY, "-m", "lucid-unet-tiny", "--csv", str(folder / "params.csv"), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    return folder


@pytest.mark.parametrize("name", ["report.md", "report.html", "plots/params_macs.png"])
def test_a_report_never_overwrites_a_file_it_did_not_write(name, results_folder, runner):
    mine = results_folder / name
    mine.parent.mkdir(exist_ok=True)
    mine.write_text("my notes\n")
    result = runner.invoke(app, ["report", str(results_folder), "-q"])
    assert result.exit_code == 2 and "was not written by mubench" in result.output, result.output
    assert mine.read_text() == "my notes\n"


def test_a_report_rewrites_its_own_files_but_not_edited_ones(results_folder, runner):
    assert runner.invoke(app, ["report", str(results_folder), "-q"]).exit_code == 0
    record = json.loads((results_folder / ".mubench-files.json").read_text())
    assert "report.md" in record and "report.html" in record
    assert runner.invoke(app, ["report", str(results_folder), "-q"]).exit_code == 0  # its own: rewritten
    with (results_folder / "report.md").open("a") as handle:
        handle.write("my edit\n")
    result = runner.invoke(app, ["report", str(results_folder), "-q"])
    assert result.exit_code == 2 and "changed since" in result.output
    assert (results_folder / "report.md").read_text().endswith("my edit\n")


@pytest.mark.slow
@pytest.mark.parametrize("columns", ["abc", "0", "-3", ""])
def test_a_bad_columns_variable_falls_back_to_a_usable_width(columns, tmp_path):
    env = {**os.environ, "COLUMNS": columns, "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run([sys.executable, "-m", "mubench", "params", *TINY], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "ode-u-tiny" in done.stdout
