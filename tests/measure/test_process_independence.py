"""Timings that do not depend on the measuring process: pre-faulted libraries, worker processes, their
spread, verdicts that respect it, and the machine state recorded beside them. No test asserts a time."""

from __future__ import annotations

import re
import statistics
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from mubench.cli.app import app
from mubench.compare import compare_frames
from mubench.errors import UsageError
from mubench.measure import LatencyConditions, measure_latency
from mubench.measure.runtime import prefault as prefault_module
from mubench.measure.runtime.machine_state import busy_warning, machine_state
from mubench.measure.runtime.prefault import library_mappings, prefault_libraries
from mubench.report.measurements.latency import latency_outcome

pytestmark = pytest.mark.slow  # worker processes: seconds each

linux_only = pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
FAST = dict(repeats=3, trajectory_repeats=1, steps=2, warmup_min=1, warmup_max_s=2.0, resolution=32)


def _smaps_sizes(path_part: str) -> list[tuple[str, int, int]]:
    """(header, Size kB, Rss kB) of every readable mapping whose file name contains ``path_part``."""
    text = Path("/proc/self/smaps").read_text()
    found = []
    for block in re.split(r"\n(?=[0-9a-f]+-[0-9a-f]+ )", text):
        header = block.split("\n", 1)[0]
        fields = header.split()
        if len(fields) >= 6 and path_part in fields[5] and fields[1].startswith("r"):
            size = int(re.search(r"\nSize:\s+(\d+)", block)[1])
            rss = int(re.search(r"\nRss:\s+(\d+)", block)[1])
            found.append((header, size, rss))
    return found


@linux_only
def test_prefault_makes_every_page_of_libtorch_cpu_resident():
    import torch  # noqa: F401 - loads libtorch_cpu.so

    report = prefault_libraries()
    assert report.method in ("madvise", "touch") and report.pages > 0 and report.mappings > 0
    mappings = _smaps_sizes("libtorch_cpu.so")
    assert mappings, "libtorch_cpu.so is not mapped"
    for header, size, rss in mappings:
        assert rss == size, f"{header}: {rss} of {size} kB resident"


@linux_only
def test_prefault_without_madvise_touches_every_page(monkeypatch):
    monkeypatch.setattr(prefault_module, "_libc", lambda: None)
    # Only this Python extension's own mappings, so that the byte-per-page loop stays short.
    import _decimal

    lines = [line for line in Path("/proc/self/maps").read_text().splitlines() if _decimal.__file__ in line]
    report = prefault_libraries("\n".join(lines))
    assert report.method == "touch" and report.mappings == len(lines) >= 1
    for header, size, rss in _smaps_sizes(Path(_decimal.__file__).name):
        assert rss == size, f"{header}: {rss} of {size} kB resident"


def test_library_mappings_keep_only_readable_shared_library_files():
    maps = textwrap.dedent(
        """\
        00400000-00401000 r--p 00000000 fe:00 1   /usr/bin/python3.11
        7f0000000000-7f0000001000 r--p 00000000 fe:00 2   /lib/libc.so.6
        7f0000001000-7f0000003000 r-xp 00001000 fe:00 2   /lib/libc.so.6
        7f0000003000-7f0000004000 ---p 00003000 fe:00 2   /lib/libc.so.6
        7f0000004000-7f0000005000 rw-p 00000000 00:00 0
        7f0000005000-7f0000006000 r--s 00000000 00:05 3   /dev/nvidia0
        7f0000006000-7f0000007000 r--p 00000000 fe:00 4   /tmp/torchinductor/c4.so (deleted)
        7f0000007000-7f0000008000 r-xp 00002000 fe:00 5   /site/torch/lib/libtorch_cpu.so
        7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0   [stack]
        """
    )
    found = library_mappings(maps)
    assert [(m.path, m.start, m.size, m.offset) for m in found] == [
        ("/lib/libc.so.6", 0x7F0000000000, 0x1000, 0),
        ("/lib/libc.so.6", 0x7F0000001000, 0x2000, 0x1000),
        ("/site/torch/lib/libtorch_cpu.so", 0x7F0000007000, 0x1000, 0x2000),
    ]


def test_machine_state_is_recorded_and_busy_machines_are_named():
    state = machine_state()
    assert set(state) == {"cpu_busy_other_cores", "loadavg_1min", "cpu_governor", "cpu_boost"}
    assert busy_warning({"cpu_busy_other_cores": 0.2}) is None
    assert "1.5 cores" in busy_warning({"cpu_busy_other_cores": 1.5})


@pytest.fixture(scope="module")
def two_process_rows():
    conds = LatencyConditions(**FAST, processes=2)
    return measure_latency(["lucid-unet-tiny", "ode-u-tiny"], conds, "procs")


def test_two_processes_give_per_process_medians_and_a_summary_row(two_process_rows):
    assert [r["model"] for r in two_process_rows] == ["lucid-unet-tiny", "ode-u-tiny"]
    for row in two_process_rows:
        assert row["status"] == "ok", row["message"]
        assert row["processes"] == 2 and row["processes_ok"] == 2
        medians = [float(v) for v in row["call_ms_process_medians"].split(";")]
        assert len(medians) == 2
        assert row["call_ms_median"] == pytest.approx(statistics.median(medians))
        spread = (max(medians) - min(medians)) / statistics.median(medians)
        assert row["call_ms_process_spread"] == pytest.approx(spread)
        assert row["n_samples"] == 2 * FAST["repeats"] and row["n_trajectories"] == 2
        assert row["prefault"] is True and row["prefault_s"] > 0 and row["prefault_mib"] > 0
        assert "cpu_busy_other_cores" in row and "loadavg_1min" in row
    first, second = two_process_rows
    assert second["call_ms_vs_first"] == pytest.approx(second["call_ms_median"] / first["call_ms_median"])


def test_the_summary_row_takes_the_median_of_the_workers_rates_and_rooflines(two_process_rows):
    for row in two_process_rows:
        assert row["device_matmul_gflops"] > 0 and row["device_bandwidth_gbps"] > 0
        assert row["latency_over_roofline"] == pytest.approx(row["call_ms_median"] / row["roofline_ms"])
        assert row["achieved_share"] == pytest.approx(row["achieved_gflops"] / row["device_matmul_gflops"])
        assert row["achieved_share"] <= 1.0


CRASHING_SOURCE = '''
import os
import torch
from torch import nn


class Crashing(nn.Module):
    """Ends its process at the first call in the worker processes named by ``crash_in``."""

    def __init__(self, crash_in):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.crash_in = crash_in

    def forward(self, x, t):
        worker = os.environ.get("MUBENCH_WORKER", "")
        if worker.split("/")[0] in self.crash_in:
            os._exit(7)
        return self.conv(x)


def second_worker():
    return Crashing({"1"})


def every_worker():
    return Crashing({"0", "1"})


second_worker.mubench_resolution = every_worker.mubench_resolution = 32
'''


@pytest.fixture
def crashing_module(tmp_path, monkeypatch):
    (tmp_path / "mubench_test_crashing.py").write_text(CRASHING_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "mubench_test_crashing"
    sys.modules.pop("mubench_test_crashing", None)


def test_a_crashing_worker_is_named_and_the_others_still_count(crashing_module):
    conds = LatencyConditions(**{**FAST, "trajectory_repeats": 0}, processes=2)
    names = ["lucid-unet-tiny", f"{crashing_module}:second_worker"]
    good, crashing = measure_latency(names, conds, "crash")
    # worker 2 died in the crashing model: a fresh worker 2 measured the other one again
    assert good["status"] == "ok" and good["processes_ok"] == 2 and "exited" not in good["message"]
    assert len(good["call_ms_process_medians"].split(";")) == 2
    assert crashing["status"] == "ok" and crashing["processes_ok"] == 1  # worker 1's figures still count
    assert "worker process 2 of 2 exited with code 7 while measuring this model" in crashing["message"]
    assert len(crashing["call_ms_process_medians"].split(";")) == 1


def test_a_model_that_crashes_every_worker_gets_an_error_row(crashing_module):
    conds = LatencyConditions(**{**FAST, "trajectory_repeats": 0}, processes=2)
    rows = measure_latency([f"{crashing_module}:every_worker"], conds, "crash")
    assert rows[0]["status"] == "error"
    assert rows[0]["message"].count("exited with code 7") == 2


def test_no_prefault_is_recorded_on_latency_and_robustness(runner, tmp_path, clean_exit):
    latency_csv, robust_csv = tmp_path / "lat.csv", tmp_path / "rob.csv"
    args = ["latency", "-m", "ode-u-tiny", "--repeats", "2", "--trajectory-repeats", "0", "--warmup", "1",
            "--quiet", "--no-prefault", "--csv", str(latency_csv)]  # fmt: skip
    clean_exit(runner.invoke(app, args), 0)
    row = pd.read_csv(latency_csv).iloc[0]
    assert not row["prefault"] and pd.isna(row["prefault_s"])
    args = ["robustness", "-m", "ode-u-tiny", "--num-images", "2", "--steps", "2", "--reference",
            "identity", "--quiet", "--no-prefault", "--csv", str(robust_csv)]  # fmt: skip
    clean_exit(runner.invoke(app, args), 0)
    assert not pd.read_csv(robust_csv)["prefault"].any()
    args = ["robustness", "-m", "ode-u-tiny", "--num-images", "2", "--steps", "2", "--reference",
            "identity", "--quiet", "--csv", str(robust_csv)]  # fmt: skip
    clean_exit(runner.invoke(app, args), 0)
    assert pd.read_csv(robust_csv)["prefault"].all()


def test_processes_must_be_positive():
    with pytest.raises(UsageError, match="processes must be positive") as caught:
        LatencyConditions(processes=0)
    assert caught.value.field == "processes" and caught.value.render("cli").startswith("--processes")


def _latency_row(median: float, spread: float | None, p10: float, p90: float) -> pd.Series:
    row = {"call_ms_median": median, "call_ms_p10": p10, "call_ms_p90": p90}
    if spread is not None:
        row["call_ms_process_spread"] = spread
    return pd.Series(row)


def test_faster_verdict_is_inconclusive_within_the_process_spread():
    cand, ref = _latency_row(90.0, 0.05, 89.0, 91.0), _latency_row(100.0, 0.02, 99.0, 101.0)
    assert latency_outcome(cand, ref) == "faster"  # 10% apart, spread 5%
    cand = _latency_row(97.0, 0.05, 96.5, 97.5)
    assert latency_outcome(cand, ref) == "inconclusive"  # 3% apart, within the 5% spread
    assert latency_outcome(_latency_row(97.0, None, 96.5, 97.5), _latency_row(100.0, None, 99.0, 101.0)) == (
        "faster"
    )  # one process: the ranges decide, as before


def test_compare_gate_treats_a_change_within_the_process_spread_as_unchanged():
    keys = {"command": "latency", "model": "ode-u", "device": "cpu", "status": "ok"}
    baseline = pd.DataFrame([{**keys, "call_ms_median": 100.0, "call_ms_process_spread": 0.02}])
    current = pd.DataFrame([{**keys, "call_ms_median": 106.0, "call_ms_process_spread": 0.08}])
    assert not compare_frames(baseline, current, fail_on={"call_ms_median": 5}).regressions
    current.loc[0, "call_ms_median"] = 109.0  # worse by more than the 8% spread
    assert compare_frames(baseline, current, fail_on={"call_ms_median": 5}).regressions
    no_spread = current.drop(columns="call_ms_process_spread")
    no_spread.loc[0, "call_ms_median"] = 106.0
    assert compare_frames(baseline.drop(columns="call_ms_process_spread"), no_spread,
                          fail_on={"call_ms_median": 5}).regressions  # fmt: skip
