"""The conditions of a latency run: the inference mode, and what is timed in it."""

from __future__ import annotations

from dataclasses import dataclass

from mubench.diffusion.samplers import Sampler
from mubench.measure.runtime.build import NUM_DIFFUSION_STEPS
from mubench.measure.runtime.mode import InferenceMode
from mubench.ranges import check_numbers


def default_steps(sampler: str) -> int:
    """Denoiser calls per timed trajectory when none are given: every step for ddpm, 50 for ddim."""
    return NUM_DIFFUSION_STEPS if sampler == "ddpm" else 50


@dataclass(frozen=True)
class LatencyConditions(InferenceMode):
    """Conditions shared by every model of a latency run."""

    steps: int = 50  # denoiser calls per trajectory
    sampler: str = "ddim"
    eta: float = 0.0
    repeats: int = 30  # per-call samples per model
    trajectory_repeats: int = 3  # whole trajectories per model (0: skip)
    processes: int = 1  # fresh worker processes, each measuring every model; > 1 gives their spread

    def __post_init__(self) -> None:
        super().__post_init__()
        check_numbers({"steps": self.steps, "repeats": self.repeats, "processes": self.processes,
                       "trajectory_repeats": self.trajectory_repeats})  # fmt: skip
        Sampler(self.sampler, self.steps, self.eta).timesteps(NUM_DIFFUSION_STEPS - 1)  # validates
