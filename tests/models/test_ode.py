"""ODE models: solver settings, NFE per call and per block, t-dependence."""

from __future__ import annotations

import pytest
import torch

from mubench.errors import UsageError
from mubench.models.ode_block import has_ode_blocks, nfe_by_block, reset_nfe
from mubench.models.solver_config import SolverConfig
from mubench.registry import get_model


def _nfe(model, resolution: int = 16, t: int = 500) -> dict[str, int]:
    x = torch.randn(1, 3, resolution, resolution, generator=torch.Generator().manual_seed(0))
    reset_nfe(model)
    with torch.no_grad():
        model(x, torch.tensor([t]))
    return nfe_by_block(model)


@pytest.fixture(scope="module")
def ode_u():
    return get_model("ode-u")


def test_ode_u_default_rk4_makes_36_evaluations(ode_u):
    per_block = _nfe(ode_u)
    assert len(per_block) == 9
    assert list(per_block.values()) == [4] * 9
    assert sum(per_block.values()) == 36


def test_nfe_per_block_names_the_blocks(ode_u):
    assert list(_nfe(ode_u)) == [
        "down_blocks.0.func",
        "down_blocks.1.func",
        "down_blocks.2.func",
        "down_blocks.3.func",
        "middle.func",
        "up_blocks.0.func",
        "up_blocks.1.func",
        "up_blocks.2.func",
        "up_blocks.3.func",
    ]


def test_reset_nfe_zeroes_counters(ode_u):
    _nfe(ode_u)
    reset_nfe(ode_u)
    assert set(nfe_by_block(ode_u).values()) == {0}


def test_nfe_accumulates_until_reset(ode_u):
    _nfe(ode_u)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        ode_u(x, torch.tensor([1]))
    assert sum(nfe_by_block(ode_u).values()) == 72


@pytest.mark.parametrize(
    ("solver", "per_block"),
    [
        (SolverConfig(method="euler", steps=3), 3),
        (SolverConfig(method="midpoint"), 2),
        (SolverConfig(method="rk4", steps=2), 8),
        (SolverConfig(method="rk4", step_size=0.25), 16),
        (SolverConfig(method="heun3"), 3),
    ],
)
def test_fixed_step_solvers_set_nfe(solver, per_block):
    model = get_model("ode-u", solver=solver)
    counts = _nfe(model)
    assert list(counts.values()) == [per_block] * 9
    assert sum(counts.values()) == 9 * per_block


def test_euler_three_steps_gives_27():
    assert sum(_nfe(get_model("ode-u", solver=SolverConfig(method="euler", steps=3))).values()) == 27


def test_ode_u_ref_has_the_same_nfe():
    assert sum(_nfe(get_model("ode-u-ref"), resolution=32).values()) == 36


def test_tiny_ode_models_have_seven_blocks():
    for name in ("ode-u-tiny", "ode-u-ref-tiny"):
        assert list(_nfe(get_model(name), resolution=32).values()) == [4] * 7


def test_adaptive_solver_evaluates_more_than_once_per_block():
    counts = _nfe(get_model("ode-u-tiny", solver=SolverConfig(method="dopri5")), resolution=8)
    assert len(counts) == 7
    assert all(n >= 6 for n in counts.values())  # one dopri5 step alone takes six evaluations


def test_solver_settings_are_honoured_in_the_output():
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([250])
    one = get_model("ode-u-tiny")
    two = get_model("ode-u-tiny", solver=SolverConfig(steps=2))
    two.load_state_dict(one.state_dict())
    with torch.no_grad():
        assert not torch.equal(one(x, t), two(x, t))


def test_ode_u_output_changes_when_only_t_changes(ode_u):
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = ode_u(x, torch.tensor([10, 10]))
        b = ode_u(x, torch.tensor([900, 900]))
    assert not torch.allclose(a, b, atol=1e-6)


def test_ode_u_tiny_output_changes_when_only_t_changes():
    model = get_model("ode-u-tiny")
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert not torch.allclose(model(x, torch.tensor([0])), model(x, torch.tensor([999])), atol=1e-6)


@pytest.mark.parametrize("name", ["ode-u-ref", "ode-u-ref-tiny"])
def test_ode_u_ref_ignores_t_documented_quirk(name):
    model = get_model(name)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = model(x, torch.tensor([10]))
        b = model(x, torch.tensor([900]))
    assert torch.equal(a, b)


def test_same_call_twice_is_deterministic(ode_u):
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ode_u(x, torch.tensor([5])), ode_u(x, torch.tensor([5])))


def test_has_ode_blocks():
    assert has_ode_blocks(get_model("ode-u-tiny"))
    assert not has_ode_blocks(get_model("lucid-unet-tiny"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "nope"}, "unknown ODE solver 'nope'"),
        ({"steps": 0}, "ode_steps must"),
        ({"steps": -2}, "ode_steps must"),
        ({"step_size": 0.0}, "ode_step_size must"),
        ({"step_size": 1.5}, "ode_step_size must"),
        ({"rtol": 0.0}, "rtol must be positive"),
        ({"atol": -1.0}, "atol must be positive"),
    ],
)
def test_solver_config_refuses_bad_settings(kwargs, match):
    with pytest.raises(UsageError, match=match):
        SolverConfig(**kwargs)


def test_unknown_solver_message_lists_the_choices():
    with pytest.raises(UsageError) as info:
        SolverConfig(method="rk5")
    assert "dopri5" in str(info.value) and "rk4" in str(info.value)


@pytest.mark.parametrize(
    ("cfg", "label"),
    [
        (SolverConfig(), "rk4(steps=1)"),
        (SolverConfig(method="euler", steps=3), "euler(steps=3)"),
        (SolverConfig(step_size=0.25), "rk4(step_size=0.25)"),
        (SolverConfig(method="dopri5", rtol=1e-3, atol=1e-4), "dopri5(rtol=0.001,atol=0.0001)"),
        (SolverConfig(adjoint=True), "rk4(steps=1)+adjoint"),
    ],
)
def test_solver_describe(cfg, label):
    assert cfg.describe() == label


def test_adjoint_gives_the_same_forward_result():
    torch.manual_seed(0)
    plain = get_model("ode-u-tiny")
    adjoint = get_model("ode-u-tiny", solver=SolverConfig(adjoint=True))
    adjoint.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 32, 32)
    t = torch.tensor([100])
    with torch.no_grad():
        torch.testing.assert_close(plain(x, t), adjoint(x, t))
    assert sum(_nfe(adjoint).values()) == 28
