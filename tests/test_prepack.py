"""--prepack: convolutions replaced by oneDNN ones with prepacked weights compute the same function."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mubench.measure.latency import LatencyConditions, measure_latency
from mubench.measure.prepack import PrepackedConv2d, prepack_convolutions
from mubench.measure.setup import build_model, example_inputs
from mubench.registry import get_spec


def _rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    return float((out - ref).abs().max() / ref.abs().max())


@pytest.mark.parametrize("name", ["ode-u-tiny", "lucid-unet-tiny"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_prepacked_model_computes_the_same_function(name, channels_last):
    spec = get_spec(name)
    model = build_model(spec, spec.channels, None, 0)
    x, t = example_inputs(2, spec.channels, 32, 0, "cpu")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    convs = sum(type(m) is nn.Conv2d for m in model.modules())
    with torch.inference_mode():
        reference = model(x, t)
    assert prepack_convolutions(model, (x, t)) == convs > 0
    assert not any(type(m) is nn.Conv2d for m in model.modules())
    assert sum(isinstance(m, PrepackedConv2d) for m in model.modules()) == convs
    with torch.inference_mode():
        assert _rel_err(model(x, t), reference) < 1e-5
        other_x, other_t = x[:1], t[:1]  # packed for batch 2, still right for batch 1
        assert _rel_err(model(other_x, other_t), reference[:1]) < 1e-5


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = nn.Conv2d(3, 4, 3, padding=1)
        self.unused = nn.Conv2d(4, 4, 1)
        self.same = nn.Conv2d(4, 4, 3, padding="same")
        self.reflect = nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect")

    def forward(self, x):
        return self.reflect(self.same(self.used(x)))


def test_only_convolutions_that_ran_with_numeric_zero_padding_are_replaced():
    net = _Net()
    x = torch.randn(1, 3, 8, 8)
    with torch.inference_mode():
        reference = net(x)
    assert prepack_convolutions(net, (x,)) == 1
    assert isinstance(net.used, PrepackedConv2d)
    assert type(net.unused) is type(net.same) is type(net.reflect) is nn.Conv2d
    with torch.inference_mode():
        assert _rel_err(net(x), reference) < 1e-5


def test_prepack_keeps_counted_flops_and_nfe():
    fast = dict(repeats=2, trajectory_repeats=0, warmup_min=1, warmup_max_s=1.0, resolution=32)
    plain, packed = (
        measure_latency(["lucid-unet-tiny", "ode-u-tiny"], LatencyConditions(**fast, prepack=p), "r")
        for p in (False, True)
    )
    for a, b in zip(plain, packed):
        assert b["status"] == "ok", b["message"]
        assert (b["flops_per_call"], b["macs_per_call"], b["nfe"]) == (
            a["flops_per_call"], a["macs_per_call"], a["nfe"],
        )  # fmt: skip
        assert b["flops_per_call"] > 0
