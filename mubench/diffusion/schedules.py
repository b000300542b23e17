"""Noise schedules: betas, alpha-bar, the DDPM posterior, and matching a pixel noise level to a step.

Steps are indexed t = 0 .. T-1; ``alpha_bar[t]`` = prod_{s <= t} (1 - beta_s). All arrays are float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

from mubench.errors import UsageError, opt

SCHEDULES = ("linear", "cosine", "sigmoid")


def _betas_from_alpha_bar(alpha_bar: torch.Tensor, max_beta: float = 0.999) -> torch.Tensor:
    """Betas from a continuous alpha-bar curve sampled at T + 1 points (the first being 1)."""
    alpha_bar = alpha_bar / alpha_bar[0]
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(0, max_beta)


def linear_betas(num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al. 2020: betas evenly spaced from 1e-4 to 0.02 (for T = 1000)."""
    return torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)


def cosine_betas(num_steps: int, offset: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal 2021: alpha-bar(u) = cos^2(pi/2 (u + s) / (1 + s)), u = t / T."""
    u = torch.linspace(0, 1, num_steps + 1, dtype=torch.float64)
    return _betas_from_alpha_bar(torch.cos((u + offset) / (1 + offset) * math.pi / 2) ** 2)


def sigmoid_betas(num_steps: int, start: float = -3.0, end: float = 3.0, tau: float = 1.0) -> torch.Tensor:
    """Jabri et al. 2022 (as in denoising-diffusion-pytorch): alpha-bar falls along a sigmoid in u = t / T."""
    u = torch.linspace(0, 1, num_steps + 1, dtype=torch.float64)
    v_start, v_end = torch.sigmoid(torch.tensor(start / tau)), torch.sigmoid(torch.tensor(end / tau))
    alpha_bar = (v_end - torch.sigmoid((u * (end - start) + start) / tau)) / (v_end - v_start)
    return _betas_from_alpha_bar(alpha_bar.double())


@dataclass(frozen=True)
class NoiseSchedule:
    """A discrete-time variance schedule with T steps."""

    name: str
    betas: torch.Tensor  # (T,) float64

    def __post_init__(self) -> None:
        from mubench.checks import check_betas

        object.__setattr__(self, "betas", check_betas(self.betas, f"noise schedule '{self.name}'"))

    @classmethod
    def create(cls, name: str, num_steps: int = 1000) -> NoiseSchedule:
        makers = {"linear": linear_betas, "cosine": cosine_betas, "sigmoid": sigmoid_betas}
        if name not in makers:
            raise UsageError(f"unknown noise schedule '{name}'; choose one of {', '.join(SCHEDULES)}")
        if num_steps <= 1:
            raise UsageError(f"a schedule needs at least 2 steps, got {num_steps}")
        return cls(name, makers[name](num_steps))

    @property
    def num_steps(self) -> int:
        return self.betas.numel()

    @cached_property
    def alphas(self) -> torch.Tensor:
        return 1 - self.betas

    @cached_property
    def alpha_bar(self) -> torch.Tensor:
        return torch.cumprod(self.alphas, dim=0)

    @cached_property
    def alpha_bar_prev(self) -> torch.Tensor:
        """alpha-bar at t - 1, with alpha-bar(-1) = 1."""
        return torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bar[:-1]])

    def posterior(self, t: int) -> tuple[float, float, float]:
        """q(x_{t-1} | x_t, x_0) = N(c0 x_0 + ct x_t, var): returns (c0, ct, var)."""
        beta, abar, abar_prev = self.betas[t], self.alpha_bar[t], self.alpha_bar_prev[t]
        c0 = beta * abar_prev.sqrt() / (1 - abar)
        ct = (1 - abar_prev) * self.alphas[t].sqrt() / (1 - abar)
        var = beta * (1 - abar_prev) / (1 - abar)
        return float(c0), float(ct), float(var)

    def noise_to_signal(self) -> torch.Tensor:
        """(1 - alpha-bar) / alpha-bar per step: the variance of x_t / sqrt(alpha-bar) around x_0."""
        abar = self.alpha_bar
        return (1 - abar) / abar

    def step_for_sigma(self, sigma: float) -> int:
        """The step t* whose noise matches pixel noise ``sigma`` (in [0, 1] units).

        Images in [0, 1] map to [-1, 1], so the model sees noise 2 sigma; t* is the step whose
        (1 - alpha-bar) / alpha-bar is closest to (2 sigma)^2. Then x_t* = sqrt(alpha-bar_t*) y.
        """
        if not 0 < sigma <= 1:
            raise UsageError(f"{opt('sigma')} must be in (0, 1] (pixel units, images in [0, 1]), got {sigma}")
        target = (2 * sigma) ** 2
        return int(torch.argmin((self.noise_to_signal() - target).abs()))
