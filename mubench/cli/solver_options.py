"""ODE solver options shared by the commands that run ODE models."""

from __future__ import annotations

from typing import Annotated

import typer

from mubench.ranges import bounds

SolverOpt = Annotated[
    str | None,
    typer.Option(
        "--solver", help="ODE solver of ODE models (torchdiffeq method: rk4, euler, midpoint, dopri5, ...)."
    ),
]
OdeStepsOpt = Annotated[
    int | None,
    typer.Option("--ode-steps", **bounds("ode_steps"), help="Fixed-step solvers: steps over s in [0, 1]."),
]
OdeStepSizeOpt = Annotated[
    float | None,
    typer.Option(
        "--ode-step-size",
        **bounds("ode_step_size"),
        help="Fixed-step solvers: step size (overrides --ode-steps).",
    ),
]
RtolOpt = Annotated[
    float | None, typer.Option("--rtol", **bounds("rtol"), help="Adaptive solvers: relative tolerance.")
]
AtolOpt = Annotated[
    float | None, typer.Option("--atol", **bounds("atol"), help="Adaptive solvers: absolute tolerance.")
]
AdjointOpt = Annotated[bool, typer.Option("--adjoint", help="Integrate with the adjoint method.")]
OdeBackendOpt = Annotated[
    str | None,
    typer.Option(
        "--ode-backend",
        help="torchdiffeq (reference, every method) or fixed (mubench's loop: euler, midpoint, rk4).",
    ),
]
