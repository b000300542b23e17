"""Worker processes that die (a hard exit, a signal) while measuring latency: the death is laid on the
model that caused it, and the other models keep the figures of every process."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from mubench.cli.app import app
from mubench.measure import LatencyConditions, measure_latency
from mubench.measure.latency import workers
from mubench.measure.latency.workers import Died

FAST = dict(repeats=3, trajectory_repeats=0, steps=2, warmup_min=1, warmup_max_s=2.0, resolution=32)
GOOD = "ode-u-tiny"


def _processes_measured(row: pd.Series | dict) -> int:
    return len(str(row["call_ms_process_medians"]).split(";"))


@pytest.mark.slow
def test_a_model_that_kills_its_worker_leaves_the_other_models_rows_whole(
    runner, hostile_module, tmp_path, clean_exit
):
    out, bad = tmp_path / "lat.csv", f"{hostile_module}:forward_dies"
    args = ["latency", "--processes", "2", "-m", GOOD, "-m", bad, "--repeats", "3", "--trajectory-repeats",
            "0", "--warmup", "1", "--resolution", "32", "--quiet", "--csv", str(out)]  # fmt: skip
    clean_exit(runner.invoke(app, args), 1)  # a failed measurement
    rows = pd.read_csv(out).set_index("model")
    assert list(rows.index) == [GOOD, bad]
    good = rows.loc[GOOD]
    assert good["status"] == "ok" and good["processes"] == 2 and good["processes_ok"] == 2
    assert _processes_measured(good) == 2 and good["call_ms_process_spread"] >= 0
    assert good["n_samples"] == 2 * 3
    assert pd.isna(good["message"]) or "worker" not in good["message"]
    assert rows.loc[bad, "status"] == "error"
    for process in (1, 2):
        assert (
            f"worker process {process} of 2 exited with code 3 while measuring this model"
            in (rows.loc[bad, "message"])
        )


@pytest.mark.slow
def test_deaths_in_the_factory_and_in_the_timing_are_each_laid_on_their_model(hostile_module):
    dies, segfaults = f"{hostile_module}:factory_dies", f"{hostile_module}:segfaults_when_timed"
    rows = measure_latency([GOOD, dies, segfaults], LatencyConditions(**FAST, processes=2), "deaths")
    good, died, crashed = rows
    assert good["status"] == "ok" and good["processes_ok"] == 2 and _processes_measured(good) == 2
    assert "worker" not in good["message"]
    assert died["status"] == "error" and died["message"].count("exited with code 3 while measuring") == 2
    assert crashed["status"] == "error"
    assert crashed["message"].count("was killed by signal 11 while measuring this model") == 2


def _fake_workers(monkeypatch, dies: Callable[[list[str]], Died | None]) -> list[list[str]]:
    """Workers that measure instantly, or die as ``dies(names)`` says; returns the names of each run."""
    runs: list[list[str]] = []

    def run(names, conds, run_id, index, tick):
        runs.append(list(names))
        death = dies(names)
        if death is not None:
            return death
        rows = [{"model": name, "status": "ok", "call_ms_median": 1.0} for name in names]
        return rows, {name: {"call_ms": [1.0]} for name in names}

    monkeypatch.setattr(workers, "_run_worker", run)
    return runs


def _process(names: list[str]):
    return workers._measure_process(names, LatencyConditions(processes=2), "r", 1, lambda _: None)


def test_the_model_a_worker_was_running_is_blamed_and_the_others_measured_again(monkeypatch):
    runs = _fake_workers(monkeypatch, lambda names: Died("exited with code 3", "b") if "b" in names else None)
    result, lost = _process(["a", "b", "c"])
    assert runs == [["a", "b", "c"], ["a", "c"]]
    assert [row["model"] for row in result[0]] == ["a", "c"]
    assert lost == {"b": "worker process 2 of 2 exited with code 3 while measuring this model"}


def test_an_unknown_culprit_is_found_by_measuring_each_model_alone(monkeypatch):
    runs = _fake_workers(
        monkeypatch, lambda names: Died("was killed by signal 11", None) if "b" in names else None
    )
    result, lost = _process(["a", "b", "c"])
    assert runs == [["a", "b", "c"], ["a"], ["b"], ["c"], ["a", "c"]]
    assert [row["model"] for row in result[0]] == ["a", "c"]
    assert lost == {"b": "worker process 2 of 2 was killed by signal 11 while measuring this model alone"}


def test_a_death_no_model_causes_alone_costs_every_model_that_process(monkeypatch):
    runs = _fake_workers(
        monkeypatch, lambda names: Died("exited with code 9", None) if len(names) > 1 else None
    )
    result, lost = _process(["a", "b"])
    assert result is None and runs == [["a", "b"], ["a"], ["b"]]
    assert lost == dict.fromkeys(["a", "b"], "worker process 2 of 2 exited with code 9 before reporting")


def test_every_model_of_a_worker_that_fails_without_dying_gets_its_reason(monkeypatch):
    runs = _fake_workers(monkeypatch, lambda names: None)
    monkeypatch.setattr(workers, "_run_worker", lambda names, *_: runs.append(names) or "it failed: boom")
    assert _process(["a", "b"]) == (None, dict.fromkeys(["a", "b"], "it failed: boom")) and len(runs) == 1
