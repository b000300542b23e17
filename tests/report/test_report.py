"""`mubench report`: the files it writes from a results folder, claims verdicts that follow the rows, and
one clear line for bad input. The fixture folder was made by the real commands (make_fixture.sh); no
test here measures anything."""

from __future__ import annotations

import html
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mubench.cli.app import app
from mubench.report import plots
from mubench.report.claims import evaluate_claims
from mubench.report.measurements.convergence import CONVERGED_DB
from mubench.report.measurements.flops import MACS_LIMIT, PAPER_MACS
from mubench.report.measurements.params import AUTHORS_PARAMS, PAPER_PARAMS, PARAMS_LIMIT
from mubench.report.measurements.robustness import HIGH_SIGMA
from mubench.report.verdicts import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_MEASURED,
    SOME_CONDITIONS,
    SOME_SIGMAS,
    Claim,
)
from mubench.results import read_results, write_csv

FIXTURE = Path(__file__).parents[1] / "fixtures" / "report"
CAND, BASE = "ode-u", "lucid-unet"
QCAND, QBASE = "ode-u-tiny", "lucid-unet-tiny"  # the fixture's trained (shipped) pair


@pytest.fixture(scope="module")
def fixture_rows() -> pd.DataFrame:
    rows, _ = read_results(FIXTURE)
    return rows


@pytest.fixture
def rows(fixture_rows: pd.DataFrame) -> pd.DataFrame:
    return fixture_rows.copy()


def judged(rows: pd.DataFrame) -> dict[str, Claim]:
    return {claim.key: claim for claim in evaluate_claims(rows)}


def _ok(rows: pd.DataFrame, command: str) -> pd.DataFrame:
    return rows[(rows["command"] == command) & (rows["status"] == "ok")]


def _all_some_none(flags: list[bool], some: str) -> str:
    return HOLDS if all(flags) else FAILS if not any(flags) else some


# ---------------------------------------------------------------- the report files


@pytest.mark.slow
def test_report_from_fixture_writes_markdown_html_and_plots(runner, tmp_path, clean_exit, fixture_rows):
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(FIXTURE), "--out", str(out), "-q"])
    clean_exit(result, 0)
    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()

    images = re.findall(r"\]\((plots/[^)]+\.png)\)", md)
    # The fixture has rows for every plot but the FID and training ones (no sample, fid or train rows:
    # test_report_fid.py, test_report_training.py).
    unmeasured = ("fid_", "training_")
    assert set(images) == {f"plots/{name}.png" for name in plots.PLOTS if not name.startswith(unmeasured)}
    for name in images:
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 1000, name

    # Self-contained: every image embedded, no asset fetched from elsewhere.
    assert 'src="plots/' not in page
    assert page.count('src="data:image/png;base64,') == len(images)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<style>" in page

    # The claims table comes first and says the same in both files.
    assert re.search(r"<table[^>]* id=\"claims\"", page)
    assert md.index("## Claims of the paper") < md.index("## Parameters and MACs per model")
    for claim in evaluate_claims(fixture_rows):
        figures = [detail.figures for detail in claim.details]
        for value in (claim.claim, claim.verdict, claim.summary, claim.rule, *figures):
            assert html.escape(value, quote=False) in page
            assert value.replace("|", r"\|") in md
    assert "Failed measurements" not in md  # every fixture row is ok


def test_report_defaults_to_the_results_folder_and_lists_failed_rows(runner, tmp_path, clean_exit, rows):
    folder = tmp_path / "results"
    shutil.copytree(FIXTURE, folder)
    failed = (
        rows[rows["command"] == "latency"]
        .iloc[[0]]
        .assign(status="oom", message="CUDA out of memory at batch 512", batch_size=512)
    )
    write_csv(pd.concat([rows, failed], ignore_index=True), folder / "results.csv")
    result = runner.invoke(app, ["report", str(folder), "-q"])
    clean_exit(result, 0)
    md = (folder / "report.md").read_text()
    assert "## Failed measurements" in md
    assert "CUDA out of memory at batch 512" in md and "oom" in md
    assert (folder / "plots" / "latency.png").is_file()
    assert "batch 512" not in md.split("## Failed measurements")[0]  # failed rows stay out of the figures


@pytest.mark.slow
def test_latency_tables_show_the_process_spread_where_rows_have_it(runner, tmp_path, clean_exit, rows):
    folder = tmp_path / "results"
    shutil.copytree(FIXTURE, folder)
    latency = rows["command"] == "latency"
    rows.loc[latency, "processes"] = 3
    rows.loc[latency, "call_ms_process_spread"] = [0.012, 0.18, 0.05, 0.3][: int(latency.sum())]
    write_csv(rows, folder / "results.csv")
    clean_exit(runner.invoke(app, ["report", str(folder), "-q"]), 0)
    section = (folder / "report.md").read_text().split("## Latency")[1].split("\n## ")[0]
    assert "| process spread" in section and "1.2%" in section and "18.0%" in section
    assert "timed in 3 fresh processes" in section
    shutil.copytree(FIXTURE, tmp_path / "one-process")  # rows from before workers existed: no such column
    clean_exit(runner.invoke(app, ["report", str(tmp_path / "one-process"), "-q"]), 0)
    before = (tmp_path / "one-process" / "report.md").read_text().split("## Latency")[1].split("\n## ")[0]
    assert "| process spread" not in before and "fresh processes" not in before


EXPECTED_PLOTS = {
    "params": ["params_macs"],
    "flops": ["params_macs"],
    "latency": ["latency"],
    "robustness": ["quality_vs_sigma", "quality_vs_steps", "cost_quality"],
    "profile": ["profile"],
}


@pytest.mark.parametrize("command", list(EXPECTED_PLOTS))
def test_report_of_one_commands_own_csv(runner, tmp_path, clean_exit, rows, command):
    """A command's --csv file (only its own columns) is a report's input too; absent sections say so."""
    csv = tmp_path / f"{command}.csv"
    own = rows[rows["command"] == command]
    write_csv(own.dropna(axis="columns", how="all"), csv)
    result = runner.invoke(app, ["report", str(csv), "--out", str(tmp_path / "out"), "-q"])
    clean_exit(result, 0)
    md = (tmp_path / "out" / "report.md").read_text()
    assert re.findall(r"\]\(plots/([^)]+)\.png\)", md) == EXPECTED_PLOTS[command]
    if command != "latency":
        assert "No latency rows in this folder." in md
    measured = {k for k, c in judged(own).items() if c.verdict != NOT_MEASURED}
    assert (
        measured
        == {
            "params": {"params"},
            "flops": {"macs"},
            "latency": {"latency"},
            "robustness": {"robustness", "convergence"},
            "profile": set(),
        }[command]
    )


def test_plots_return_none_without_their_rows(rows):
    params = rows[rows["command"] == "params"]
    for name in ("latency", "quality_vs_sigma", "quality_vs_steps", "cost_quality"):
        assert plots.PLOTS[name](params) is None, name
    assert plots.params_macs(rows[rows["command"] == "latency"]) is None
    full_only = rows[rows["steps"].isna() | (rows["steps"] > 10) | (rows["command"] != "robustness")]
    assert plots.quality_vs_steps(full_only) is None
    assert plots.quality_vs_sigma(full_only).startswith(b"\x89PNG")


# ---------------------------------------------------------------- bad input


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    return lines[0]


def test_a_files_report_goes_beside_it_never_over_its_folders_report(runner, tmp_path, clean_exit):
    folder = tmp_path / "results"
    shutil.copytree(FIXTURE, folder)
    clean_exit(runner.invoke(app, ["report", str(folder), "-q"]), 0)
    full = (folder / "report.md").read_text()
    write_csv(pd.read_csv(folder / "results.csv").query("command == 'params'"), folder / "params.csv")
    clean_exit(runner.invoke(app, ["report", str(folder / "params.csv"), "-q"]), 0)
    assert (folder / "report.md").read_text() == full
    assert (folder / "params-report" / "report.md").is_file()


def test_missing_folder_is_one_line_exit_2(runner, tmp_path, clean_exit):
    result = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    clean_exit(result, 2)
    assert "nowhere" in _one_error_line(result)


def test_folder_without_results_is_one_line_exit_2(runner, tmp_path, clean_exit):
    (tmp_path / "environment.json").write_text("{}")
    result = runner.invoke(app, ["report", str(tmp_path)])
    clean_exit(result, 2)
    assert "results.csv" in _one_error_line(result)
    assert not (tmp_path / "report.md").exists()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("", "not a mubench result file"),
        ("command,model,status,schema_version\n", "schema_version none"),
        ("command,schema_version\nx,2\n", "schema_version 2"),
    ],
)
def test_empty_or_foreign_results_are_one_line_exit_2(runner, tmp_path, clean_exit, content, needle):
    (tmp_path / "results.csv").write_text(content)
    result = runner.invoke(app, ["report", str(tmp_path)])
    clean_exit(result, 2)
    assert needle in _one_error_line(result)


def test_text_in_a_numeric_column_is_one_line_exit_2(runner, tmp_path, clean_exit):
    rows = pd.read_csv(FIXTURE / "results.csv")
    rows["macs"] = rows["macs"].astype(object)
    rows.loc[rows["macs"].notna().idxmax(), "macs"] = "lots"
    rows.to_csv(tmp_path / "results.csv", index=False)
    result = runner.invoke(app, ["report", str(tmp_path)])
    clean_exit(result, 2)
    assert "macs is 'lots', not a number" in _one_error_line(result)


def test_flops_rows_without_resolution_still_make_a_report(runner, tmp_path, clean_exit):
    rows = pd.read_csv(FIXTURE / "results.csv")
    rows.loc[rows["command"] == "flops", ["resolution", "batch_size"]] = None
    rows.to_csv(tmp_path / "results.csv", index=False)
    clean_exit(runner.invoke(app, ["report", str(tmp_path), "-q"]), 0)
    assert "?x?, batch ?" in (tmp_path / "report.md").read_text()


def test_broken_environment_json_is_one_line_exit_2(runner, tmp_path, clean_exit):
    shutil.copy(FIXTURE / "results.csv", tmp_path)
    (tmp_path / "environment.json").write_text("{not json")
    result = runner.invoke(app, ["report", str(tmp_path)])
    clean_exit(result, 2)
    assert "environment.json" in _one_error_line(result)


def test_unwritable_out_is_one_line_exit_2(runner, tmp_path, clean_exit):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["report", str(FIXTURE), "--out", str(blocker)])
    clean_exit(result, 2)
    assert str(blocker) in _one_error_line(result)


# ---------------------------------------------------------------- claims follow the rows


def test_the_fixtures_claims_as_measured(rows):
    """Pinned for the committed fixture (its rows do not change), independent of the rules' code."""
    claims = judged(rows)
    assert claims["params"].verdict == "holds"
    assert claims["params"].measured.startswith("26.5% (9,449,955 / 35,710,339)")
    assert claims["macs"].verdict == "does not hold"
    assert claims["macs"].measured.startswith("38.7% (2.826 G / 7.297 G MACs)")
    assert claims["latency"].verdict == "holds"
    assert "(67.1 vs 100.9 ms median): faster" in claims["latency"].measured
    assert claims["robustness"].verdict == "does not hold"
    assert "σ 0.3: PSNR -0.68 ± 0.48 dB" in claims["robustness"].measured
    assert claims["convergence"].verdict == "does not hold"
    assert claims["convergence"].measured == "σ 0.1: 2 vs 2 steps; σ 0.3: 5 vs 2 steps"


def expected_params(rows: pd.DataFrame) -> str:
    total = _ok(rows, "params").set_index("model")["params_total"]
    return HOLDS if total[CAND] / total[BASE] <= PARAMS_LIMIT else FAILS


def test_params_claim_follows_rows(rows):
    assert judged(rows)["params"].verdict == expected_params(rows)
    params = rows["command"] == "params"
    base_total = rows.loc[params & (rows["model"] == BASE), "params_total"].iloc[0]
    rows.loc[params & (rows["model"] == CAND), "params_total"] = 2 * base_total
    assert judged(rows)["params"].verdict == FAILS == expected_params(rows)
    rows.loc[params & (rows["model"] == CAND), "params_total"] = base_total // 5
    assert judged(rows)["params"].verdict == HOLDS
    rows.loc[params & (rows["model"] == BASE), "status"] = "error"  # a failed row is not a measurement
    assert judged(rows)["params"].verdict == NOT_MEASURED


def test_macs_claim_follows_rows(rows):
    fv = _ok(rows, "flops")
    fv = fv[fv["counter"] == "fvcore"].set_index("model")["macs"]
    expected = HOLDS if fv[CAND] / fv[BASE] <= MACS_LIMIT else FAILS
    assert judged(rows)["macs"].verdict == expected
    cand = (rows["command"] == "flops") & (rows["model"] == CAND)
    rows.loc[cand, "macs"] = fv[BASE] * 0.2
    assert judged(rows)["macs"].verdict == HOLDS
    rows.loc[cand, "macs"] = fv[BASE] * 0.5
    assert judged(rows)["macs"].verdict == FAILS
    assert judged(rows[rows["command"] != "flops"])["macs"].verdict == NOT_MEASURED


def _latency_pairs(rows: pd.DataFrame) -> list[tuple[pd.Index, pd.Index]]:
    """(candidate row index, baseline row index) per latency run."""
    lat = _ok(rows, "latency")
    return [
        (group.index[group["model"] == CAND], group.index[group["model"] == BASE])
        for _, group in lat.groupby("run_id")
    ]


def expected_latency(rows: pd.DataFrame) -> str:
    faster = [
        rows.loc[c, "call_ms_p90"].iloc[0] < rows.loc[b, "call_ms_p10"].iloc[0]
        for c, b in _latency_pairs(rows)
    ]
    return _all_some_none(faster, SOME_CONDITIONS)


def _set_latency(rows: pd.DataFrame, cand, base, faster: bool) -> None:
    """Give the candidate a tight p10–p90 range below (faster) or above (slower) the baseline's."""
    base_p10, base_p90 = rows.loc[base, "call_ms_p10"].iloc[0], rows.loc[base, "call_ms_p90"].iloc[0]
    p10 = base_p10 / 2 if faster else base_p90 + 1
    rows.loc[cand, ["call_ms_p10", "call_ms_median", "call_ms_p90"]] = [p10, p10 * 1.01, p10 * 1.02]


def test_latency_claim_follows_rows(rows):
    pairs = _latency_pairs(rows)
    assert len(pairs) == 2  # the fixture has batch 1 and batch 4
    claim = judged(rows)["latency"]
    assert claim.verdict.split(":")[0] == expected_latency(rows).split(":")[0]

    for cand, base in pairs:
        _set_latency(rows, cand, base, faster=False)
    claim = judged(rows)["latency"]
    assert claim.verdict == FAILS
    assert claim.measured.count("slower") == 2

    for cand, base in pairs:
        _set_latency(rows, cand, base, faster=True)
    assert judged(rows)["latency"].verdict == HOLDS

    batch_one = [(c, b) for c, b in pairs if rows.loc[c, "batch_size"].iloc[0] == 1]
    _set_latency(rows, *batch_one[0], faster=False)
    claim = judged(rows)["latency"]
    assert claim.verdict.startswith(SOME_CONDITIONS) and expected_latency(rows) == SOME_CONDITIONS
    held = claim.verdict.split(": ", 1)[1]  # groups are named by number, listed under the table
    assert [claim.groups[int(n) - 1] for n in re.findall(r"\((\d)\)", held)] == [
        g for g in claim.groups if "batch 4" in g
    ]

    assert judged(rows[rows["command"] != "latency"])["latency"].verdict == NOT_MEASURED


def _full_process_candidate_rows(rows: pd.DataFrame) -> pd.Index:
    """Index of the candidate's full-process (most steps) robustness row at each high sigma."""
    rob = _ok(rows, "robustness")
    cand = rob[(rob["model"] == QCAND) & (rob["sigma"] >= HIGH_SIGMA)]
    return cand.sort_values("steps").groupby("sigma").tail(1).index


def expected_robustness(rows: pd.DataFrame) -> str:
    outcomes = []
    for i in _full_process_candidate_rows(rows):
        row = rows.loc[i]
        if row["baseline"] == QBASE and not math.isnan(row["psnr_db_diff_mean"]):
            diff, ci = row["psnr_db_diff_mean"], row["psnr_db_diff_ci95"]
        else:
            rob = _ok(rows, "robustness")
            base = rob[
                (rob["model"] == QBASE) & (rob["run_id"] == row["run_id"]) & (rob["sigma"] == row["sigma"])
            ]
            base = base.iloc[0]
            diff = row["psnr_db_mean"] - base["psnr_db_mean"]
            ci = math.hypot(row["psnr_db_ci95"], base["psnr_db_ci95"])
        outcomes.append("better" if diff - ci > 0 else "worse" if diff + ci < 0 else "tie")
    if all(o == "better" for o in outcomes):
        return HOLDS
    return FAILS if "worse" in outcomes and "better" not in outcomes else INCONCLUSIVE


def test_robustness_claim_follows_rows(rows):
    claim = judged(rows)["robustness"]
    assert claim.verdict == expected_robustness(rows)
    assert QCAND in claim.conditions and "paper's pair has no" in claim.conditions  # says which pair
    assert "SSIM" in claim.measured

    high = _full_process_candidate_rows(rows)
    assert len(high) == 2  # sigma 0.2 and 0.3
    rows.loc[high, ["psnr_db_diff_mean", "psnr_db_diff_ci95"]] = [5.0, 0.1]
    assert judged(rows)["robustness"].verdict == HOLDS == expected_robustness(rows)
    rows.loc[high[0], "psnr_db_diff_mean"] = -5.0
    assert judged(rows)["robustness"].verdict == INCONCLUSIVE == expected_robustness(rows)
    rows.loc[high, "psnr_db_diff_mean"] = -5.0
    assert judged(rows)["robustness"].verdict == FAILS

    # Without paired differences: the difference of the means, CI sqrt(ci_a^2 + ci_b^2).
    rows["psnr_db_diff_mean"] = float("nan")
    claim = judged(rows)["robustness"]
    assert claim.verdict == expected_robustness(rows)
    assert "unpaired" in claim.measured

    assert judged(rows[rows["sigma"].isna() | (rows["sigma"] < 0.2)])["robustness"].verdict == NOT_MEASURED


def test_quality_claims_need_trained_weights_and_prefer_the_papers_pair(rows):
    untrained = rows.copy()
    untrained.loc[untrained["model"] == QCAND, "checkpoint"] = "untrained"
    verdicts = judged(untrained)
    assert verdicts["robustness"].verdict == verdicts["convergence"].verdict == NOT_MEASURED

    # Trained robustness rows of ode-u and lucid-unet: the paper's pair is used.
    rob = rows[rows["command"] == "robustness"]
    paper = rob[rob["model"].isin([QCAND, QBASE])].copy()
    paper["model"] = paper["model"].map({QCAND: CAND, QBASE: BASE})
    paper["baseline"] = paper["baseline"].map({QBASE: BASE})
    paper["checkpoint"] = "trained.safetensors"
    paper["run_id"] = paper["run_id"] + "-paper"
    claim = judged(pd.concat([rows, paper], ignore_index=True))["robustness"]
    assert claim.conditions.startswith(f"{CAND} vs {BASE};")


def _sweep_runs(rows: pd.DataFrame) -> pd.DataFrame:
    rob = _ok(rows, "robustness")
    rob = rob[rob["model"].isin([QCAND, QBASE])]
    distinct = rob.groupby(["model", "sigma", "run_id"])["steps"].transform("nunique")
    return rob[distinct >= 3]


def _converged(frame: pd.DataFrame) -> int:
    best = frame["psnr_db_mean"].max()
    return int(frame.loc[frame["psnr_db_mean"] >= best - CONVERGED_DB, "steps"].min())


def expected_convergence(rows: pd.DataFrame) -> str:
    sweeps = _sweep_runs(rows)
    fewer = []
    for _, at_sigma in sweeps.groupby("sigma"):
        steps = {m: _converged(f) for m, f in at_sigma.groupby("model")}
        fewer.append(steps[QCAND] < steps[QBASE])
    if not fewer:
        return NOT_MEASURED
    return _all_some_none(fewer, SOME_SIGMAS)


def _make_converge_at(rows: pd.DataFrame, model: str, steps: int) -> None:
    sweep = _sweep_runs(rows)
    at = sweep.index[(sweep["model"] == model) & (sweep["steps"] == steps)]
    rows.loc[at, "psnr_db_mean"] = 100.0


def test_convergence_claim_follows_rows(rows):
    claim = judged(rows)["convergence"]
    expected = expected_convergence(rows)
    assert claim.verdict.split(":")[0] == expected.split(":")[0]
    assert "steps swept 1, 2, 5, 10" in claim.conditions

    _make_converge_at(rows, QCAND, 1)
    _make_converge_at(rows, QBASE, 10)
    assert judged(rows)["convergence"].verdict == HOLDS == expected_convergence(rows)
    assert "1 vs 10 steps" in judged(rows)["convergence"].measured

    _make_converge_at(rows, QBASE, 1)  # as few steps as the candidate: not faster
    assert judged(rows)["convergence"].verdict == FAILS == expected_convergence(rows)

    sweep = _sweep_runs(rows)
    no_sweep = rows.drop(index=sweep.index)
    assert judged(no_sweep)["convergence"].verdict == NOT_MEASURED
    assert judged(no_sweep)["robustness"].verdict != NOT_MEASURED  # the full-process rows remain

    before = judged(rows)["convergence"]
    extra = sweep[sweep["model"] == QCAND].iloc[[0]].assign(steps=999, psnr_db_mean=100.0)
    wider = pd.concat([rows, extra], ignore_index=True)  # a step count only the candidate swept
    assert (judged(wider)["convergence"].verdict, judged(wider)["convergence"].measured) == (
        before.verdict, before.measured)  # judged on the step counts both swept  # fmt: skip

    unscored = rows.copy()
    unscored.loc[sweep.index[sweep["model"] == QCAND], "psnr_db_mean"] = float("nan")  # no PSNR: no verdict
    assert judged(unscored)["convergence"].verdict == NOT_MEASURED


def test_claims_table_has_the_published_figures_and_a_short_measured_cell(fixture_rows):
    from mubench.report.glance import GLANCE_COLUMNS, glance_table

    claims = evaluate_claims(fixture_rows)
    table = glance_table(claims)
    assert list(table.columns) == GLANCE_COLUMNS
    assert len(table) == 6
    assert table["paper"].tolist()[:2] == [PAPER_PARAMS, PAPER_MACS]
    assert table["authors' code"].iloc[0] == AUTHORS_PARAMS
    assert table["measured"].tolist() == [claim.summary for claim in claims]
    assert all(len(rule) > 20 for rule in (claim.rule for claim in claims))


def test_each_claims_groups_are_numbered_under_the_table_with_its_rule(fixture_rows):
    claims = judged(fixture_rows)
    assert len(claims["latency"].groups) == 2 and "batch 1" in claims["latency"].groups[0]
    assert [d.condition for d in claims["latency"].details] == list(claims["latency"].groups)
    assert claims["latency"].summary.endswith("faster in 2 of 2 condition groups")
    for claim in claims.values():
        assert len(claim.conditions) < 120 or not claim.groups, claim.conditions
        assert not any(group in claim.conditions for group in claim.groups)
    from mubench.report import make_document
    from mubench.report.document import Details, Note, Table

    doc = make_document(fixture_rows, {}, {})
    details = [b for b in doc.blocks if isinstance(b, Details)]
    assert [d.summary for d in details][:2] == [
        f"1. {claims['params'].claim}: {claims['params'].verdict}",
        f"2. {claims['macs'].claim}: {claims['macs'].verdict}",
    ]
    latency = details[2]
    groups = next(b for b in latency.blocks if isinstance(b, Table)).frame
    assert groups["#"].tolist() == ["1", "2"]
    assert groups["condition"].tolist() == list(claims["latency"].groups)
    assert any(isinstance(b, Note) and claims["latency"].rule in b.text for b in latency.blocks)


def test_the_faster_row_names_the_category_that_dominates_the_gap(rows):
    measured = judged(rows)["latency"].measured.split("; (2)")[0]  # batch 1: profiled in the fixture
    prof = rows[rows["command"] == "profile"]
    ms = {m: g.set_index("category")["category_ms"] for m, g in prof.groupby("model")}
    gap = ms[CAND].sub(ms[BASE], fill_value=0.0)
    name = (gap if gap.sum() > 0 else -gap).idxmax()
    assert f"most in {name} ({gap[name]:+.1f} ms)" in measured
    softplus = (rows["model"] == CAND) & (rows["category"] == "activation Softplus")
    slower = 2 * abs(gap.sum()) + 1.0  # Softplus now makes the candidate slower than the baseline
    rows.loc[softplus & (rows["command"] == "profile"), "category_ms"] += slower
    measured = judged(rows)["latency"].measured
    assert "most in activation Softplus (+" in measured.split("; (2)")[0]
    assert measured.count("most in") == 1  # batch 4 was not profiled: nothing named there
    rows.loc[rows["command"] == "profile", "num_threads"] = 1  # profiled under other conditions: not named
    assert "most in" not in judged(rows)["latency"].measured
