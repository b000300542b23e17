"""Reverse-process samplers (DDPM ancestral, DDIM) that can start at any step and count denoiser calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from mubench.defaults import PREDICTIONS
from mubench.diffusion.schedules import NoiseSchedule
from mubench.errors import UsageError, opt
from mubench.ranges import check_numbers

SAMPLERS = ("ddpm", "ddim")

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# One generator for the batch, or one per image (the image's noise then ignores the rest of the batch).
Generators = torch.Generator | Sequence[torch.Generator] | None


def predict_x0_eps(
    output: torch.Tensor, x_t: torch.Tensor, alpha_bar: float, prediction: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_0, eps) implied by the network's ``output`` at a step with cumulative ``alpha_bar``.

    eps-prediction: output = eps. v-prediction: output = sqrt(abar) eps - sqrt(1 - abar) x_0.
    x0-prediction: output = x_0.
    """
    a, s = alpha_bar**0.5, (1 - alpha_bar) ** 0.5
    if prediction == "eps":
        return (x_t - s * output) / a, output
    if prediction == "v":
        return a * x_t - s * output, s * x_t + a * output
    if prediction == "x0":
        return output, (x_t - a * output) / s
    raise UsageError(f"unknown prediction '{prediction}'; choose one of {', '.join(PREDICTIONS)}")


def ddim_timesteps(t_start: int, steps: int) -> list[int]:
    """``steps`` distinct steps from t_start down to 0 (evenly spaced, rounded), descending."""
    if steps <= 0:
        raise UsageError(f"{opt('steps')} must be positive, got {steps}")
    if steps > t_start + 1:
        raise UsageError(
            f"{opt('steps')} {steps} is more than the {t_start + 1} steps from t = {t_start} to 0"
        )
    grid = torch.linspace(t_start, 0, steps, dtype=torch.float64).round().long().tolist()
    return list(dict.fromkeys(grid))


@dataclass
class SampleResult:
    x0: torch.Tensor  # the sample, in the model's [-1, 1] range
    denoiser_calls: int
    timesteps: list[int]  # the steps at which the denoiser was called


@dataclass(frozen=True)
class Sampler:
    """How to run the reverse process: ``ddpm`` (every step from t_start) or ``ddim`` (``steps`` steps)."""

    name: str = "ddim"
    steps: int | None = None  # ddim: number of denoiser calls; ddpm: must be None or t_start + 1
    eta: float = 0.0  # ddim: 0 = deterministic, 1 = DDPM-like noise
    clip_x0: bool = True  # clamp predicted x_0 to [-1, 1]

    def __post_init__(self) -> None:
        if self.name not in SAMPLERS:
            raise UsageError(f"unknown sampler '{self.name}'; choose one of {', '.join(SAMPLERS)}")
        check_numbers({"eta": self.eta, **({"steps": self.steps} if self.steps is not None else {})})

    def timesteps(self, t_start: int) -> list[int]:
        if self.name == "ddpm":
            if self.steps is not None and self.steps != t_start + 1:
                raise UsageError(
                    f"the ddpm sampler runs every step: {t_start + 1} from t = {t_start}; "
                    f"got {opt('steps')} {self.steps} (use {opt('sampler')} ddim for fewer)"
                )
            return list(range(t_start, -1, -1))
        return ddim_timesteps(t_start, self.steps if self.steps is not None else t_start + 1)

    def describe(self) -> str:
        return "ddpm" if self.name == "ddpm" else f"ddim(eta={self.eta:g})"

    @torch.no_grad()
    def sample(
        self,
        model: Denoiser,
        schedule: NoiseSchedule,
        x_t: torch.Tensor,
        t_start: int,
        prediction: str,
        generator: Generators = None,
    ) -> SampleResult:
        """Run the reverse process from ``x_t`` at step ``t_start`` down to x_0. ``generator``: one for
        the batch, or one per image of it."""
        if not 0 <= t_start < schedule.num_steps:
            raise UsageError(f"start step {t_start} is outside 0..{schedule.num_steps - 1}")
        steps = self.timesteps(t_start)
        abar = schedule.alpha_bar.tolist()
        x = x_t
        batch = x.shape[0]
        for i, t in enumerate(steps):
            t_batch = torch.full((batch,), t, device=x.device, dtype=torch.long)
            x0, eps = predict_x0_eps(model(x, t_batch).to(x.dtype), x, abar[t], prediction)
            if self.clip_x0:
                x0 = x0.clamp(-1, 1)
            if self.name == "ddpm":
                x = self._ddpm_step(schedule, x, x0, t, generator)
            else:
                t_next = steps[i + 1] if i + 1 < len(steps) else -1
                x = self._ddim_step(x0, eps, abar[t], abar[t_next] if t_next >= 0 else 1.0, generator)
        return SampleResult(x, len(steps), steps)

    @staticmethod
    def _noise(x: torch.Tensor, generator: Generators) -> torch.Tensor:
        if generator is None or isinstance(generator, torch.Generator):
            return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        if len(generator) != len(x):
            raise ValueError(f"{len(generator)} generators for a batch of {len(x)}")
        return torch.stack(
            [torch.randn(x.shape[1:], generator=g, device=g.device, dtype=x.dtype) for g in generator]
        ).to(x.device)

    def _ddpm_step(
        self, schedule: NoiseSchedule, x: torch.Tensor, x0: torch.Tensor, t: int, gen: Generators
    ) -> torch.Tensor:
        c0, ct, var = schedule.posterior(t)
        mean = c0 * x0 + ct * x
        return mean + var**0.5 * self._noise(x, gen) if t > 0 else mean

    def _ddim_step(
        self, x0: torch.Tensor, eps: torch.Tensor, abar: float, abar_next: float, gen: Generators
    ) -> torch.Tensor:
        sigma = self.eta * ((1 - abar_next) / (1 - abar) * (1 - abar / abar_next)) ** 0.5
        direction = max(1 - abar_next - sigma**2, 0.0) ** 0.5
        x = abar_next**0.5 * x0 + direction * eps
        return x + sigma * self._noise(x, gen) if sigma > 0 else x
