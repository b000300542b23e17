"""Bytes moved, arithmetic intensity and peak live tensors in flops rows, against hand counts."""

from __future__ import annotations

import pytest

from mubench.measure.counting.flops import FlopConditions, measure_flops

F32, I64 = 4, 8


def test_bytes_of_a_one_conv_model(user_module):
    rows, breakdown = measure_flops(f"{user_module}:good", FlopConditions(resolution=16, depth=1), "r")
    image = F32 * 3 * 16 * 16
    weights = F32 * (3 * 3 * 3 * 3 + 3)
    for row in rows:  # fvcore and torch: the same bytes, each row's own FLOPs
        assert row["bytes_min"] == weights + image + I64 + image  # weights, x, t, output
        assert row["bytes_unfused"] == image + weights + image  # the convolution reads x, w, b, writes out
        assert row["weights_mib"] * 2**20 == weights
        assert row["peak_activation_mib"] * 2**20 == image  # only the output is made
        assert row["arithmetic_intensity_min"] == pytest.approx(row["flops"] / row["bytes_min"])
        assert row["arithmetic_intensity_unfused"] == pytest.approx(row["flops"] / row["bytes_unfused"])
    assert rows[0]["flops"] == 2 * 16 * 16 * 3 * 27
    assert breakdown.to_dict("records") == [
        {"model": f"{user_module}:good", "module": "conv", "depth": 1, "macs": 16 * 16 * 3 * 27,
         "share": 1.0, "bytes_unfused": 2 * image + weights, "bytes_share": 1.0}
    ]  # fmt: skip


def test_module_bytes_add_up_to_at_most_the_whole():
    rows, breakdown = measure_flops("lucid-unet-tiny", FlopConditions(resolution=16, depth=1), "r")
    assert 0 < breakdown["bytes_unfused"].sum() <= rows[0]["bytes_unfused"]
    assert rows[0]["bytes_min"] < rows[0]["bytes_unfused"]
    assert rows[0]["peak_activation_mib"] > 0
