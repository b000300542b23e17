"""Dynamic ODE blocks: an ODE function integrated over s in [0, 1] by torchdiffeq, with NFE counting."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from mubench.models.solver_config import (
    SolverConfig,
)


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


def _norm(norm: str, channels: int, groups: int) -> nn.Module:
    if norm == "instance":
        return nn.InstanceNorm2d(channels)
    if norm == "group":
        return nn.GroupNorm(min(groups, channels), channels)
    raise ValueError(f"unknown norm '{norm}'")


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
