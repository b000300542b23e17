"""Training a registry model as a denoiser (epsilon or v objective), on one process or many.

Adam, gradient clipping, an exponential moving average (EMA) of the weights (what the checkpoint holds),
seeded: the batch of step k follows from (seed, k) alone (:mod:`mubench.training.batches`), so a resumed
run, any number of DataLoader workers and any number of processes train on the same batches. Under
torchrun each process takes its slice of the global batch and DistributedDataParallel averages the
gradients; rank 0 alone writes. The resume state (raw weights, Adam's moments, the EMA weights and the
step) is kept beside the checkpoint in ``<name>.state.safetensors`` (:mod:`mubench.training.state`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mubench.checkpoints import load_checkpoint
from mubench.data import load_dataset
from mubench.diffusion.schedules import NoiseSchedule
from mubench.distributed import World, join
from mubench.errors import MeasurementError, MubenchError, UsageError, opt
from mubench.measure.failures import MODEL_FAILURES
from mubench.measure.runtime.build import build_model
from mubench.measure.runtime.device import resolve_device, resolve_dtype
from mubench.registry import get_spec
from mubench.training.batches import Slice, StepBatches, step_batches
from mubench.training.budget import TRAIN_MACS_PER_FORWARD_MAC, Budget, forward_macs_per_image
from mubench.training.config import TrainConfig
from mubench.training.files import RunFiles, check_out, check_resume, checkpoint_meta, earlier_seconds
from mubench.training.loop import Objective, Trainee, run_steps
from mubench.training.state import brief, load_state

# on_progress(step, mean loss of the last steps, what the run has reached: steps, images, minutes, ...)
Progress = Callable[[int, float, dict[str, float]], None]


def train(
    cfg: TrainConfig,
    out: Path,
    resume: bool = False,
    on_progress: Progress | None = None,
    log: Path | None = None,
    run_id: str = "",
) -> dict[str, Any]:
    """Train ``cfg.model``; write its EMA weights to ``out`` (safetensors + JSON sidecar) and return the
    sidecar's metadata (on every rank). With ``cfg.eval_every``, the curve rows go to ``log`` (CSV)."""
    world = join(cfg.device)
    device = resolve_device(world.device(cfg.device))
    dtype = resolve_dtype(cfg.dtype, device)
    if cfg.batch_size % world.world_size:
        raise UsageError(
            f"{opt('batch_size')} {cfg.batch_size} (the global batch) does not divide over "
            f"{world.world_size} processes; give a multiple of {world.world_size}"
        )
    world.on_main(lambda: check_out(out, resume))
    spec = get_spec(cfg.model)
    root = Path(cfg.data_root) if cfg.data_root else None
    data = load_dataset(cfg.dataset, "train", root, resolution=cfg.resolution).images
    resolution = data.shape[-1]
    spec.check_resolution(resolution)
    prediction = cfg.prediction or spec.prediction
    schedule = NoiseSchedule.create(spec.schedule)
    model = _built(cfg).train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise UsageError(f"model '{cfg.model}' has no trainable parameters")
    forward_macs = _forward_macs(model, spec.channels, resolution)
    if forward_macs is None and cfg.train_tmacs is not None:
        raise UsageError(f"{opt('train_tmacs')}: the MACs of model '{cfg.model}' cannot be counted")
    optimizer = _adam(trainable, cfg.lr)
    start, seconds_before = 0, 0.0
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
        check_resume(meta, out, cfg, start, prediction, schedule.name, resolution)
        seconds_before = earlier_seconds(meta)
    trainee = _on_device(cfg, model, ema, optimizer, world, device, dtype)
    budget = Budget(cfg.budgets(), cfg.batch_size, TRAIN_MACS_PER_FORWARD_MAC * (forward_macs or 0),
                    seconds_before=seconds_before)  # fmt: skip
    files = RunFiles(out, log, resume, world, start)
    objective = Objective(schedule.alpha_bar.float().to(device), prediction, cfg.grad_clip, cfg.ema_decay)
    batches = StepBatches(data, len(schedule.alpha_bar), cfg.batch_size, cfg.seed, cfg.flip,
                          Slice(world.rank, world.world_size))  # fmt: skip

    def meta_at(step: int, stopped_by: str | None = None) -> dict[str, Any]:
        return checkpoint_meta(cfg, out, step, files.losses, prediction, schedule.name, resolution, budget,
                               forward_macs, world, device, stopped_by)  # fmt: skip

    curves = None
    if cfg.eval_every:
        from mubench.training.curves import Curves

        curves = Curves(cfg, schedule, prediction, world, device, dtype, run_id, start, seconds_before)

    def evaluate() -> None:
        if curves is not None:
            with budget.paused():
                files.add_rows(curves.rows(ema, budget.reached(), files.take_interval(), cfg.lr))

    def after_step(step: int, loss: float) -> None:
        files.losses.append(loss)
        files.interval.append(loss)
        if on_progress and world.is_main:
            on_progress(step, files.recent_loss(), budget.reached())
        if step % cfg.save_every == 0:
            files.save(trainee, meta_at(step))
        if cfg.eval_every and step % cfg.eval_every == 0:
            evaluate()

    with files.kept_as_they_were():
        budget.start(start)
        if curves is not None and start == 0:
            evaluate()  # the untrained weights: where every curve starts
        iterator = step_batches(batches, start, cfg.workers, pin_memory=device.type == "cuda")
        step = run_steps(trainee, objective, iterator, budget, world, after_step)
        if step == start and not resume:
            raise MeasurementError(f"no step finished within {opt('minutes')} {cfg.minutes}")
        if curves is not None and step % cfg.eval_every:
            evaluate()  # the curve ends at the checkpoint
        meta = meta_at(step, budget.exhausted())
        files.save(trainee, meta)
    return meta


def _adam(params: list[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam, its fused kernels where this torch has them for the parameters (on the CPU: 3-4x faster a
    step than the per-tensor loop; the same update up to float rounding)."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


def _built(cfg: TrainConfig) -> torch.nn.Module:
    try:
        return build_model(get_spec(cfg.model), seed=cfg.seed)
    except MubenchError:
        raise
    except MODEL_FAILURES as exc:  # a user's factory may raise anything
        raise MeasurementError(
            f"model '{cfg.model}': its factory raised {type(exc).__name__}: {brief(exc)}"
        ) from None


def _forward_macs(model: torch.nn.Module, channels: int, resolution: int) -> int | None:
    """The forward MACs of one image (None: the model cannot be counted; its training says why)."""
    try:
        return forward_macs_per_image(model, channels, resolution)
    except MODEL_FAILURES:
        return None


def _on_device(
    cfg: TrainConfig, model: torch.nn.Module, ema: torch.nn.Module, optimizer: torch.optim.Adam,
    world: World, device: torch.device, dtype: torch.dtype,
) -> Trainee:  # fmt: skip
    """The model, its EMA and Adam's moments on ``device``, in the memory format asked; the model wrapped
    for several processes and compiled when asked."""
    memory_format = torch.channels_last if cfg.channels_last else torch.preserve_format
    model.to(device=device, memory_format=memory_format)  # in place: Adam keeps its parameters
    ema.to(device=device, memory_format=memory_format)
    fused = bool(optimizer.defaults.get("fused"))  # fused Adam keeps its step counts on the device too
    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and (key != "step" or fused):
                state[key] = value.to(device)
    forward: Any = model
    if world.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        forward = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        forward = torch.compile(forward)
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    return Trainee(cfg.model, model, forward, ema, optimizer, device, dtype, cfg.channels_last, scaler)
