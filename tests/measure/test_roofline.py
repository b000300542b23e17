"""The device's measured limits and each model's roofline, in latency rows (relations, never times)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mubench.measure import LatencyConditions, measure_latency
from mubench.measure.runtime.rates import device_rates
from mubench.registry import register_model

FAST = dict(repeats=3, trajectory_repeats=0, steps=2, warmup_min=1, warmup_max_s=2.0)
SIDE = 512


class MatmulOnly(nn.Module):
    """A denoiser that is one dense product of its image (a 512 x 512 matrix) by a 512 x 512 weight:
    2 x 512^3 FLOPs on 3 x 1 MiB, far more arithmetic than traffic on any device."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(SIDE, SIDE) / SIDE**0.5)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (x.view(SIDE, SIDE) @ self.weight).view_as(x)


@pytest.fixture(scope="module")
def tiny_rows():
    return measure_latency(["lucid-unet-tiny", "ode-u-tiny"], LatencyConditions(resolution=32, **FAST), "r")


def test_no_model_beats_the_measured_peak(tiny_rows):
    for row in tiny_rows:
        assert row["status"] == "ok", row["message"]
        assert 0 < row["achieved_share"] <= 1.0


def test_rows_carry_the_roofline_and_its_ratios(tiny_rows):
    first, second = tiny_rows
    for row in tiny_rows:
        assert row["device_matmul_gflops"] > 0 and row["device_bandwidth_gbps"] > 0
        assert row["device_rates_s"] > 0 and row["bandwidth_array_mib"] >= 64
        assert row["roofline_ms"] > 0 and row["bytes_unfused"] > 0
        assert row["latency_over_roofline"] == pytest.approx(row["call_ms_median"] / row["roofline_ms"])
        assert row["peak_activation_mib"] > 0 and row["weights_mib"] > 0
        assert row["peak_mem_mib"] is None  # the CPU allocator's holdings mean nothing per call
    assert first["roofline_vs_first"] == 1.0
    assert second["roofline_vs_first"] == pytest.approx(second["roofline_ms"] / first["roofline_ms"])


def test_the_roofline_of_a_pure_matmul_model_is_its_flops_over_the_peak(clean_registry):
    register_model("test-matmul", family="user", description="one matmul", resolution=SIDE, channels=1)(
        MatmulOnly
    )
    [row] = measure_latency(["test-matmul"], LatencyConditions(resolution=SIDE, **FAST), "r")
    assert row["status"] == "ok", row["message"]
    assert row["flops_per_call"] == 2 * SIDE**3
    assert row["roofline_ms"] == pytest.approx(row["flops_per_call"] / (row["device_matmul_gflops"] * 1e6))


def test_the_rates_are_measured_once_per_configuration():
    cpu = torch.device("cpu")
    assert device_rates(cpu, torch.float32) is device_rates(cpu, torch.float32)
