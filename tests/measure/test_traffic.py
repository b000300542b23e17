"""Bytes and FLOPs per aten operator, against hand counts (float32: 4 bytes an element)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mubench.measure.counting.counters import count_torch
from mubench.measure.counting.traffic import (
    OpCost,
    by_module,
    module_op_costs,
    op_calls,
    op_costs,
    roofline_seconds,
    total,
)
from mubench.measure.runtime.build import build_model, example_inputs
from mubench.registry import get_spec

F32 = 4


def test_conv2d_bytes_are_input_weight_bias_and_output():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        costs = op_costs(lambda: conv(x))
    read = 2 * 3 * 16 * 16 + 8 * 3 * 3 * 3 + 8  # input, weight, bias
    written = 2 * 8 * 16 * 16
    assert costs == {
        "aten.convolution": OpCost(calls=1, flops=2 * 2 * 8 * 16 * 16 * 27, bytes=F32 * (read + written))
    }
    assert F32 * (read + written) == 23_424


def test_linear_bytes_are_input_weight_bias_and_output():
    linear = nn.Linear(16, 32)
    x = torch.randn(4, 16)
    with torch.inference_mode():
        costs = op_costs(lambda: linear(x))
    assert costs["aten.addmm"] == OpCost(
        calls=1, flops=2 * 4 * 16 * 32, bytes=F32 * (4 * 16 + 16 * 32 + 32 + 4 * 32)
    )
    assert costs["aten.t"] == OpCost(calls=1, flops=0, bytes=0)  # the weight's transpose is a view
    assert total(op_calls(lambda: linear(x))).bytes == 2_944


def test_views_move_nothing_and_broadcasts_are_read_once():
    x = torch.randn(8, 16)
    row = torch.randn(16)
    costs = op_costs(lambda: x.t().reshape(16, 8).t() + row.expand(8, 16))
    assert costs["aten.t"].bytes == costs["aten.expand"].bytes == 0
    assert costs["aten.add"] == OpCost(calls=1, flops=0, bytes=F32 * (8 * 16 + 16 + 8 * 16))


def test_in_place_ops_read_and_write_their_destination_copies_only_write_it():
    a, b = torch.randn(100), torch.randn(100)
    costs = op_costs(lambda: (a.add_(b), a.copy_(b)))
    assert costs["aten.add_"].bytes == F32 * 300  # read a, read b, write a
    assert costs["aten.copy_"].bytes == F32 * 200  # read b, write a


def test_out_arguments_are_written_not_read():
    a, b, out = torch.randn(50), torch.randn(50), torch.empty(50)
    costs = op_costs(lambda: torch.mul(a, b, out=out))
    assert costs["aten.mul"].bytes == F32 * 150


def test_costs_per_module_include_their_submodules():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 2)))
    x = torch.randn(3, 4)
    with torch.no_grad():
        per_module = module_op_costs(model, lambda: model(x))
        modules = by_module(op_calls(lambda: model(x), model))
    first = F32 * (3 * 4 + 4 * 8 + 8 + 3 * 8)
    relu = F32 * (3 * 8 + 3 * 8)
    last = F32 * (3 * 8 + 8 * 2 + 2 + 3 * 2)
    assert per_module["0"]["aten.addmm"] == OpCost(1, 2 * 3 * 4 * 8, first)
    assert per_module["1"] == {"aten.relu": OpCost(1, 0, relu)}
    assert per_module["2"]["aten.addmm"] == per_module["2.0"]["aten.addmm"] == OpCost(1, 2 * 3 * 8 * 2, last)
    assert modules[""].bytes == first + relu + last
    assert modules[""].calls == 5  # addmm, relu, addmm and two transposes


class Blocks(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x * 2  # in the root module only


def test_containers_that_are_never_called_hold_what_their_modules_cost():
    model, x = Blocks(), torch.randn(2, 4)
    with torch.no_grad():
        modules = by_module(op_calls(lambda: model(x), model))
    linear = OpCost(2, 2 * 2 * 4 * 4, F32 * (2 * 4 + 4 * 4 + 4 + 2 * 4))  # addmm and a free transpose
    assert modules["blocks.0"] == modules["blocks.1"] == linear
    assert modules["blocks"] == linear + linear
    assert modules[""] == linear + linear + OpCost(1, 0, F32 * 2 * 2 * 4)


def test_module_hooks_are_removed_even_when_the_call_fails():
    model = nn.Sequential(nn.Linear(4, 8))
    with pytest.raises(RuntimeError):
        op_calls(lambda: model(torch.randn(3, 5)), model)
    assert not model[0]._forward_pre_hooks and not model[0]._forward_hooks


@pytest.mark.parametrize("name", ["lucid-unet-tiny", "ode-u-tiny"])
def test_flops_agree_with_torchs_counter_on_tiny_models(name):
    spec = get_spec(name)
    model = build_model(spec, spec.channels, None, 0)
    x, t = example_inputs(1, spec.channels, 16, 0)
    with torch.no_grad():
        costs = op_costs(lambda: model(x, t))
    assert sum(c.flops for c in costs.values()) == count_torch(model, (x, t)).flops
    assert costs["aten.convolution"].bytes > 0


def test_roofline_of_one_operator_is_its_bound():
    [call] = op_calls(lambda: torch.randn(64, 64) @ torch.randn(64, 64))[-1:]
    assert call.op == "aten.mm"
    assert roofline_seconds([call], flops_per_s=1e9, bytes_per_s=1e12) == pytest.approx(call.flops / 1e9)
    assert roofline_seconds([call], flops_per_s=1e15, bytes_per_s=1e6) == pytest.approx(call.bytes / 1e6)


@pytest.mark.parametrize("grad_mode", [torch.no_grad, torch.inference_mode])
def test_composite_operators_count_the_kernel_that_runs_not_a_python_decomposition(grad_mode):
    upsample = nn.Upsample(scale_factor=2, mode="bilinear")
    x = torch.randn(1, 2, 4, 4)
    with grad_mode():
        costs = op_costs(lambda: upsample(x))
    assert costs == {
        "aten.upsample_bilinear2d": OpCost(calls=1, flops=0, bytes=F32 * (2 * 4 * 4 + 2 * 8 * 8))
    }
