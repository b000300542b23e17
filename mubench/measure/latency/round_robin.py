"""Round-robin timing of prepared models: per-call samples, then whole reverse trajectories, every model
once per round, so that drift of the machine hits all alike. A model whose timing fails drops out of
the later rounds; its failure row says why."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch

from mubench.diffusion.samplers import Sampler
from mubench.diffusion.schedules import NoiseSchedule
from mubench.measure.failures import failure_of
from mubench.measure.runtime.prepare import PreparedModel
from mubench.measure.runtime.timing import Timer
from mubench.models.ode_block import nfe_by_block, reset_nfe

Fail = Callable[[str, BaseException], dict[str, Any]]  # (model name, error) -> its failure row
Running = Callable[[str | None], None]  # told the model whose code runs next, then None when it is done


def _nobody(_: str | None) -> None:
    pass


@dataclass
class Candidate:
    """One prepared model, and what has been measured of it so far."""

    prepared: PreparedModel
    call_ms: list[float] = field(default_factory=list)
    trajectory_s: list[float] = field(default_factory=list)
    trajectory_calls: int = 0
    trajectory_nfe: int | None = None
    failure: dict[str, Any] | None = None


def active(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates that have not failed."""
    return [c for c in candidates if c.failure is None]


def time_round_robin(
    candidates: list[Candidate],
    repeats: int,
    trajectory_repeats: int,
    sampler: Sampler,
    seed: int,
    timer: Timer,
    tick: Callable[[str], None],
    fail: Fail,
    running: Running = _nobody,
) -> None:
    """``repeats`` rounds of one per-call sample per model, then ``trajectory_repeats`` rounds of one
    trajectory per model (round ``i`` starts from the noise of seed ``seed + i``), into ``candidates``.
    ``tick(label)`` after each round; ``running(name)`` before each model's turn, ``running(None)`` after."""
    for _ in _rounds(repeats, tick, "per-call"):
        for c in active(candidates):
            p = c.prepared
            _guard(c, lambda c=c, p=p: c.call_ms.append(timer(p.call, p.calls_per_sample)), fail, running)

    device = timer.device
    schedules: dict[str, NoiseSchedule] = {}
    for i in _rounds(trajectory_repeats, tick, "trajectory"):
        for c in active(candidates):
            p = c.prepared
            schedule = schedules.setdefault(p.spec.schedule, NoiseSchedule.create(p.spec.schedule))
            gen = torch.Generator(device=device).manual_seed(seed + i)
            x_start = torch.randn(p.x.shape, generator=gen, device=device).to(memory_format=_format(p.x))

            _guard(c, partial(_time_trajectory, c, sampler, schedule, x_start, gen, timer), fail, running)


def _guard(candidate: Candidate, work: Callable[[], None], fail: Fail, running: Running) -> None:
    """Run ``work``; an error marks the candidate failed (its row says why) and frees GPU memory."""
    running(candidate.prepared.name)
    candidate.failure = failure_of(work, partial(fail, candidate.prepared.name))
    running(None)


def _time_trajectory(
    c: Candidate,
    sampler: Sampler,
    schedule: NoiseSchedule,
    x_start: torch.Tensor,
    gen: torch.Generator,
    timer: Timer,
) -> None:
    """Time one full reverse trajectory from pure noise at t = T - 1, sampler arithmetic included."""
    p = c.prepared
    result: list = []
    t_start = schedule.num_steps - 1
    reset_nfe(p.eager)
    ms = timer(
        lambda: result.append(sampler.sample(p.denoise, schedule, x_start, t_start, p.spec.prediction, gen))
    )
    c.trajectory_s.append(ms / 1e3)
    c.trajectory_calls = result[0].denoiser_calls
    if p.counts_nfe:
        c.trajectory_nfe = sum(nfe_by_block(p.eager).values())


def _format(x: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) and x.dim() == 4 else (
        torch.contiguous_format
    )  # fmt: skip


def _rounds(rounds: int, tick: Callable[[str], None], what: str) -> Iterator[int]:
    for i in range(rounds):
        yield i
        tick(f"{what} {i + 1}/{rounds}")
