"""`mubench compare`: rows joined on their keys, regressions decide the exit code, other schemas refused."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mubench.cli.app import app
from mubench.results import make_row, write_csv, write_json


def rows(call_ms: float = 10.0, macs: int = 1000, params: int = 500, psnr: float = 30.0) -> pd.DataFrame:
    return pd.DataFrame(
        [
            make_row("params", "r", model="a", params_total=params),
            make_row("params", "r", model="b", params_total=700),
            make_row("flops", "r", model="a", counter="fvcore", macs=macs, nfe=36, steps=1),
            make_row("flops", "r", model="a", counter="torch", macs=macs, nfe=36, steps=1),
            make_row("latency", "r", model="a", mode="eager", steps=50, call_ms_median=call_ms),
            make_row("robustness", "r", model="a", sigma=0.1, steps=57, psnr_db_mean=psnr, ssim_mean=0.8),
        ]
    )


def run(runner, tmp_path, base: pd.DataFrame, current: pd.DataFrame, *args: str):
    write_csv(base, tmp_path / "base.csv")
    write_csv(current, tmp_path / "current.csv")
    return runner.invoke(app, ["compare", str(tmp_path / "base.csv"), str(tmp_path / "current.csv"), *args])


EXACT = ["--fail-on-change", "params_total", "--fail-on-change", "macs", "--fail-on-change", "nfe"]


def test_identical_results_pass(runner, tmp_path, clean_exit):
    result = run(runner, tmp_path, rows(), rows(), *EXACT, "--fail-on", "call_ms_median:15%")
    clean_exit(result, 0)
    assert "no regression" in result.output
    assert (
        "flops a (counter=fvcore): macs" in result.output and "flops a (counter=torch): macs" in result.output
    )


@pytest.mark.parametrize(
    ("current", "gate", "code"),
    [
        (rows(params=501), EXACT, 1),  # one more parameter: exact metrics must not change
        (rows(params=499), EXACT, 1),  # nor shrink unnoticed (the baseline must be updated)
        (rows(macs=1001), EXACT, 1),
        (rows(call_ms=12.0), ["--fail-on", "call_ms_median:15%"], 1),  # 20% slower
        (rows(call_ms=11.0), ["--fail-on", "call_ms_median:15%"], 0),  # 10% slower: within the limit
        (rows(call_ms=5.0), ["--fail-on", "call_ms_median:15%"], 0),  # faster is never a regression
        (rows(call_ms=12.0), [], 0),  # timing reported, not gated
        (rows(psnr=29.0), ["--fail-on", "psnr_db_mean:1%"], 1),  # PSNR: lower is worse
        (rows(psnr=31.0), ["--fail-on", "psnr_db_mean:1%"], 0),
        (rows(macs=900), ["--fail-on", "macs:0"], 0),  # METRIC:PCT gates worsening only
    ],
)
def test_regressions_decide_the_exit_code(current, gate, code, runner, tmp_path, clean_exit):
    result = run(runner, tmp_path, rows(), current, *gate)
    clean_exit(result, code)
    assert ("FAILED: regressions found" in result.output) == (code == 1)
    if code == 1:
        assert "regression: " in result.output


def test_rows_on_one_side_only_are_listed_and_can_fail_the_build(runner, tmp_path, clean_exit):
    base = rows()
    current = pd.concat([rows().iloc[[0, 2, 3, 4, 5]], pd.DataFrame([make_row("params", "r", model="c")])])
    result = run(runner, tmp_path, base, current)
    clean_exit(result, 0)
    assert "only in the baseline: params b" in result.output
    assert "only in current: params c" in result.output
    clean_exit(run(runner, tmp_path, base, current, "--fail-on-missing"), 1)


def test_a_row_that_fails_now_is_a_regression_when_gated(runner, tmp_path, clean_exit):
    current = rows()
    current.loc[4, "status"], current.loc[4, "message"] = "oom", "CUDA out of memory"
    current.loc[4, "call_ms_median"] = float("nan")
    result = run(runner, tmp_path, rows(), current, "--fail-on", "call_ms_median:15%")
    clean_exit(result, 1)
    assert "failed now: latency a" in result.output and "CUDA out of memory" in result.output


def test_a_row_that_fails_now_fails_the_missing_rows_gate_too(runner, tmp_path, clean_exit):
    current = rows()
    current.loc[0, "status"], current.loc[0, "message"] = "error", "RuntimeError: boom"
    clean_exit(run(runner, tmp_path, rows(), current), 0)
    clean_exit(run(runner, tmp_path, rows(), current, "--fail-on-missing"), 1)


def test_a_failure_row_without_the_measurements_keys_still_fails_now(runner, tmp_path, clean_exit):
    # A failed flops item records neither counter nor tier: it stands for both rows of the model.
    failed = make_row("flops", "r", model="a", status="error", message="RuntimeError: boom")
    current = pd.concat([rows().drop(index=[2, 3]), pd.DataFrame([failed])], ignore_index=True)
    result = run(runner, tmp_path, rows(), current, *EXACT)
    clean_exit(result, 1)
    text = " ".join(result.output.split())
    assert "counter=fvcore): error (RuntimeError: boom) (it measured fine in the baseline)" in text
    assert text.count("failed now: flops a (") == 2 and "only in" not in text  # fvcore and torch rows


def test_a_gated_metric_that_is_missing_now_is_a_regression(runner, tmp_path, clean_exit):
    current = rows()
    current.loc[5, "psnr_db_mean"] = float("nan")  # e.g. a model that now returns NaN
    clean_exit(run(runner, tmp_path, rows(), current, "--fail-on", "psnr_db_mean:1%"), 1)
    clean_exit(run(runner, tmp_path, rows(), current), 0)  # not gated: shown, not failed
    current = rows()
    current.loc[2, "nfe"] = float("nan")
    clean_exit(run(runner, tmp_path, rows(), current, *EXACT), 1)


def test_nfe_is_gated_on_latency_rows_too(runner, tmp_path, clean_exit):
    base, current = rows(), rows()
    base.loc[4, "nfe"], current.loc[4, "nfe"] = 36, 40  # the latency row's own count of the timed call
    result = run(runner, tmp_path, base, current, *EXACT)
    clean_exit(result, 1)
    assert "latency a: nfe 36 -> 40" in " ".join(result.output.split())


def test_metric_chooses_what_is_shown_not_what_is_gated(runner, tmp_path, clean_exit):
    gate = ["--fail-on", "psnr_db_mean:1%", "--metric", "macs"]
    result = run(runner, tmp_path, rows(), rows(psnr=29.0), *gate)
    clean_exit(result, 1)
    assert "psnr_db_mean" in result.output


def test_a_suite_folder_compares_with_a_single_commands_csv(runner, tmp_path, clean_exit):
    folder = tmp_path / "suite"
    folder.mkdir()
    write_csv(rows().assign(suite_item="i", suite_options='{"steps": 1}'), folder / "results.csv")
    write_csv(rows().iloc[:2].dropna(axis="columns", how="all"), tmp_path / "p.csv")  # a params --csv
    result = runner.invoke(app, ["compare", str(folder), str(tmp_path / "p.csv"), *EXACT])
    clean_exit(result, 0)
    assert "params a: params_total" in result.output and "params b: params_total" in result.output
    assert "only in the baseline: flops a" in result.output


def test_adding_a_model_to_a_suite_table_keeps_the_others_matched(runner, tmp_path, clean_exit):
    base = rows().assign(suite_item="one-model", suite_options='{"steps": 1}')
    current = rows().assign(suite_item="two-models", suite_options='{"steps": 1}')
    result = run(runner, tmp_path, base, current, *EXACT, "--fail-on-missing")
    clean_exit(result, 0)
    assert "only in" not in result.output


def test_csv_and_json_of_the_same_rows_join(runner, tmp_path, clean_exit):
    write_csv(rows(), tmp_path / "base.csv")
    write_json(rows(), tmp_path / "current.json")
    result = runner.invoke(
        app, ["compare", str(tmp_path / "base.csv"), str(tmp_path / "current.json"), *EXACT]
    )
    clean_exit(result, 0)
    assert "only in" not in result.output


def test_comparison_table_is_written_as_csv(runner, tmp_path, clean_exit):
    out = tmp_path / "diff.csv"
    clean_exit(run(runner, tmp_path, rows(), rows(call_ms=12.0), "--csv", str(out)), 0)
    table = pd.read_csv(out)
    line = table[table["metric"] == "call_ms_median"].iloc[0]
    assert (line["baseline"], line["current"], line["ratio"], line["change"]) == (10.0, 12.0, 1.2, "worse")


def test_another_schema_version_is_refused(runner, tmp_path, clean_exit):
    old = rows().assign(schema_version=2)
    result = run(runner, tmp_path, old, rows())
    clean_exit(result, 2)
    assert "schema_version 2" in result.output and "reads schema_version 1" in result.output
    payload = {"schema_version": 0, "environment": {}, "rows": json.loads(rows().to_json(orient="records"))}
    (tmp_path / "old.json").write_text(json.dumps(payload))
    result = runner.invoke(app, ["compare", str(tmp_path / "old.json"), str(tmp_path / "current.csv")])
    clean_exit(result, 2)
    assert "schema_version 0" in result.output
    (tmp_path / "list.json").write_text("[1, 2]")
    result = runner.invoke(app, ["compare", str(tmp_path / "list.json"), str(tmp_path / "current.csv")])
    clean_exit(result, 2)
    assert "not a mubench result file" in result.output
    result = run(runner, tmp_path, rows().assign(schema_version="one"), rows())
    clean_exit(result, 2)
    assert "schema_version that is not a number" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--fail-on", "latency"], "write METRIC:PCT"),
        (["--fail-on", "speed:5%"], "not a metric mubench compares"),
        (["--fail-on-change", "paramz"], "not a metric mubench compares"),
        (["--fail-on", "trajectory_s_median:5%"], "neither file has this column"),
    ],
)
def test_bad_options_get_one_line(args, needle, runner, tmp_path, clean_exit):
    result = run(runner, tmp_path, rows(), rows(), *args)
    clean_exit(result, 2)
    assert needle in result.output


def test_missing_file_and_repeated_rows(runner, tmp_path, clean_exit):
    result = runner.invoke(app, ["compare", str(tmp_path / "nope.csv"), str(tmp_path / "nope.csv")])
    clean_exit(result, 2)
    assert "no result file" in result.output
    doubled = pd.concat([rows(), rows()])
    result = run(runner, tmp_path, doubled, rows())
    clean_exit(result, 2)
    assert "the baseline file has" in result.output and "compare the output of single runs" in result.output


def test_changed_only_hides_unchanged_lines(runner, tmp_path, clean_exit):
    result = run(runner, tmp_path, rows(), rows(call_ms=12.0), *EXACT, "--changed-only")
    clean_exit(result, 0)
    assert "call_ms_median" in result.output and "params_total" not in result.output
    assert "unchanged line(s) not shown" in " ".join(result.output.split())


def test_rows_of_two_suite_tables_are_told_apart_by_their_options(runner, tmp_path, clean_exit):
    two = pd.DataFrame(
        [
            make_row(
                "latency",
                "r",
                model="a",
                mode="eager",
                steps=10,
                call_ms_median=10.0,
                suite_item=item,
                suite_options=json.dumps({"ode-backend": backend, "steps": 10}),
            )
            for item, backend in (("i1", "torchdiffeq"), ("i2", "fixed"))
        ]
    )
    result = run(runner, tmp_path, two, two)
    clean_exit(result, 0)
    text = " ".join(result.output.split())
    assert "latency a [ode-backend=torchdiffeq]: call_ms_median" in text
    assert "latency a [ode-backend=fixed]: call_ms_median" in text


def test_a_machine_that_measured_other_rates_is_named_and_the_gates_stay(runner, tmp_path, clean_exit):
    """Each latency row records the device rates measured in its run; when they moved, a time ratio of
    that size says as much about the host as about the code."""

    def timed(call_ms: float, gflops: float, gbps: float) -> pd.DataFrame:
        frame = rows(call_ms=call_ms)
        latency = frame["command"] == "latency"
        frame.loc[latency, ["device_matmul_gflops", "device_bandwidth_gbps"]] = [gflops, gbps]
        return frame

    result = run(runner, tmp_path, timed(10.0, 373.0, 29.1), timed(12.0, 312.0, 28.0),
                 "--fail-on", "call_ms_median:15%")  # fmt: skip
    clean_exit(result, 1)  # the gate still decides
    note = " ".join(result.output.split())
    assert "note: cpu: the machine measured other rates (matmul peak 373.0 -> 312.0 GFLOP/s (-16%))" in note
    assert "bandwidth" not in note  # within 10%
    result = run(runner, tmp_path, timed(10.0, 373.0, 29.1), timed(10.5, 360.0, 28.0))
    clean_exit(result, 0)
    assert "note:" not in result.output  # rates within 10%
    clean_exit(result := run(runner, tmp_path, rows(), rows(call_ms=12.0)), 0)
    assert "note:" not in result.output  # rows without rates
