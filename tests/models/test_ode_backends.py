"""The fixed-step ODE backend computes what torchdiffeq computes, with the same NFE."""

from __future__ import annotations

import pytest
import torch

from mubench.errors import UsageError
from mubench.models.ode_block import nfe_by_block, reset_nfe
from mubench.models.solver_config import SolverConfig
from mubench.registry import get_model


def run(name: str, solver: SolverConfig, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, int]:
    torch.manual_seed(0)
    model = get_model(name, solver=solver)
    reset_nfe(model)
    with torch.no_grad():
        out = model(x, t)
    return out, sum(nfe_by_block(model).values())


@pytest.mark.parametrize(
    ("method", "steps", "step_size"),
    [("rk4", 1, None), ("rk4", 3, None), ("euler", 4, None), ("midpoint", 2, None), ("rk4", 1, 0.4)],
)
@pytest.mark.parametrize("name", ["ode-u-tiny", "ode-u-ref-tiny"])
def test_fixed_backend_matches_torchdiffeq(name, method, steps, step_size):
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([5, 800])
    reference, nfe_ref = run(name, SolverConfig(method=method, steps=steps, step_size=step_size), x, t)
    fixed, nfe_fixed = run(
        name, SolverConfig(method=method, steps=steps, step_size=step_size, backend="fixed"), x, t
    )
    assert nfe_fixed == nfe_ref
    rel = ((fixed - reference).abs().max() / reference.abs().max()).item()
    assert rel <= 1e-5


def test_fixed_backend_is_recorded_in_the_solver_label():
    assert SolverConfig(backend="fixed").describe() == "rk4(steps=1)/fixed"
    assert SolverConfig().describe() == "rk4(steps=1)"
    steps = SolverConfig(step_size=0.4).fixed_steps()
    assert [s0 for s0, _, _ in steps] == pytest.approx([0.0, 0.4, 0.8])
    assert [h for _, h, _ in steps] == pytest.approx([0.4, 0.4, 0.2])


@pytest.mark.parametrize(
    "kwargs",
    [dict(backend="fixed", method="dopri5"), dict(backend="fixed", adjoint=True), dict(backend="jax")],
)
def test_fixed_backend_refuses_what_it_cannot_do(kwargs):
    with pytest.raises(UsageError):
        SolverConfig(**kwargs)
