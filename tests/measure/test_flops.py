"""measure_flops: rows, conditions, and counting that leaves the model unchanged."""

from __future__ import annotations

import pytest
import torch

import mubench.measure.counting.flops as flops_mod
from mubench.errors import MeasurementError, UsageError
from mubench.measure.counting.flops import FlopConditions, measure_flops
from mubench.models.solver_config import SolverConfig


@pytest.fixture
def built(monkeypatch):
    """Capture the model measure_flops builds, with a snapshot of its state taken right after building."""
    seen = []
    original = flops_mod.build_model

    def capture(*args, **kwargs):
        model = original(*args, **kwargs)
        seen.append((model, {k: v.detach().clone() for k, v in model.state_dict().items()}))
        return model

    monkeypatch.setattr(flops_mod, "build_model", capture)
    return seen


@pytest.mark.parametrize("name", ["ode-u-tiny", "ode-u-ref-tiny", "lucid-unet-tiny", "ddpm-unet-tiny"])
def test_counting_leaves_the_state_dict_unchanged(name, built):
    measure_flops(name, FlopConditions(resolution=16, tier="all"), "run")
    ((model, before),) = built
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert not model.training


def test_counting_a_full_size_model_leaves_it_unchanged(built):
    measure_flops("ode-u-ref", FlopConditions(resolution=32), "run")
    ((model, before),) = built
    after = model.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_a_model_that_changes_while_counted_is_refused(user_module):
    with pytest.raises(MeasurementError, match="changed the state"):
        measure_flops(f"{user_module}:mutating", FlopConditions(), "run")


def test_rows_for_ode_u_default_solver():
    rows, breakdown = measure_flops("ode-u", FlopConditions(resolution=16, steps=4, depth=1), "r1")
    fv, tc = rows
    assert (fv["counter"], tc["counter"]) == ("fvcore", "torch")
    assert fv["nfe"] == tc["nfe"] == 36
    assert fv["nfe_per_block"] == "4,4,4,4,4,4,4,4,4"
    assert fv["nfe_per_trajectory"] == 144
    assert fv["macs"] == tc["macs"]
    assert fv["flops"] == tc["flops"] == 2 * fv["macs"]
    assert fv["macs_per_trajectory"] == 4 * fv["macs"]
    assert fv["macs_conv"] == 16 * 16 * (165_888 * 4 + 25_616)  # same convs as ode-u-ref
    assert fv["run_id"] == tc["run_id"] == "r1"
    assert fv["resolution"] == 16
    assert fv["params_total"] == 9_449_955
    assert set(breakdown["depth"]) == {1}
    assert breakdown["macs"].sum() == fv["macs"]


def test_ode_steps_override_changes_nfe():
    rows, _ = measure_flops(
        "ode-u-tiny", FlopConditions(resolution=8, solver=SolverConfig(method="euler", steps=3)), "r"
    )
    assert rows[0]["nfe"] == 21
    assert rows[0]["solver"] == "euler(steps=3)"


def test_all_tier_counts_more_than_matmul_tier():
    matmul, _ = measure_flops("ode-u-tiny", FlopConditions(resolution=8), "r")
    everything, _ = measure_flops("ode-u-tiny", FlopConditions(resolution=8, tier="all"), "r")
    assert everything[0]["elementwise_ops"] > 0 and matmul[0]["elementwise_ops"] is None
    assert everything[0]["macs"] == matmul[0]["macs"]  # MACs stay multiply-accumulates
    assert everything[0]["flops"] == 2 * matmul[0]["macs"] + everything[0]["elementwise_ops"]
    assert everything[1]["tier"] == "matmul"  # torch's row always covers the matmul ops only


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 0}, "steps must"),
        ({"batch_size": -1}, "batch_size must"),
        ({"tier": "x"}, "tier must"),
        ({"depth": -1}, "depth must"),
    ],
)
def test_conditions_refuse_bad_values(kwargs, match):
    with pytest.raises(UsageError, match=match):
        FlopConditions(**kwargs)


def test_resolution_not_a_multiple_is_refused():
    with pytest.raises(UsageError, match="multiple of 16"):
        measure_flops("ode-u", FlopConditions(resolution=40), "r")
