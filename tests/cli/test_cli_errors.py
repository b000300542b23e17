"""Bad input: exit code 2, one clear line, no traceback, no output file. Failed measurements: exit 1."""

from __future__ import annotations

import pandas as pd
import pytest

from mubench.cli.app import app

USER = "mubench_test_user_models"  # the module written by conftest's user_module fixture

BAD_INPUT = [
    (["flops", "-m", "ode-uu"], "did you mean 'ode-u'"),
    (["params", "-m", "ode-uu"], "did you mean 'ode-u'"),
    (["flops", "-m", "lucid-unet-tni"], "'lucid-unet-tiny'"),
    (["flops", "-m", "ode-u-tiny", "-m", "ode-uu"], "unknown model 'ode-uu'"),
    (["flops", "-m", "ode-u", "--resolution", "60"], "multiple of 16"),
    (["flops", "-m", "ode-u-tiny", "-m", "lucid-unet-tiny", "--resolution", "36"], "multiple of 8"),
    (["flops", "-m", "ode-u-tiny", "--resolution", "-16"], "--resolution"),
    (["flops", "-m", "ode-u-tiny", "--steps", "0"], "--steps"),
    (["flops", "-m", "ode-u-tiny", "--steps", "-3"], "--steps"),
    (["flops", "-m", "ode-u-tiny", "--batch-size", "0"], "--batch-size"),
    (["flops", "-m", "ode-u-tiny", "--batch-size", "-1"], "--batch-size"),
    (["flops", "-m", "ode-u-tiny", "--channels", "-1"], "--channels"),
    (["flops", "-m", "ode-u-tiny", "--solver", "rk5"], "unknown ODE solver 'rk5'"),
    (["flops", "-m", "ode-u-tiny", "--ode-steps", "0"], "--ode-steps"),
    (["flops", "-m", "ode-u-tiny", "--ode-step-size", "2"], "--ode-step-size"),
    (["flops", "-m", "ode-u-tiny", "--solver", "dopri5", "--rtol", "0"], "--rtol"),
    (["flops", "-m", "ode-u-tiny", "--tier", "most"], "--tier"),
    (["flops", "-m", "ode-u-tiny", "--depth", "-1"], "--depth"),
    (["flops", "-m", "mubench_test_broken_module:factory"], "cannot import 'mubench_test_broken_module'"),
    (["params", "-m", "mubench_test_broken_module:factory"], "cannot import 'mubench_test_broken_module'"),
    (["flops", "-m", "no_such_module_for_mubench:factory"], "cannot import"),
    (["flops", "-m", f"{USER}:missing"], "no attribute 'missing'"),
    (["flops", "-m", f"{USER}:NOT_CALLABLE"], "not callable"),
    (["flops", "-m", f"{USER}:not_a_module"], "not a torch.nn.Module"),
    (["params", "-m", f"{USER}:not_a_module"], "not a torch.nn.Module"),
    (["latency", "-m", "ode-u-tiny", "--warmup", "0"], "'--warmup'"),
    (["latency", "-m", "ode-u-tiny", "--threads", "0"], "'--threads'"),
    (["latency", "-m", "ode-u-tiny", "--dtype", "fp64"], "unknown --dtype 'fp64'"),
    (["robustness", "-m", "ode-u-tiny", "-m", "ode-u-tiny"], "--model ode-u-tiny given more than once"),
    (
        ["robustness", "-m", "ode-u-tiny", "--checkpoint", "ode-u-tiny=a", "--checkpoint", "ode-u-tiny=b"],
        "--checkpoint for ode-u-tiny given more than once",
    ),
]


def _check_one_line_error(result, message: str) -> None:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:"), result.output
    assert message in lines[0]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_exits_2_with_one_line_and_no_file(
    args, message, runner, user_module, tmp_path, clean_exit
):
    out = tmp_path / "out"
    out.mkdir()
    csv, js = out / "r.csv", out / "r.json"
    result = runner.invoke(app, [*args, "--csv", str(csv), "--json", str(js)])
    clean_exit(result, 2)
    _check_one_line_error(result, message)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("command", [["flops", "-m", "ode-u-tiny"], ["params", "-m", "ode-u-tiny"]])
@pytest.mark.parametrize("option", ["--csv", "--json"])
def test_output_in_missing_directory(command, option, runner, tmp_path, clean_exit):
    target = tmp_path / "no" / "such" / "dir" / "r.out"
    result = runner.invoke(app, [*command, option, str(target)])
    clean_exit(result, 2)
    _check_one_line_error(result, "does not exist")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("command", [["flops", "-m", "ode-u-tiny"], ["params", "-m", "ode-u-tiny"]])
def test_output_path_is_a_directory(command, runner, tmp_path, clean_exit):
    result = runner.invoke(app, [*command, "--csv", str(tmp_path)])
    clean_exit(result, 2)
    _check_one_line_error(result, "is a directory")
    assert list(tmp_path.iterdir()) == []


def test_bad_output_path_fails_before_the_other_file_is_written(runner, tmp_path, clean_exit):
    good = tmp_path / "r.csv"
    result = runner.invoke(
        app, ["params", "-m", "ode-u-tiny", "--csv", str(good), "--json", str(tmp_path / "x" / "r.json")]
    )
    clean_exit(result, 2)
    assert not good.exists()


# --- once bugs, now fixed: zero values taken as "not given", a resolution the model cannot run ------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-m", "ode-u-tiny", "--resolution", "0"], "--resolution"),
        (["-m", "ode-u-tiny", "--channels", "0"], "--channels"),
        (["-m", "ode-u-ref-tiny", "--resolution", "8"], "needs a resolution of at least 16, got 8"),
    ],
)
def test_values_the_model_cannot_take_are_refused(runner, tmp_path, clean_exit, args, needle):
    csv = tmp_path / "r.csv"
    result = runner.invoke(app, ["flops", *args, "--csv", str(csv)])
    clean_exit(result, 2)
    _check_one_line_error(result, needle)
    assert not csv.exists()


def test_flops_single_failed_model_gives_an_error_row(runner, user_module, tmp_path, clean_exit):
    csv = tmp_path / "r.csv"
    result = runner.invoke(app, ["flops", "-m", f"{user_module}:raises", "--csv", str(csv)])
    clean_exit(result, 1)
    frame = pd.read_csv(csv)
    assert frame["status"].tolist() == ["error"]
    assert "boom in the factory" in frame["message"].iloc[0]


def test_params_failed_model_gives_an_error_row(runner, user_module, tmp_path, clean_exit):
    csv = tmp_path / "r.csv"
    result = runner.invoke(
        app, ["params", "-q", "-m", "ode-u-tiny", "-m", f"{user_module}:raises", "--csv", str(csv)]
    )
    clean_exit(result, 1)
    frame = pd.read_csv(csv)
    assert frame["status"].tolist() == ["ok", "error"]
    assert frame["params_total"].iloc[0] == 169_899


def test_an_interrupted_run_keeps_the_existing_file_and_its_finished_rows(
    runner, tmp_path, monkeypatch, clean_exit
):
    csv, js = tmp_path / "flops.csv", tmp_path / "flops.json"
    csv.write_text("precious\n")
    js.write_text("{}\n")
    import mubench.measure.counting.flops as flops_mod  # the command imports it when it runs

    real, calls = flops_mod.measure_flops, []

    def interrupted_at_second(name, conds, run_id):
        calls.append(name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(name, conds, run_id)

    monkeypatch.setattr(flops_mod, "measure_flops", interrupted_at_second)
    args = ["flops", "-q", "-m", "ode-u-tiny", "-m", "lucid-unet-tiny", "--csv", str(csv), "--json", str(js)]
    result = runner.invoke(app, args)
    clean_exit(result, 130)
    assert csv.read_text() == "precious\n" and js.read_text() == "{}\n"  # untouched
    partial = tmp_path / "flops.partial.csv"
    assert f"interrupted; the finished rows are in {tmp_path / 'flops.partial.csv'}" in " ".join(
        result.output.split()
    )
    assert set(pd.read_csv(partial)["model"]) == {"ode-u-tiny"}  # the model that finished

    monkeypatch.setattr(flops_mod, "measure_flops", real)
    clean_exit(runner.invoke(app, args), 0)
    assert set(pd.read_csv(csv)["model"]) == {"ode-u-tiny", "lucid-unet-tiny"}
    # This run's own partial files are removed; the interrupted run's stay: mubench never deletes a file
    # it did not create in the same run (the user may have renamed or be reading them).
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "flops.csv", "flops.json", "flops.partial.csv", "flops.partial.json"
    ]  # fmt: skip
