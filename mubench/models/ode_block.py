"""Dynamic ODE blocks: an ODE function integrated over s in [0, 1] by torchdiffeq, with NFE counting."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint
from torchdiffeq._impl.odeint import SOLVERS as _TORCHDIFFEQ_SOLVERS

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
        if self.step_size is None:
            points = torch.linspace(0.0, 1.0, self.steps + 1, dtype=torch.float32)
        else:
            count = math.ceil(1 / self.step_size + 1)
            points = torch.arange(0, count, dtype=torch.float32) * self.step_size
            points[-1] = 1.0
        widths = (points[1:] - points[:-1]).tolist()
        return list(zip(points[:-1].tolist(), widths, points[1:].tolist()))


class ODEFunc(nn.Module):
    """f(s, x) = act(conv(modulate(norm(act(conv(norm(x))))))) + x, counting its evaluations in ``nfe``.

    ``norm``: "instance" (InstanceNorm, no affine; the released code) or "group" (GroupNorm with
    ``groups`` groups, affine). With ``emb_dim`` the diffusion-step embedding, set in ``cond`` by the
    block before integrating, gives a per-channel scale and shift after the second norm.
    ("Second order" in the released code is nominal: it splits the state in halves and re-joins them,
    which changes nothing, so it is left out.)
    """

    def __init__(
        self,
        channels: int,
        norm: str = "instance",  # "instance" (released code) or "group" (paper)
        groups: int = 8,  # GroupNorm groups when norm == "group"
        emb_dim: int | None = None,  # step-embedding width; None = not conditioned on t (released code)
    ):
        super().__init__()
        self.norm1 = _norm(norm, channels, groups)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = _norm(norm, channels, groups)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.Softplus()
        self.scale_shift = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * channels)) if emb_dim else None
        # (scale, shift) for the current call; constant in s, so computed once per block, not per evaluation
        self.cond: tuple[torch.Tensor, torch.Tensor] | None = None
        self.nfe = 0

    def modulation(self, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel (scale, shift), each (B, C, 1, 1), from the step embedding (B, emb_dim)."""
        assert self.scale_shift is not None
        scale, shift = self.scale_shift(emb)[:, :, None, None].chunk(2, dim=1)
        return scale, shift

    def forward(
        self, s: torch.Tensor | float, x: torch.Tensor, cond: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """dx/ds at (s, x); ``cond`` (scale, shift) defaults to what the block set in ``self.cond``."""
        cond = cond if cond is not None else self.cond
        if not torch.compiler.is_compiling():  # a mutated int would make torch.compile recompile each call
            self.nfe += 1
        h = self.norm2(self.act(self.conv1(self.norm1(x))))
        if self.scale_shift is not None:
            if cond is None:
                raise RuntimeError("ODEFunc is conditioned on t but no step embedding was set")
            scale, shift = cond
            h = h * (1 + scale) + shift
        return self.act(self.conv2(h)) + x


def _norm(kind: str, channels: int, groups: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(groups, channels), channels)
    raise ValueError(f"unknown norm '{kind}'")


class ODEBlock(nn.Module):
    """Integrates ``func`` from s = 0 to s = 1 with ``solver`` and returns the state at s = 1."""

    def __init__(self, func: ODEFunc, solver: SolverConfig):
        super().__init__()
        self.func = func
        self.solver = solver
        self.grid = solver.fixed_steps() if solver.backend == "fixed" else []  # (s0, h, s1) per step

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.solver
        if cfg.backend == "fixed":  # no module state is mutated: torch.compile sees one pure function
            cond = self.func.modulation(emb) if self.func.scale_shift is not None else None
            return integrate_fixed(partial(self.func, cond=cond), x, self.grid, cfg.method)
        if cfg.adaptive or cfg.step_size is not None:
            grid = torch.tensor([0.0, 1.0], device=x.device, dtype=x.dtype)
        else:
            grid = torch.linspace(0.0, 1.0, cfg.steps + 1, device=x.device, dtype=x.dtype)
        options = {"step_size": cfg.step_size} if cfg.step_size is not None and not cfg.adaptive else None
        kwargs = {"method": cfg.method, "rtol": cfg.rtol, "atol": cfg.atol, "options": options}
        self.func.cond = self.func.modulation(emb) if self.func.scale_shift is not None else None
        try:
            if cfg.adjoint:
                params = tuple(self.func.parameters()) + tuple(
                    c for c in self.func.cond or () if c.requires_grad
                )
                states = odeint_adjoint(self.func, x, grid, adjoint_params=params, **kwargs)
            else:
                states = odeint(self.func, x, grid, **kwargs)
        finally:
            self.func.cond = None
        return states[-1]


def integrate_fixed(
    func: Callable[[float, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    steps: list[tuple[float, float, float]],
    method: str,
) -> torch.Tensor:
    """Integrate dx/ds = func(s, x) over ``steps`` (s0, h, s1) with euler, midpoint or rk4 (3/8 rule)."""
    # The arithmetic follows torchdiffeq's order of operations, so that float32 results agree closely.
    for s0, h, s1 in steps:
        if method == "euler":
            x = x + h * func(s0, x)
        elif method == "midpoint":
            half = 0.5 * h
            k = func(s0, x)
            x = x + h * func(s0 + half, x + k * half)
        elif method == "rk4":
            k1 = func(s0, x)
            k2 = func(s0 + h / 3, x + h * k1 * (1 / 3))
            k3 = func(s0 + h * 2 / 3, x + h * (k2 - k1 * (1 / 3)))
            k4 = func(s1, x + h * (k1 - k2 + k3))
            x = x + (k1 + 3 * (k2 + k3) + k4) * h * 0.125
        else:
            raise ValueError(f"fixed-step integration has no method '{method}'")
    return x


def reset_nfe(model: nn.Module) -> None:
    """Zero the evaluation counters of every ODE function in ``model``."""
    for module in model.modules():
        if isinstance(module, ODEFunc):
            module.nfe = 0


def nfe_by_block(model: nn.Module) -> dict[str, int]:
    """ODE-function evaluations since the last :func:`reset_nfe`, per block (module name -> count)."""
    return {name: m.nfe for name, m in model.named_modules() if isinstance(m, ODEFunc)}


def has_ode_blocks(model: nn.Module) -> bool:
    return any(isinstance(m, ODEFunc) for m in model.modules())
