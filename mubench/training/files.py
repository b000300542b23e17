"""The files of a training run: the checkpoint and its sidecar, the resume state and the curve log.

Rank 0 alone writes them. A run that fails, or is stopped by a signal, puts back the files at ``--out``
and ``--log`` as it found them; checks before the run refuse to overwrite a finished run or to resume
one with other settings.
"""

from __future__ import annotations

import contextlib
import math
import signal
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

import mubench
from mubench.checkpoints import read_meta, save_checkpoint, sidecar
from mubench.checks import finite_number
from mubench.distributed import World
from mubench.errors import MeasurementError, MubenchError, UsageError, opt
from mubench.results import write_bytes_atomic
from mubench.training.budget import TRAIN_MACS_PER_FORWARD_MAC, Budget
from mubench.training.config import RESUMED_AS_BEFORE, TrainConfig
from mubench.training.loop import Trainee, finite
from mubench.training.state import brief, save_state, state_path

# Settings recorded only since a later version, and what runs before it used.
RECORDED_SINCE = {"flip": False}
RECENT_LOSSES = 50  # the loss shown and recorded as the final loss is the mean of the last ones


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


def check_resume(meta: dict[str, Any], out: Path, cfg: TrainConfig, trained: int, *now: Any) -> None:
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


def _resume_differences(
    meta: dict[str, Any], cfg: TrainConfig, prediction: str, schedule: str, resolution: int
) -> list[str]:
    """How the settings of this run differ from those ``meta`` (the sidecar of the run resumed) records:
    ``--lr 0.001 (now 0.1)``; a setting it does not record counts as different."""
    config = meta.get("config") or {}
    was = {name: config.get(name, RECORDED_SINCE.get(name)) for name in RESUMED_AS_BEFORE}
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


def earlier_seconds(meta: dict[str, Any]) -> float:
    """Wall seconds the runs of a resumed checkpoint have trained so far (0 when it does not say)."""
    seconds = (meta.get("training") or {}).get("wall_s")
    return float(seconds) if finite_number(seconds) and seconds >= 0 else 0.0


def recent_mean(losses: list[float]) -> float:
    """Mean of the last :data:`RECENT_LOSSES` losses (the figure shown and recorded as the final loss)."""
    tail = losses[-RECENT_LOSSES:]
    return sum(tail) / len(tail) if tail else math.nan


def checkpoint_meta(
    cfg: TrainConfig, out: Path, step: int, losses: list[float], prediction: str, schedule: str,
    resolution: int, budget: Budget, forward_macs: int | None, world: World, device: torch.device,
    stopped_by: str | None,
) -> dict[str, Any]:  # fmt: skip
    """The sidecar of the checkpoint at ``step``: the settings, and what the run reached."""
    previous = read_meta(out) if world.is_main and out.exists() else {}
    reached = budget.reached()
    seconds = budget.seconds
    this_run = (step - budget.start_step) * cfg.batch_size
    training = {
        "budgets": cfg.budgets(),
        "reached": reached,
        "stopped_by": stopped_by,  # the budget reached first (None: an intermediate save)
        "wall_s": reached["minutes"] * 60,
        "images_per_s": this_run / seconds if seconds > 0 else None,  # this run's
        "world_size": world.world_size,
        "device": str(device),
        "dtype": cfg.dtype,
        "mode": cfg.mode(),
        "forward_macs_per_image": forward_macs,
        "train_macs_per_image": None if forward_macs is None else TRAIN_MACS_PER_FORWARD_MAC * forward_macs,
    }
    return {
        "model": cfg.model,
        "config": {**asdict(cfg), "eval_sigmas": list(cfg.eval_sigmas)},
        "schedule": schedule,
        "prediction": prediction,
        "dataset": cfg.dataset,
        "resolution": resolution,
        "steps": step,
        "seed": cfg.seed,
        "final_loss": recent_mean(losses) if losses else previous.get("final_loss"),
        "training": training,
        "mubench_version": mubench.__version__,
        "format": "safetensors; EMA weights",
    }


class RunFiles:
    """What rank 0 writes, and what it puts back if the run fails."""

    def __init__(self, out: Path, log: Path | None, resume: bool, world: World, start: int = 0) -> None:
        self.out, self.log, self.resume, self.world = out, log, resume, world
        self.losses: list[float] = []  # every step's loss in this run
        self.interval: list[float] = []  # since the last evaluation
        self.rows: list[dict[str, Any]] = self._earlier_rows(start) if world.is_main else []

    def _earlier_rows(self, start: int) -> list[dict[str, Any]]:
        """A resumed run's log keeps the rows up to the step it resumes from."""
        if not (self.resume and self.log is not None and self.log.exists()):
            return []
        from mubench.results import read_results

        try:
            frame, _ = read_results(self.log)
            kept = frame[(frame["command"] == "train") & (frame["training_steps"] <= start)]
        except (UsageError, KeyError, TypeError) as exc:
            detail = exc.message if isinstance(exc, UsageError) else f"no {exc}"
            raise UsageError(f"{opt('log')} '{self.log}': its earlier rows cannot be read ({detail}); "
                             f"give another {opt('log')}") from None  # fmt: skip
        return [{k: v for k, v in row.items() if v == v} for row in kept.to_dict("records")]  # NaN: absent

    def recent_loss(self) -> float:
        return recent_mean(self.losses)

    def take_interval(self) -> list[float]:
        taken, self.interval = self.interval, []
        return taken

    def save(self, trainee: Trainee, meta: dict[str, Any]) -> None:
        """The checkpoint and the state at ``meta['steps']``, on rank 0; an error on every rank."""
        self.world.on_main(lambda: self._save(trainee, meta))

    def _save(self, trainee: Trainee, meta: dict[str, Any]) -> None:
        step = meta["steps"]
        if not (finite(trainee.model) and finite(trainee.ema)):
            raise MeasurementError(f"training stopped at step {step}: its weights are not finite")
        try:  # the state first: a checkpoint is never ahead of its state
            save_state(self.out, trainee.model, trainee.ema, trainee.optimizer, step)
            save_checkpoint(self.out, trainee.ema, meta)
        except OSError as exc:  # a full disk, a folder made read-only or removed during the run
            raise MeasurementError(
                f"training stopped at step {step}: could not save: {_os_error(exc)}"
            ) from None

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        """The curve rows so far, written to the log (rank 0)."""
        if not self.world.is_main or self.log is None:
            return
        from mubench.results import to_frame, write_csv

        self.rows += rows
        try:
            write_csv(to_frame(self.rows), self.log)
        except OSError as exc:
            raise MeasurementError(f"{opt('log')} '{self.log}': could not write: {_os_error(exc)}") from None

    @contextlib.contextmanager
    def kept_as_they_were(self) -> Iterator[None]:
        """Run the body; if it fails (or a signal stops it), put the files back as they were."""
        paths = (self.out, sidecar(self.out), state_path(self.out), *([self.log] if self.log else []))
        snapshot = {p: p.read_bytes() if p.is_file() else None for p in paths} if self.world.is_main else {}
        previous = signal.signal(signal.SIGTERM, _stopped) if self.world.world_size > 1 else None
        try:
            yield
        except MubenchError as exc:
            kept = f"'{self.out}' is as it was" if self.resume else "nothing was written"
            try:
                _restore(snapshot)
            except OSError as restore_exc:
                kept = f"and putting back the files at '{self.out}' failed too: {_os_error(restore_exc)}"
            raise type(exc)(f"{exc.message}; {kept}", exc.field) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


def _stopped(signum: int, frame: object) -> None:
    """torchrun ends every rank with SIGTERM when one fails: stop as a failed run does."""
    raise MeasurementError(f"stopped by signal {signal.Signals(signum).name} (another rank failed)")


def _restore(snapshot: dict[Path, bytes | None]) -> None:
    for path, data in snapshot.items():
        if data is None:
            path.unlink(missing_ok=True)
        elif not path.exists() or path.read_bytes() != data:
            write_bytes_atomic(path, data)


def _os_error(exc: OSError) -> str:
    """An OSError on one line: its reason and the file it concerns."""
    reason = exc.strerror or brief(exc)
    return f"{reason} ('{exc.filename}')" if exc.filename else reason
