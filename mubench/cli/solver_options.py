"""ODE solver options shared by the commands that run ODE models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mubench.errors import UsageError

if TYPE_CHECKING:  # imported where used: `mubench --help` starts without torch
    from mubench.models.ode_block import SolverConfig

SolverOpt = Annotated[
    str | None,
    typer.Option(
        "--solver", help="ODE solver of ODE models (torchdiffeq method: rk4, euler, midpoint, dopri5, ...)."
    ),
]
OdeStepsOpt = Annotated[
    int | None, typer.Option("--ode-steps", help="Fixed-step solvers: steps over s in [0, 1].")
]
OdeStepSizeOpt = Annotated[
    float | None,
    typer.Option("--ode-step-size", help="Fixed-step solvers: step size (overrides --ode-steps)."),
]
RtolOpt = Annotated[float | None, typer.Option("--rtol", help="Adaptive solvers: relative tolerance.")]
AtolOpt = Annotated[float | None, typer.Option("--atol", help="Adaptive solvers: absolute tolerance.")]
AdjointOpt = Annotated[bool, typer.Option("--adjoint", help="Integrate with the adjoint method.")]
OdeBackendOpt = Annotated[
    str | None,
    typer.Option(
        "--ode-backend",
        help="torchdiffeq (reference, every method) or fixed (mubench's loop: euler, midpoint, rk4).",
    ),
]


def solver_config(
    solver: str | None,
    ode_steps: int | None,
    ode_step_size: float | None,
    rtol: float | None,
    atol: float | None,
    adjoint: bool,
    backend: str | None = None,
) -> SolverConfig | None:
    """The solver the user asked for, or None when no solver option was given (model defaults)."""
    from mubench.models.ode_block import SolverConfig

    given = {
        "method": solver,
        "steps": ode_steps,
        "step_size": ode_step_size,
        "rtol": rtol,
        "atol": atol,
        "backend": backend,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if not given and not adjoint:
        return None
    config = SolverConfig(**given, adjoint=adjoint)
    ignored = ("rtol", "atol") if not config.adaptive else ("steps", "step_size")
    flags = {"rtol": "--rtol", "atol": "--atol", "steps": "--ode-steps", "step_size": "--ode-step-size"}
    unused = [flags[k] for k in ignored if k in given]
    if unused:
        kind = "adaptive" if config.adaptive else "fixed-step"
        raise UsageError(f"{' and '.join(unused)} has no effect with the {kind} solver '{config.method}'")
    return config
