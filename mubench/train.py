"""Training a registry model as a denoiser on a built-in dataset (epsilon or v objective).

Adam, gradient clipping, an exponential moving average (EMA) of the weights (what the checkpoint
holds), seeded: the batch of step k is drawn from a generator seeded with (seed, k), so a resumed run
draws the same batches as an uninterrupted one. The resume state (raw weights, Adam's moments, the EMA
weights and the step) is kept beside the checkpoint in ``<name>.state.safetensors``: it is written
atomically and before the checkpoint, so an interrupt never leaves a state behind its checkpoint.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import mubench
from mubench.checkpoints import load_checkpoint, read_meta, save_checkpoint, sidecar
from mubench.data import check_dataset_name, load_dataset
from mubench.diffusion.schedules import NoiseSchedule
from mubench.errors import MeasurementError, MubenchError, UsageError, opt
from mubench.measure.failures import MODEL_FAILURES
from mubench.measure.runtime.build import build_model, checked_output
from mubench.registry import get_spec
from mubench.results import write_bytes_atomic
from mubench.train_state import brief, load_state, save_state, state_path

# The numeric settings of a run: each must be finite and in range before anything is built.
NUMBERS = ("steps", "minutes", "batch_size", "lr", "ema_decay", "grad_clip", "seed", "save_every")
MAX_LR = 1.0
# Settings that change what a run computes: a resumed run must keep them (the number of steps may grow).
TRAIN_PREDICTIONS = ("eps", "v")  # objectives mubench trains (the samplers also read x0-predicting weights)
RESUMED_AS_BEFORE = ("dataset", "prediction", "lr", "batch_size", "ema_decay", "grad_clip", "seed")


@dataclass(frozen=True)
class TrainConfig:
    model: str
    dataset: str = "patches32"
    steps: int | None = 2000  # optimizer steps (None: until --minutes run out)
    minutes: float | None = None  # wall-clock budget
    batch_size: int = 64
    lr: float = 2e-4  # Adam learning rate (Ho et al.: 2e-4)
    ema_decay: float = 0.999  # EMA of the weights per step
    grad_clip: float = 1.0  # max gradient norm (Ho et al.: 1)
    prediction: str | None = None  # "eps" or "v"; None: what the model is registered for
    seed: int = 0
    save_every: int = 500  # steps between checkpoints
    data_root: str | None = None  # root of torchvision datasets

    def __post_init__(self) -> None:
        from mubench.ranges import check_numbers

        if self.steps is None and self.minutes is None:
            raise UsageError(f"give {opt('steps')} or {opt('minutes')} (or both)")
        numbers = {name: getattr(self, name) for name in NUMBERS}
        given = {name: value for name, value in numbers.items() if value is not None}
        check_numbers(given)  # finite, and within their ranges
        if self.lr > MAX_LR:
            raise UsageError(
                f"{opt('lr')} must be at most {MAX_LR:g} (Adam moves each weight by about lr per step), "
                f"got {self.lr}"
            )
        check_dataset_name(self.dataset)
        if self.prediction is not None and self.prediction not in TRAIN_PREDICTIONS:
            raise UsageError(
                f"{opt('prediction')} must be one of {', '.join(TRAIN_PREDICTIONS)}, got '{self.prediction}'"
            )


def _resume_differences(
    meta: dict[str, Any], cfg: TrainConfig, prediction: str, schedule: str, resolution: int
) -> list[str]:
    """How the settings of this run differ from those ``meta`` (the sidecar of the run resumed) records:
    ``--lr 0.001 (now 0.1)``; a setting it does not record counts as different."""
    config = meta.get("config") or {}
    was = {name: config.get(name) for name in RESUMED_AS_BEFORE}
    was |= {"dataset": meta.get("dataset"), "prediction": meta.get("prediction")}
    now = {name: getattr(cfg, name) for name in RESUMED_AS_BEFORE} | {"prediction": prediction}
    named = {opt(name): (was[name], now[name]) for name in RESUMED_AS_BEFORE}
    named |= {
        "schedule": (meta.get("schedule"), schedule),
        "resolution": (meta.get("resolution"), resolution),
    }
    return [
        f"{name} {'not recorded' if before is None else before} (now {after})"
        for name, (before, after) in named.items()
        if before != after
    ]


def _check_resume(meta: dict[str, Any], out: Path, cfg: TrainConfig, trained: int, *now: Any) -> None:
    """Refuse to resume the run at ``out`` with other settings, or with fewer steps than it has trained."""
    differences = _resume_differences(meta, cfg, *now)
    if differences:
        raise UsageError(
            f"{opt('resume')}: '{out}' was trained with other settings: {', '.join(differences)}; resume "
            f"with its settings, or train afresh into another {opt('out')}"
        )
    if cfg.steps is not None and cfg.steps < trained:
        raise UsageError(
            f"{opt('resume')}: '{out}' has already trained {trained} steps, more than {opt('steps')} "
            f"{cfg.steps}; give {opt('steps')} {trained} or more"
        )


def _snapshot(out: Path) -> dict[Path, bytes | None]:
    """The bytes of the run's files at ``out`` (None: absent), to put back if the run fails."""
    return {p: p.read_bytes() if p.exists() else None for p in (out, sidecar(out), state_path(out))}


def _restore(snapshot: dict[Path, bytes | None]) -> None:
    """Put the run's files back as :func:`_snapshot` found them."""
    for path, data in snapshot.items():
        if data is None:
            path.unlink(missing_ok=True)
        elif not path.exists() or path.read_bytes() != data:
            write_bytes_atomic(path, data)


def _finite(module: nn.Module) -> bool:
    """Whether every floating-point weight and buffer of ``module`` is finite."""
    tensors = [v for v in module.state_dict().values() if v.is_floating_point()]
    return not tensors or bool(torch.stack([v.isfinite().all() for v in tensors]).all())


def check_out(out: Path, resume: bool) -> None:
    """Refuse, before any work, to overwrite a finished run (without --resume) or to resume nothing."""
    if resume and not (out.exists() and state_path(out).exists()):
        raise UsageError(f"{opt('resume')}: no checkpoint and state to resume at '{out}'")
    if not resume and out.exists():
        raise UsageError(
            f"{opt('out')} '{out}' already exists: pass {opt('resume')} to continue its run, "
            f"or choose another {opt('out')} (or delete it) to train afresh"
        )
    beside = [p for p in (sidecar(out), state_path(out)) if p.exists()]
    if not resume and beside:  # a fresh run would write these too: never over files it did not make
        raise UsageError(
            f"{opt('out')} '{out}': '{beside[0]}' already exists beside it; move it away or choose another "
            f"{opt('out')}"
        )


def train(
    cfg: TrainConfig,
    out: Path,
    resume: bool = False,
    on_progress: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """Train ``cfg.model``; write its EMA weights to ``out`` (safetensors + JSON sidecar) and return
    the sidecar's metadata."""
    check_out(out, resume)
    spec = get_spec(cfg.model)
    data = load_dataset(cfg.dataset, "train", Path(cfg.data_root) if cfg.data_root else None).images
    resolution = data.shape[-1]
    spec.check_resolution(resolution)
    prediction = cfg.prediction or spec.prediction
    schedule = NoiseSchedule.create(spec.schedule)
    alpha_bar = schedule.alpha_bar.float()

    try:
        model = build_model(spec, seed=cfg.seed).train()
    except MubenchError:
        raise
    except Exception as exc:  # a user's factory may raise anything
        raise MeasurementError(
            f"model '{cfg.model}': its factory raised {type(exc).__name__}: {brief(exc)}"
        ) from None
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise UsageError(f"model '{cfg.model}' has no trainable parameters")
    optimizer = torch.optim.Adam(trainable, lr=cfg.lr)
    start, losses = 0, []
    if resume:
        meta = load_checkpoint(out, ema, cfg.model)
        # The state is written first, so it may be a save ahead of the checkpoint: it wins when it has
        # a step (and then its EMA); older states rely on the checkpoint's.
        state_step = load_state(out, model, ema, optimizer, cfg.model)
        start = meta.get("steps") if state_step is None else state_step
        if start is None:
            raise UsageError(
                f"{opt('resume')}: the sidecar of '{out}' records no 'steps'; train afresh into another "
                f"{opt('out')}"
            )
        _check_resume(meta, out, cfg, start, prediction, schedule.name, resolution)

    def save(step: int) -> dict[str, Any]:
        try:
            return _checkpoint(out, cfg, ema, model, optimizer, step, losses, prediction, schedule.name,
                               resolution)  # fmt: skip
        except OSError as exc:  # a full disk, a folder made read-only or removed during the run
            reason = _os_error(exc)
            raise MeasurementError(f"training stopped at step {step}: could not save: {reason}") from None

    snapshot = _snapshot(out)  # a run that fails leaves the files at out as they were
    try:
        step = _run(cfg, model, ema, optimizer, data, alpha_bar, prediction, start, losses, on_progress, save)
        if step == start and not resume:
            raise MeasurementError(f"no step finished within {opt('minutes')} {cfg.minutes}")
        return save(step)
    except MubenchError as exc:
        kept = f"'{out}' is as it was" if resume else "nothing was written"
        try:
            _restore(snapshot)
        except OSError as restore_exc:
            kept = f"and putting back the files at '{out}' failed too: {_os_error(restore_exc)}"
        raise type(exc)(f"{exc.message}; {kept}", exc.field) from None


def _os_error(exc: OSError) -> str:
    """An OSError on one line: its reason and the file it concerns."""
    reason = exc.strerror or brief(exc)
    return f"{reason} ('{exc.filename}')" if exc.filename else reason


def _run(
    cfg: TrainConfig,
    model: nn.Module,
    ema: nn.Module,
    optimizer: torch.optim.Adam,
    data: torch.Tensor,
    alpha_bar: torch.Tensor,
    prediction: str,
    start: int,
    losses: list[float],
    on_progress: Callable[[int, float], None] | None,
    save: Callable[[int], Any],
) -> int:
    """The optimizer steps from ``start`` until ``cfg.steps`` or ``cfg.minutes``; the step reached. Stops
    with :class:`MeasurementError` at the first step whose model call fails or whose loss or weights are
    not finite."""
    trainable = [p for group in optimizer.param_groups for p in group["params"]]
    deadline = time.monotonic() + cfg.minutes * 60 if cfg.minutes else math.inf
    last = cfg.steps if cfg.steps is not None else 2**62
    step = start
    while step < last and time.monotonic() < deadline:
        gen = torch.Generator().manual_seed((cfg.seed * 1_000_003 + step) % 2**64)  # large seeds wrap
        x0 = data[torch.randint(len(data), (cfg.batch_size,), generator=gen)] * 2 - 1
        t = torch.randint(len(alpha_bar), (cfg.batch_size,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        a = alpha_bar[t].sqrt()[:, None, None, None]
        s = (1 - alpha_bar[t]).sqrt()[:, None, None, None]
        target = noise if prediction == "eps" else a * noise - s * x0
        x_t = a * x0 + s * noise
        try:
            loss = F.mse_loss(checked_output(cfg.model, model(x_t, t), x_t), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        except MubenchError as exc:
            raise MeasurementError(f"training stopped at step {step + 1}: {exc.message}") from None
        except MODEL_FAILURES as exc:  # the model's own code: a user's may raise anything
            what = (
                f"SystemExit({exc.code!r})"
                if isinstance(exc, SystemExit)
                else f"{type(exc).__name__}: {brief(exc)}"
            )
            raise MeasurementError(
                f"training stopped at step {step + 1}: model '{cfg.model}' raised {what}"
            ) from None
        value = loss.item()
        if not math.isfinite(value):
            raise MeasurementError(f"training stopped at step {step + 1}: the loss is {value}")
        nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
        optimizer.step()
        decay = ema_decay_at(step, cfg.ema_decay)
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters()):
                e.lerp_(p, 1 - decay)
        if not (_finite(model) and _finite(ema)):
            raise MeasurementError(f"training stopped at step {step + 1}: its weights are not finite")
        step += 1
        losses.append(value)
        if on_progress:
            on_progress(step, statistics_tail(losses))
        if step % cfg.save_every == 0:
            save(step)
    return step


def ema_decay_at(step: int, decay: float) -> float:
    """EMA decay with warm-up, min(decay, (1 + k) / (10 + k)): early on the average follows the weights
    closely, so that a short run's EMA is not dominated by the random initial weights."""
    return min(decay, (1 + step) / (10 + step))


def statistics_tail(losses: list[float], window: int = 50) -> float:
    """Mean of the last ``window`` losses (the figure shown and recorded as the final loss)."""
    tail = losses[-window:]
    return sum(tail) / len(tail) if tail else math.nan


def _checkpoint(
    out: Path,
    cfg: TrainConfig,
    ema: nn.Module,
    model: nn.Module,
    optimizer: torch.optim.Adam,
    step: int,
    losses: list[float],
    prediction: str,
    schedule: str,
    resolution: int,
) -> dict[str, Any]:
    previous = read_meta(out) if out.exists() else {}
    meta = {
        "model": cfg.model,
        "config": asdict(cfg),
        "schedule": schedule,
        "prediction": prediction,
        "dataset": cfg.dataset,
        "resolution": resolution,
        "steps": step,
        "seed": cfg.seed,
        "final_loss": statistics_tail(losses) if losses else previous.get("final_loss"),
        "mubench_version": mubench.__version__,
        "format": "safetensors; EMA weights",
    }
    save_state(out, model, ema, optimizer, step)  # first: a checkpoint is never ahead of its state
    save_checkpoint(out, ema, meta)
    return meta
