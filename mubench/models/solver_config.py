"""How an ODE block integrates: the solver, its steps or tolerances, and the backend.

Torch-free to import (rows, the report and suites read it); checking a method imports torchdiffeq.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mubench.errors import UsageError, opt
from mubench.ranges import check_numbers

# torchdiffeq's fixed-grid solvers: the grid is linspace(0, 1, steps + 1) or the given step size.
FIXED_STEP_METHODS = (
    "euler", "midpoint", "heun2", "heun3", "rk4", "explicit_adams", "implicit_adams", "fixed_adams",
)  # fmt: skip
# torchdiffeq methods mubench does not run: scipy's solvers leave torch (nothing to count or time).
UNSUPPORTED_METHODS = ("scipy_solver",)
# Backends: torchdiffeq (reference; every method, adaptive and adjoint) or mubench's own loop over a
# fixed grid, which computes the same steps without per-step bookkeeping, host syncs or tensor grids
# (so it can be compiled whole and captured in a CUDA graph).
BACKENDS = ("torchdiffeq", "fixed")
FIXED_BACKEND_METHODS = ("euler", "midpoint", "rk4")


def solver_methods() -> list[str]:
    """Every torchdiffeq method mubench can run."""
    from torchdiffeq._impl.odeint import SOLVERS as _TORCHDIFFEQ_SOLVERS

    return sorted(m for m in _TORCHDIFFEQ_SOLVERS if m not in UNSUPPORTED_METHODS)


@dataclass(frozen=True)
class SolverConfig:
    """How each ODE block integrates its function over s in [0, 1]."""

    method: str = "rk4"  # any torchdiffeq method; the paper's code uses rk4
    steps: int = 1  # fixed-grid methods: equal steps over [0, 1] (the released code: one step)
    step_size: float | None = None  # fixed-grid methods: overrides `steps` when given
    rtol: float = 1e-3  # adaptive methods only
    atol: float = 1e-4  # adaptive methods only
    adjoint: bool = False  # adjoint back-propagation (training memory; no effect on inference cost)
    backend: str = "torchdiffeq"  # "torchdiffeq" or "fixed" (mubench's loop; euler, midpoint, rk4)

    def __post_init__(self) -> None:
        if self.method not in solver_methods():
            raise UsageError(
                f"unknown ODE solver '{self.method}'; choose one of {', '.join(solver_methods())}"
            )
        numbers = {
            "ode_steps": self.steps,
            "ode_step_size": self.step_size,
            "rtol": self.rtol,
            "atol": self.atol,
        }
        check_numbers({name: value for name, value in numbers.items() if value is not None})
        if self.backend not in BACKENDS:
            raise UsageError(f"unknown ODE backend '{self.backend}'; choose one of {', '.join(BACKENDS)}")
        if self.backend == "fixed" and self.method not in FIXED_BACKEND_METHODS:
            raise UsageError(
                f"the fixed backend runs {', '.join(FIXED_BACKEND_METHODS)}; "
                f"'{self.method}' needs {opt('ode_backend')} torchdiffeq"
            )
        if self.backend == "fixed" and self.adjoint:
            raise UsageError(f"{opt('adjoint')} needs {opt('ode_backend')} torchdiffeq")

    @property
    def adaptive(self) -> bool:
        return self.method not in FIXED_STEP_METHODS

    def describe(self) -> str:
        """Short label recorded in result rows, e.g. ``rk4(steps=1)`` or ``dopri5(rtol=1e-3,atol=1e-4)``."""
        if self.adaptive:
            label = f"{self.method}(rtol={self.rtol:g},atol={self.atol:g})"
        elif self.step_size is not None:
            label = f"{self.method}(step_size={self.step_size:g})"
        else:
            label = f"{self.method}(steps={self.steps})"
        return label + ("+adjoint" if self.adjoint else "") + ("/fixed" if self.backend == "fixed" else "")

    def fixed_steps(self) -> list[tuple[float, float, float]]:
        """(s0, h, s1) of each step of the fixed grid over [0, 1], rounded as torchdiffeq's float32 grid."""
        import torch

        if self.step_size is None:
            points = torch.linspace(0.0, 1.0, self.steps + 1, dtype=torch.float32)
        else:
            count = math.ceil(1 / self.step_size + 1)
            points = torch.arange(0, count, dtype=torch.float32) * self.step_size
            points[-1] = 1.0
        widths = (points[1:] - points[:-1]).tolist()
        return list(zip(points[:-1].tolist(), widths, points[1:].tolist()))
