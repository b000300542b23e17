"""The reference MAC figures of the full-size models (docs/counting.md), by both counters.

Each full-size model is counted once per module (about a second each on a 2-core CPU).
"""

from __future__ import annotations

import pytest
import torch

from mubench.measure.counting.counters import count_fvcore, count_torch
from mubench.models.solver_config import SolverConfig
from mubench.registry import get_model, get_spec


def _count(name: str, resolution: int, **overrides):
    model = get_model(name, **overrides)
    x = torch.randn(1, 3, resolution, resolution, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([500])
    fv = count_fvcore(model, (x, t))
    tc = count_torch(model, (x, t))
    return fv, {k: v // 2 for k, v in tc.by_category.items()}, tc


@pytest.fixture(scope="module")
def ode_u_ref_64():
    return _count("ode-u-ref", 64)


@pytest.fixture(scope="module")
def lucid_64():
    return _count("lucid-unet", 64)


@pytest.fixture(scope="module")
def ddpm_32():
    return _count("ddpm-unet", 32)


@pytest.fixture(scope="module")
def ode_u_64():
    return _count("ode-u", 64)


def test_ode_u_ref_conv_macs_at_64(ode_u_ref_64):
    fv, tc, _ = ode_u_ref_64
    assert fv.by_category["conv"] == 2_822_832_128
    assert tc["conv"] == 2_822_832_128


def test_ode_u_ref_has_no_linear_layers_in_use(ode_u_ref_64):
    fv, tc, _ = ode_u_ref_64
    assert fv.by_category["linear"] == tc["linear"] == 0


def test_ode_u_ref_attention_macs_at_64(ode_u_ref_64):
    # two attentions at 8 x 8: 1 x 4 heads x 64 x 64 positions x (32 + 32)
    fv, tc, _ = ode_u_ref_64
    assert fv.by_category["attention"] == tc["attention"] == 2 * 4 * 64 * 64 * 64


def test_lucid_unet_conv_and_linear_macs_at_64(lucid_64):
    fv, tc, _ = lucid_64
    assert fv.by_category["conv"] == 7_203_192_832
    assert fv.by_category["linear"] == 2_146_304
    assert tc["conv"] == 7_203_192_832
    assert tc["linear"] == 2_146_304


def test_ddpm_unet_macs_at_32(ddpm_32):
    fv, tc, _ = ddpm_32
    assert fv.by_category["conv"] + fv.by_category["linear"] == 6_053_953_536
    assert fv.by_category["attention"] == 167_903_232
    assert tc["conv"] + tc["linear"] == 6_053_953_536
    assert tc["attention"] == 167_903_232
    assert fv.macs == 6_221_856_768


def test_ode_u_conv_macs_equal_ode_u_ref(ode_u_64):
    """ode-u adds only the step-embedding MLP and per-function scale/shift Linear layers."""
    fv, tc, _ = ode_u_64
    assert fv.by_category["conv"] == tc["conv"] == 2_822_832_128
    # time MLP 256x256 twice, plus nine Linear(256, 2c) over widths 32..512 (once per block, not per eval)
    widths = [32, 64, 128, 256, 512, 256, 128, 64, 32]
    assert fv.by_category["linear"] == tc["linear"] == 2 * 256 * 256 + sum(256 * 2 * c for c in widths)


@pytest.mark.parametrize("fixture", ["ode_u_ref_64", "lucid_64", "ddpm_32", "ode_u_64"])
def test_both_counters_agree_per_category(fixture, request):
    fv, tc_macs, tc = request.getfixturevalue(fixture)
    assert fv.by_category == tc_macs
    assert tc.flops == 2 * fv.macs
    assert fv.coverage == 1.0
    assert not fv.unsupported


def _ode_u_ref_conv_macs(resolution: int, evals_per_block: int) -> int:
    """Conv MACs of ode-u-ref, by hand: R^2 (165,888 k + 25,616).

    Per pixel of the input and per evaluation, the nine ODE functions' two 3x3 convs cost
    sum(2 * 9 c^2 / (scale^2)) = 165,888; the other convs (stem, transitions, attention's 1x1s, head) 25,616.
    The authors' R^2 (166,376 k + 25,654) is thop's total, which adds InstanceNorm at 2 per element
    (488 k + 38 per pixel): at 64 x 64, k = 4 it gives the authors' 2,830,983,168.
    """
    return resolution**2 * (165_888 * evals_per_block + 25_616)


def test_ode_u_ref_formula_reproduces_the_64px_figure():
    assert _ode_u_ref_conv_macs(64, 4) == 2_822_832_128
    assert 64**2 * (166_376 * 4 + 25_654) == get_spec("ode-u-ref").paper_macs


@pytest.mark.parametrize(
    ("resolution", "solver", "k"),
    [
        (32, SolverConfig(steps=2), 8),  # rk4, two steps: 8 evaluations per block
        (32, SolverConfig(method="euler", steps=3), 3),
        (32, SolverConfig(method="midpoint"), 2),
    ],
)
def test_ode_u_ref_conv_macs_follow_resolution_and_evaluations(resolution, solver, k):
    fv, tc, _ = _count("ode-u-ref", resolution, solver=solver)
    expected = _ode_u_ref_conv_macs(resolution, k)
    if (resolution, k) == (32, 8):
        assert expected == 1_385_185_280
    assert fv.by_category["conv"] == expected
    assert tc["conv"] == expected
