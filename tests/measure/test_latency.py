"""Latency: statistics, timer, warm-up, the measurement's rows and conditions, failures and bad input."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
import torch

from mubench.cli.app import app
from mubench.errors import UsageError
from mubench.measure import LatencyConditions, measure_latency
from mubench.measure.runtime.compile_options import parse_compile_options
from mubench.measure.runtime.timing import Timer, quantile, summarize, warm_up
from mubench.models.solver_config import SolverConfig

FIXED = SolverConfig(backend="fixed")  # what --compile runs best: one graph, no torchdiffeq bookkeeping
CPP_WRAPPER = (("cpp_wrapper", True),)
FAST = dict(repeats=3, trajectory_repeats=1, steps=2, warmup_min=1, warmup_max_s=2.0, resolution=32)


def test_summarize_matches_numpy_and_flags_spread():
    values = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0]
    got = summarize(values, "call_ms")
    assert got["call_ms_median"] == pytest.approx(np.median(values))
    assert got["call_ms_p10"] == pytest.approx(np.percentile(values, 10))
    assert got["call_ms_p90"] == pytest.approx(np.percentile(values, 90))
    assert got["call_ms_iqr"] == pytest.approx(np.percentile(values, 75) - np.percentile(values, 25))
    assert got["call_ms_mean"] == pytest.approx(np.mean(values))
    assert got["call_ms_std"] == pytest.approx(statistics.stdev(values))
    assert got["call_ms_min"] == 1.0
    assert got["call_ms_unstable"] is True
    assert summarize([10.0, 10.1, 10.2, 9.9], "x")["x_unstable"] is False
    assert quantile([1.0, 2.0], 0.5) == 1.5


def test_timer_runs_the_function_n_times_and_averages():
    calls = []
    ms = Timer(torch.device("cpu"))(lambda: calls.append(1), n=7)
    assert len(calls) == 7 and ms >= 0


class ScriptedTimer:
    def __init__(self, values):
        self.values = iter(values)
        self.calls = 0

    def __call__(self, fn, n=1):
        self.calls += 1
        return next(self.values)


def test_warm_up_continues_until_stable():
    timer = ScriptedTimer([500.0, 20.0, 15.0, 10.0, 10.1, 10.0, 10.2, 99.0])
    report = warm_up(timer, lambda: None, min_iterations=3, max_seconds=60)
    assert report.stable and report.iterations == 6 and timer.calls == 6  # 10, 10.1, 10.0 agree


def test_warm_up_gives_up_after_its_time_budget():
    timer = ScriptedTimer([1.0, 2.0, 4.0, 8.0, 16.0, 32.0] * 1000)
    report = warm_up(timer, lambda: None, min_iterations=3, max_seconds=0.0)
    assert not report.stable and report.iterations == 3


@pytest.fixture(scope="module")
def tiny_rows():
    return measure_latency(["lucid-unet-tiny", "ode-u-tiny"], LatencyConditions(**FAST), "run1")


def test_latency_rows_carry_statistics_and_conditions(tiny_rows):
    assert [r["model"] for r in tiny_rows] == ["lucid-unet-tiny", "ode-u-tiny"]
    for row in tiny_rows:
        assert row["status"] == "ok", row["message"]
        assert row["call_ms_p10"] <= row["call_ms_median"] <= row["call_ms_p90"]
        assert row["call_ms_min"] <= row["call_ms_median"]
        assert row["n_samples"] == 3 and row["n_calls"] == 3 * row["calls_per_sample"]
        assert row["n_trajectories"] == 1 and row["trajectory_denoiser_calls"] == 2
        assert row["trajectory_s_median"] > 0
        assert row["device"] == "cpu" and row["dtype"] == "fp32" and row["resolution"] == 32
        assert row["sampler"] == "ddim(eta=0)" and row["steps"] == 2
        assert row["num_threads"] == torch.get_num_threads()
        assert row["tf32"] is False and row["cudnn_benchmark"] is False
        assert row["torch_version"] == torch.__version__
        assert row["mode"] == "eager" and row["max_rel_err_vs_eager_fp32"] == 0.0
        assert row["achieved_gflops"] > 0 and row["device_matmul_gflops"] > 0
        assert row["macs_per_call"] * 2 == row["flops_per_call"]


def test_latency_ratios_are_to_the_first_model(tiny_rows):
    first, second = tiny_rows
    assert first["call_ms_vs_first"] == 1.0 and first["macs_vs_first"] == 1.0
    assert second["call_ms_vs_first"] == pytest.approx(second["call_ms_median"] / first["call_ms_median"])
    assert second["macs_vs_first"] == pytest.approx(second["macs_per_call"] / first["macs_per_call"])
    assert second["latency_over_macs_ratio"] == pytest.approx(
        second["call_ms_vs_first"] / second["macs_vs_first"]
    )


def test_latency_reports_ode_nfe(tiny_rows):
    ode = tiny_rows[1]
    assert ode["nfe"] == 28 and ode["nfe_per_trajectory"] == 56
    assert ode["solver"] == "rk4(steps=1)"
    assert tiny_rows[0]["nfe"] is None


@pytest.mark.parametrize(
    ("extra", "mode", "max_err"),
    [
        (dict(channels_last=True), "channels_last", 1e-4),
        (dict(dtype="bf16"), "eager", 5e-2),
        (dict(compile=True, solver=FIXED), "compile", 1e-4),
        (
            dict(compile=True, compile_options=CPP_WRAPPER, channels_last=True, solver=FIXED),
            "compile(cpp_wrapper=True)+channels_last",
            1e-4,
        ),
        (dict(channels_last=True, prepack=True), "channels_last+prepack", 1e-4),
        (
            dict(compile=True, compile_options=CPP_WRAPPER, channels_last=True, prepack=True, solver=FIXED),
            "compile(cpp_wrapper=True)+channels_last+prepack",
            1e-4,
        ),
    ],
)
@pytest.mark.slow
def test_modes_are_checked_against_eager_fp32(extra, mode, max_err):
    conds = LatencyConditions(**{**FAST, "trajectory_repeats": 0, **extra})
    rows = measure_latency(["ode-u-tiny"], conds, "r")
    assert rows[0]["status"] == "ok", rows[0]["message"]
    assert rows[0]["mode"] == mode
    assert rows[0]["compile_options"] == ("cpp_wrapper=True" if "compile_options" in extra else "")
    assert 0 <= rows[0]["max_rel_err_vs_eager_fp32"] <= max_err
    assert rows[0]["agrees_with_eager_fp32"] is True
    assert rows[0]["agreement_tolerance"] == max_err
    assert rows[0]["prepack"] is extra.get("prepack", False)


NAN_AND_OOM_MODELS = """
import torch
from torch import nn


class Nan(nn.Module):
    def forward(self, x, t):
        return x * float("nan")


class OutOfMemory(nn.Module):
    def forward(self, x, t):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")


def nan():
    return Nan()


def oom():
    return OutOfMemory()
"""


@pytest.fixture
def faulty_module(tmp_path, monkeypatch):
    (tmp_path / "mubench_test_faulty.py").write_text(NAN_AND_OOM_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "mubench_test_faulty"


def test_nan_output_and_oom_become_rows_and_the_run_goes_on(faulty_module):
    names = [f"{faulty_module}:nan", "ode-u-tiny", f"{faulty_module}:oom"]
    conds = LatencyConditions(**{**FAST, "trajectory_repeats": 0, "channels_last": True})
    rows = measure_latency(names, conds, "r")
    assert [r["status"] for r in rows] == ["error", "ok", "oom"]
    # failures keep the run's conditions
    assert all(r["mode"] == "channels_last" and r["channels_last"] is True for r in rows)
    assert "NaN" in rows[0]["message"]
    assert "out of memory" in rows[2]["message"]
    assert rows[1]["call_ms_vs_first"] == 1.0  # ratios are to the first model that was measured


@pytest.mark.parametrize(
    "kwargs",
    [dict(batch_size=0), dict(steps=0), dict(repeats=0), dict(trajectory_repeats=-1), dict(warmup_min=0),
     dict(sampler="ddpm", steps=50), dict(sampler="plms"), dict(cuda_graphs=True),
     dict(compile_options=CPP_WRAPPER), dict(prepack=True, channels_last=True, device="cuda"),
     dict(prepack=True, channels_last=True, dtype="bf16"),
     dict(prepack=True, channels_last=True, dtype="half"), dict(prepack=True)],
)  # fmt: skip
def test_latency_conditions_refuse_bad_values(kwargs):
    with pytest.raises(UsageError):
        LatencyConditions(**kwargs)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--device", "cuda"], "CUDA is not available"),
        (["--device", "cuda:3"], "CUDA is not available"),
        (["--device", "tpu"], "device"),
        (["--dtype", "fp64"], "--dtype"),
        (["--steps", "0"], "--steps"),
        (["--batch-size", "-1"], "--batch-size"),
        (["--repeats", "0"], "--repeats"),
        (["--cuda-graphs"], "CUDA device"),
        (["--compile-option", "cpp_wrapper=true"], "only applies with --compile"),
        (["--compile", "--compile-option", "post_grad_custom_pre_pass=f"], "not a bool, int, float or str"),
        (["--compile", "--compile-option", "realize_opcount_threshold=nan"], "a number (int)"),
        (["--compile", "--compile-option", "no_such_setting=1"], "no setting 'no_such_setting'"),
        (["--compile", "--compile-option", "cpp_wrapper"], "KEY=VALUE"),
        (["--compile", "--compile-option", "cpp_wrapper=maybe"], "true or false"),
        (["--compile", "--compile-option", "max_fusion_size=big"], "max_fusion_size is a number (int)"),
        (
            ["--prepack", "--device", "cuda"],
            "--prepack is a CPU mode (oneDNN convolutions); drop it for --device cuda",
        ),
        (["--prepack", "--dtype", "bf16"], "--prepack runs float32 convolutions; drop it for --dtype bf16"),
        (
            ["--prepack"],
            "--prepack needs --channels-last (oneDNN's prepacked convolutions write channels-last)",
        ),
        (["--prepack", "--channels-last", "--dtype", "fp64"], "unknown --dtype 'fp64'"),
        (["--sampler", "ddpm", "--steps", "10"], "ddpm"),
        (["--model", "nope-unet"], "unknown model"),
        (["--model", "ode-u", "--resolution", "40"], "multiple of 16"),
    ],
)
def test_latency_bad_input_is_one_line_exit_2(runner, clean_exit, tmp_path, args, needle):
    if torch.cuda.is_available() and args[:2] in (["--device", "cuda"],):
        pytest.skip("this machine has CUDA")
    out = tmp_path / "lat.csv"
    result = runner.invoke(app, ["latency", "-q", "--csv", str(out), *args])
    clean_exit(result, 2)
    assert needle in result.output
    assert not out.exists()


def test_latency_cli_writes_rows(runner, tmp_path):
    import pandas as pd

    out = tmp_path / "lat.csv"
    result = runner.invoke(
        app,
        ["latency", "-q", "-m", "ode-u-tiny", "-m", "lucid-unet-tiny", "--repeats", "2", "--steps", "2",
         "--trajectory-repeats", "1", "--warmup", "1", "--resolution", "32", "--csv", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Latency per denoiser call" in result.output
    frame = pd.read_csv(out)
    assert list(frame["model"]) == ["ode-u-tiny", "lucid-unet-tiny"]
    stats = ("median", "p10", "p90", "iqr", "mean", "std", "min")
    for column in (*(f"call_ms_{s}" for s in stats), "n_calls", "trajectory_s_median", "peak_mem_mib",
                   "achieved_gflops"):  # fmt: skip
        assert column in frame.columns


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(
    "extra",
    [dict(), dict(dtype="bf16"), dict(cuda_graphs=True), dict(channels_last=True, dtype="fp16")],
)
def test_latency_on_gpu(extra):
    from mubench.models.solver_config import SolverConfig

    conds = LatencyConditions(device="cuda", solver=SolverConfig(backend="fixed"), **{**FAST, **extra})
    rows = measure_latency(["lucid-unet-tiny", "ode-u-tiny"], conds, "gpu")
    for row in rows:
        assert row["status"] == "ok", row["message"]
        assert row["device"].startswith("cuda") and row["cuda_version"]
        assert row["peak_mem_mib"] > 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_index_beyond_count_is_refused():
    with pytest.raises(UsageError, match="CUDA device"):
        measure_latency(["ode-u-tiny"], LatencyConditions(device=f"cuda:{torch.cuda.device_count()}"), "r")


def test_compile_options_are_typed_as_the_setting_and_sorted():
    options = parse_compile_options(["max_fusion_size=32", "freezing=true", "layout_optimization=0"])
    assert options == (("freezing", True), ("layout_optimization", False), ("max_fusion_size", 32))
    conds = LatencyConditions(compile=True, channels_last=True, compile_options=options)
    assert conds.mode() == "compile(freezing=True,layout_optimization=False,max_fusion_size=32)+channels_last"
    unset = parse_compile_options(["realize_opcount_threshold=4"])  # None by default: typed by its value
    assert unset == (("realize_opcount_threshold", 4),)
    with pytest.raises(UsageError, match="given twice"):
        parse_compile_options(["freezing=true", "freezing=false"])
