"""The optimizer steps: the denoising loss on each step's batch, under autocast when asked, averaged over
the processes by DistributedDataParallel; gradient clipping, Adam, the EMA of the weights."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mubench.distributed import World
from mubench.errors import MeasurementError, MubenchError
from mubench.measure.failures import MODEL_FAILURES
from mubench.measure.runtime.build import checked_output
from mubench.training.budget import Budget
from mubench.training.state import brief


@dataclass
class Trainee:
    """What the loop trains, and how it is run."""

    name: str
    model: nn.Module  # the weights the optimizer steps (DDP's inner module)
    forward: Callable[[torch.Tensor, torch.Tensor], object]  # the model as called: DDP, compiled
    ema: nn.Module
    optimizer: torch.optim.Adam
    device: torch.device
    dtype: torch.dtype
    channels_last: bool = False
    scaler: torch.amp.GradScaler | None = None  # fp16 only

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)


@dataclass(frozen=True)
class Objective:
    alpha_bar: torch.Tensor  # on the device
    prediction: str  # eps or v
    grad_clip: float
    ema_decay: float


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def run_steps(
    trainee: Trainee,
    objective: Objective,
    batches: Iterator[Batch],
    budget: Budget,
    world: World,
    after_step: Callable[[int, float], None],
) -> int:
    """Optimizer steps until a budget is reached; the step reached. ``after_step(step, loss)`` gets each
    step's loss, averaged over every process's images. Stops with :class:`MeasurementError` at the first
    step whose model call fails or whose loss or gradients are not finite."""
    trainable = [p for group in trainee.optimizer.param_groups for p in group["params"]]
    while budget.exhausted() is None:
        step = budget.step + 1
        x0, t, noise = (v.to(trainee.device, non_blocking=True) for v in next(batches))
        if trainee.channels_last:
            x0, noise = (v.contiguous(memory_format=torch.channels_last) for v in (x0, noise))
        a = objective.alpha_bar[t].sqrt()[:, None, None, None]
        s = (1 - objective.alpha_bar[t]).sqrt()[:, None, None, None]
        target = noise if objective.prediction == "eps" else a * noise - s * x0
        x_t = a * x0 + s * noise
        try:
            with trainee.autocast():
                output = checked_output(trainee.name, trainee.forward(x_t, t), x_t)
            loss = F.mse_loss(output.float(), target)
            trainee.optimizer.zero_grad(set_to_none=True)
            (trainee.scaler.scale(loss) if trainee.scaler else loss).backward()
        except MubenchError as exc:
            raise MeasurementError(f"training stopped at step {step}: {exc.message}") from None
        except MODEL_FAILURES as exc:  # the model's own code: a user's may raise anything
            what = (
                f"SystemExit({exc.code!r})"
                if isinstance(exc, SystemExit)
                else f"{type(exc).__name__}: {brief(exc)}"
            )
            raise MeasurementError(
                f"training stopped at step {step}: model '{trainee.name}' raised {what}"
            ) from None
        value = float(loss.detach())
        if not math.isfinite(value):  # checked on each rank first: the failing one names itself
            raise MeasurementError(f"training stopped at step {step}: the loss is {value}")
        value = world.mean(loss.detach()) if world.world_size > 1 else value
        if trainee.scaler:  # fp16: a step with overflowing gradients is skipped and the scale lowered
            trainee.scaler.unscale_(trainee.optimizer)
            nn.utils.clip_grad_norm_(trainable, objective.grad_clip)
            trainee.scaler.step(trainee.optimizer)
            trainee.scaler.update()
        else:
            norm = nn.utils.clip_grad_norm_(trainable, objective.grad_clip)
            if not torch.isfinite(norm):
                raise MeasurementError(
                    f"training stopped at step {step}: its gradients are not finite, so its weights would "
                    "not be"
                )
            trainee.optimizer.step()
        decay = ema_decay_at(step - 1, objective.ema_decay)
        with torch.no_grad():
            torch._foreach_lerp_(list(trainee.ema.parameters()), list(trainee.model.parameters()), 1 - decay)
        budget.step = step
        after_step(step, value)
    return budget.step


def ema_decay_at(step: int, decay: float) -> float:
    """EMA decay with warm-up, min(decay, (1 + k) / (10 + k)): early on the average follows the weights
    closely, so that a short run's EMA is not dominated by the random initial weights."""
    return min(decay, (1 + step) / (10 + step))


def finite(module: nn.Module) -> bool:
    """Whether every floating-point weight and buffer of ``module`` is finite."""
    tensors = [v for v in module.state_dict().values() if v.is_floating_point()]
    return not tensors or bool(torch.stack([v.isfinite().all() for v in tensors]).all())
