"""Suite files and resume state that are damaged: one line (exit 2) before anything runs, nothing of the
folder changed; a torn row sends its item to run again; another suite's folder is not resumed; a suite
that expands past the limit is refused at once."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pandas as pd
import pytest

from mubench.cli.app import app
from mubench.suite.runner import without_damaged_items

SUITE = '[suite]\nname = "small"\n[[params]]\nmodels = ["ode-u-tiny", "lucid-unet-tiny"]\n'


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}  # fmt: skip


@pytest.fixture
def finished(tmp_path, runner) -> tuple[Path, Path]:
    """A suite file and the folder of its finished run."""
    suite, out = tmp_path / "suite.toml", tmp_path / "out"
    suite.write_text(SUITE)
    result = runner.invoke(app, ["run", str(suite), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return suite, out


def _resume(runner, suite: Path, out: Path):
    return runner.invoke(app, ["run", str(suite), "--out", str(out), "--resume", "-q"])


DAMAGE = {
    "results.csv not UTF-8": ("results.csv", b"\xff\xfe\x00garbage"),
    "results.csv garbage": ("results.csv", b'command,"model\n"x,,,,\n\x00\x01'),
    "flops_modules.csv garbage": ("flops_modules.csv", b'a,"b\n1,2,3,4\n"\n\x00'),
    "flops_modules.csv not UTF-8": ("flops_modules.csv", b"\xff\xfe\xfd\n\x80,\x81\n"),
    "flops_modules.csv without items": ("flops_modules.csv", b"a,b\n1,2\n"),
    "environment.json a list": ("environment.json", b"[1, 2]"),
    "environment.json garbage": ("environment.json", b"{not json"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_resume_file_is_one_line_and_changes_nothing(case, finished, runner):
    suite, out = finished
    name, data = DAMAGE[case]
    (out / name).write_bytes(data)
    before = _snapshot(out)
    result = _resume(runner, suite, out)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert name in result.output
    assert _snapshot(out) == before


def test_a_folder_where_environment_json_should_be_is_one_line(finished, runner):
    suite, out = finished
    (out / "environment.json").unlink()
    (out / "environment.json").mkdir()
    before = _snapshot(out)
    result = _resume(runner, suite, out)
    assert result.exit_code == 2 and "environment.json" in result.output, result.output
    assert _snapshot(out) == before


def test_a_suite_toml_of_the_folder_that_is_not_utf8_is_kept_aside(finished, runner):
    suite, out = finished
    (out / "suite.toml").write_bytes(b"\xff\xfe old")
    result = _resume(runner, suite, out)
    assert result.exit_code == 0, result.output
    assert (out / "suite.1.toml").read_bytes() == b"\xff\xfe old" and (
        out / "suite.toml"
    ).read_text() == SUITE


@pytest.mark.parametrize("cut", ["at its start", "before its status", "before its item"])
def test_an_item_with_a_torn_row_runs_again(cut, finished, runner):
    suite, out = finished
    lines = (out / "results.csv").read_text().splitlines(keepends=True)
    header = lines[0].split(",")
    keep = {"at its start": 1, "before its status": header.index("status"),
            "before its item": header.index("suite_item")}[cut]  # fmt: skip
    torn = ",".join(lines[1].split(",")[:keep]) + "\n"
    (out / "results.csv").write_text(lines[0] + torn + "".join(lines[2:]))
    result = _resume(runner, suite, out)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "results.csv")
    assert len(rows) == 2 and rows["status"].eq("ok").all() and rows["model"].notna().all()
    assert sorted(rows["model"]) == ["lucid-unet-tiny", "ode-u-tiny"]


def test_a_torn_row_is_charged_to_its_item_by_run_id_or_position():
    frame = pd.DataFrame({
        "command": ["params", "params", None, "params", "params"],
        "status": ["ok", "ok", None, "ok", "ok"],
        "run_id": ["r1", "r2", "r2", "r3", None],
        "suite_item": ["a", "b", None, "c", "d"],
    })  # fmt: skip
    assert list(without_damaged_items(frame)["suite_item"]) == ["a", "c", "d"]
    frame.loc[2, "run_id"] = None  # no run id: the items written around it
    assert list(without_damaged_items(frame)["suite_item"]) == ["a", "d"]


def test_another_suites_folder_is_not_resumed(finished, runner, tmp_path):
    _, out = finished
    other = tmp_path / "other.toml"
    other.write_text(SUITE.replace('"small"', '"other"'))
    before = _snapshot(out)
    result = _resume(runner, other, out)
    assert result.exit_code == 2 and "suite 'small', not 'other'" in result.output, result.output
    assert _snapshot(out) == before


def test_a_suite_file_that_is_not_utf8_is_one_line(tmp_path, runner):
    suite = tmp_path / "suite.toml"
    suite.write_bytes(SUITE.encode() + b"# \xff\n")
    result = runner.invoke(app, ["run", str(suite), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not UTF-8" in result.output and not (tmp_path / "o").exists()


@pytest.mark.parametrize("tables", [1, 30])
def test_a_suite_that_expands_past_the_limit_is_refused_at_once(tables, tmp_path, runner):
    seeds = list(range(1000 if tables == 1 else 400))
    table = f'[[flops]]\nmodels = ["ode-u-tiny"]\nseed = {seeds}\nbatch-size = {list(range(1, 1001))}\n'
    if tables > 1:
        table = f'[[flops]]\nmodels = ["ode-u-tiny"]\nseed = {seeds}\n'
        table = "".join(table.replace("[[flops]]", f"[[flops]]\nnote = 'n{i}'") for i in range(tables))
    suite = tmp_path / "suite.toml"
    suite.write_text(table)
    begin = time.perf_counter()
    result = runner.invoke(app, ["run", str(suite), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "more than the 10,000" in result.output, result.output
    assert time.perf_counter() - begin < 30 and not (tmp_path / "o").exists()
