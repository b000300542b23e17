"""Hostile inputs and faults, by class: output files that cannot be written or belong to the user,
numbers too large for their type, plugin models that misbehave, and result files that are not what
they claim. Each case: the exit code, no traceback, one line on stderr where the command fails, and the
files present before the run byte-identical after it."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pandas as pd
import pytest

from mubench.cli.app import app

TINY = ["-m", "ode-u-tiny"]


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()] if result.stderr_bytes else []
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


@pytest.fixture
def user_files(tmp_path: Path) -> Path:
    """A folder the user already has files in; the tests check they stay byte-identical."""
    (tmp_path / "mydata.partial.csv").write_text("the user's own file\n")
    (tmp_path / "mydata.partial.json").write_text('{"mine": true}\n')
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "old.csv").write_text("command,model\nparams,x\n")
    return tmp_path


# ---------------------------------------------------------------- class 4: output files

BAD_OUTPUTS = [
    ("--csv", "afile/x.csv"),  # a file where a folder should be
    ("--csv", "no/such/folder/x.csv"),
    ("--csv", "a" * 300 + ".csv"),  # a name too long for the file system
    ("--json", "."),  # a folder
]
if Path("/proc/self").is_dir():
    BAD_OUTPUTS.append(("--csv", "/proc/lat.csv"))  # passes a permission check as root; refuses files


@pytest.mark.parametrize("command", ["params", "flops", "latency", "robustness"])
@pytest.mark.parametrize(("flag", "target"), BAD_OUTPUTS)
def test_an_output_that_cannot_be_written_is_refused_before_measuring(
    command, flag, target, runner, user_files, monkeypatch
):
    monkeypatch.chdir(user_files)
    before = snapshot(user_files)
    result = runner.invoke(app, [command, *TINY, flag, target, "--quiet"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "cannot write" in one_error_line(result) or "directory" in one_error_line(result)
    assert snapshot(user_files) == before


@pytest.mark.parametrize("command", ["params", "flops", "latency", "robustness"])
def test_one_file_named_for_both_outputs_is_refused(command, runner, user_files, monkeypatch):
    monkeypatch.chdir(user_files)
    before = snapshot(user_files)
    result = runner.invoke(app, [command, *TINY, "--csv", "same.out", "--json", "./same.out", "--quiet"])
    assert result.exit_code == 2 and "named for two outputs" in one_error_line(result)
    assert snapshot(user_files) == before


def test_the_users_partial_files_are_neither_overwritten_nor_deleted(runner, user_files, monkeypatch):
    monkeypatch.chdir(user_files)
    before = snapshot(user_files)
    result = runner.invoke(app, ["params", *TINY, "--csv", "mydata.csv", "--json", "mydata.json", "-q"])
    assert result.exit_code == 0, result.output
    after = snapshot(user_files)
    assert {k: after[k] for k in before} == before  # every file the user had, unchanged
    assert set(after) - set(before) == {"mydata.csv", "mydata.json"}  # and no partial file left behind


def test_rows_that_cannot_be_written_at_the_end_go_to_a_named_fallback(runner, user_files, monkeypatch):
    import mubench.results

    monkeypatch.chdir(user_files)
    real = mubench.results.write_csv

    def disk_full_for_the_requested_file(frame, path):
        if Path(path).name == "rows.csv":
            raise OSError(28, "No space left on device")
        return real(frame, path)

    monkeypatch.setattr(mubench.results, "write_csv", disk_full_for_the_requested_file)
    before = snapshot(user_files)
    result = runner.invoke(app, ["params", *TINY, "--csv", "rows.csv", "-q"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    line = one_error_line(result)
    fallback = Path(line.rsplit("they are in ", 1)[1].strip())
    assert pd.read_csv(fallback)["params_total"].tolist() == [169_899]
    fallback.unlink()
    assert {k: v for k, v in snapshot(user_files).items() if k in before} == before


# ---------------------------------------------------------------- class 5 and 7: result files


def _params_csv(folder: Path, name: str, **changes: object) -> Path:
    rows = pd.DataFrame([{"command": "params", "model": "ode-u-tiny", "status": "ok", "schema_version": 1,
                          "params_total": 169_899}])  # fmt: skip
    for column, value in changes.items():
        rows[column] = rows[column].astype(object)
        rows.loc[0, column] = value
    path = folder / name
    rows.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "value",
    [int("9" * 400), "abc", "1e999x", "--", "nan nan"],
    ids=["400-digits", "text", "junk", "dashes", "two"],
)
@pytest.mark.parametrize("side", ["baseline", "current"])
def test_compare_and_report_refuse_a_gated_number_that_is_not_one(value, side, runner, tmp_path):
    good = _params_csv(tmp_path, "good.csv")
    bad = _params_csv(tmp_path, "bad.csv", params_total=value)
    files = [str(bad), str(good)] if side == "baseline" else [str(good), str(bad)]
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["compare", *files, "--fail-on-change", "params_total"])
    assert result.exit_code == 2 and "not a number" in one_error_line(result), result.output
    result = runner.invoke(app, ["report", str(bad), "--out", str(tmp_path / "rep"), "-q"])
    assert result.exit_code == 2 and "not a number" in one_error_line(result), result.output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("columns", [{"schema_version": [1]}, {"schema_version": [1], "model": ["x"]}])
def test_a_file_without_result_rows_is_refused(columns, runner, tmp_path):
    empty = tmp_path / "empty.csv"
    pd.DataFrame(columns).to_csv(empty, index=False)
    good = _params_csv(tmp_path, "good.csv")
    for files in ([empty, good], [good, empty]):
        result = runner.invoke(app, ["compare", *map(str, files)])
        assert result.exit_code == 2 and "no result rows" in one_error_line(result), result.output


def test_a_checkpoint_that_is_a_folder_says_so(runner, tmp_path):
    result = runner.invoke(app, ["robustness", *TINY, "--checkpoint", f"ode-u-tiny={tmp_path}", "-q"])
    assert result.exit_code == 2 and "is a folder but not a diffusers model" in one_error_line(result)


def test_a_sweep_longer_than_the_trajectory_names_the_sweep(runner):
    result = runner.invoke(app, ["robustness", *TINY, "--steps-sweep", "1,100000", "-q"])
    assert result.exit_code == 2 and "--steps-sweep" in one_error_line(result)


def test_a_torn_row_of_a_suite_folder_is_not_kept_on_resume(runner, tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[[params]]\nmodels = ["ode-u-tiny", "lucid-unet-tiny"]\n')
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(suite), "--out", str(out), "-q"]).exit_code == 0
    results = out / "results.csv"
    text = results.read_text().splitlines()
    results.write_text("\n".join([*text, text[-1][:15]]) + "\n")  # a line cut short: no item, no status
    result = runner.invoke(app, ["run", str(suite), "--out", str(out), "--resume", "-q"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(results)
    assert len(rows) == 2 and (rows["status"] == "ok").all()


# ---------------------------------------------------------------- class 6: plugin models

PLUGINS = """
import sys
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, out):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.out = out

    def forward(self, x, t):
        return self.out(self.conv(x))


def raises():
    raise RuntimeError("the factory fails")


def wrong_shape():
    return Net(lambda h: h[:, :1])


def returns_nan():
    return Net(lambda h: h * float("nan"))


def exits():
    return Net(lambda h: sys.exit(0))


def returns_tuple():
    return Net(lambda h: (h, h))


for f in (raises, wrong_shape, returns_nan, exits, returns_tuple):
    f.mubench_resolution = 16
"""
BROKEN = {
    "raises": ("params", "flops", "latency"),
    "wrong_shape": ("flops", "latency"),
    "returns_nan": ("latency",),
    "exits": ("flops", "latency"),
    "returns_tuple": ("flops", "latency"),
}
CASES = [(factory, command) for factory, commands in BROKEN.items() for command in commands]


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    (tmp_path / "mubench_test_plugins.py").write_text(PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "mubench_test_plugins"
    sys.modules.pop("mubench_test_plugins", None)


@pytest.mark.slow
@pytest.mark.parametrize(("factory", "command"), CASES, ids=[f"{f}-{c}" for f, c in CASES])
def test_a_misbehaving_plugin_is_an_error_row_named_in_one_line_and_the_others_are_measured(
    factory, command, plugins, runner, tmp_path
):
    csv = tmp_path / "rows.csv"
    args = [command, "-m", f"{plugins}:{factory}", "-m", "ode-u-tiny", "--resolution", "16",
            "--csv", str(csv), "-q"]  # fmt: skip
    if command == "params":
        args.remove("--resolution"), args.remove("16")
    if command == "latency":
        args += ["--repeats", "2", "--trajectory-repeats", "0", "--warmup", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output  # not 0: a measurement failed; not a crash either
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    failed = [line for line in result.stderr.splitlines() if line.startswith(f"failed ({plugins}:{factory})")]
    assert len(failed) == 1 and failed[0].split(": ", 1)[1], result.output  # the reason, on one line
    rows = pd.read_csv(csv)
    by_model = rows.drop_duplicates("model", keep="first").set_index("model")["status"]
    assert by_model[f"{plugins}:{factory}"] == "error" and by_model["ode-u-tiny"] == "ok"


@pytest.mark.parametrize("args", [["zzz*"], ["--pretrained", "ddpm-*"], ["["]])
def test_a_model_glob_that_matches_nothing_says_so(args, runner):
    result = runner.invoke(app, ["models", *args])
    assert result.exit_code == 2 and "matches" in one_error_line(result), result.output


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_compare_refuses_a_threshold_that_is_not_a_percentage(value, runner, tmp_path):
    good = _params_csv(tmp_path, "good.csv")
    result = runner.invoke(app, ["compare", str(good), str(good), "--threshold", value])
    assert result.exit_code == 2 and "--threshold" in one_error_line(result), result.output


@pytest.mark.parametrize("beside", [".json", ".state.safetensors"])
def test_a_fresh_training_run_never_writes_over_files_beside_its_checkpoint(beside, runner, tmp_path):
    out = tmp_path / "t.safetensors"
    (tmp_path / f"t{beside}").write_text("the user's own file\n")
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["train", "-m", "ode-u-tiny", "--out", str(out), "--steps", "1", "-q"])
    assert result.exit_code == 2 and "already exists beside it" in one_error_line(result), result.output
    assert snapshot(tmp_path) == before
