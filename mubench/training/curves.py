"""Curves while training: every N steps the EMA weights denoise a fixed set of test images at each sigma,
with the robustness protocol (the same images, noise and sampler seeds as `mubench robustness --steps
EVAL_STEPS` with its other defaults), and a row per sigma records the step, images seen, compute, wall
time, loss and scores."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mubench.distributed import World, interleave
from mubench.errors import UsageError
from mubench.training.config import TrainConfig

NOISE_SEED = 0  # `mubench robustness`'s default --seed: the curve's scores are the ones it gives
EVAL_BATCH_SIZE = 32  # images per denoiser call, as robustness's default (a score does not depend on it)


@dataclass
class _Level:
    sigma: float
    t_star: int
    noisy: torch.Tensor  # this rank's images, [0, 1]
    clean: np.ndarray  # this rank's images
    seeds: np.ndarray  # their sampler seeds


class Curves:
    """Scores the EMA weights of a run on its dataset's test images; rank 0 gets the rows."""

    def __init__(
        self, cfg: TrainConfig, schedule: Any, prediction: str, world: World, device: torch.device,
        dtype: torch.dtype, run_id: str, start: int = 0, seconds_before: float = 0.0,
    ) -> None:  # fmt: skip
        from mubench.data import load_dataset
        from mubench.diffusion.samplers import Sampler
        from mubench.measure.robustness.conditions import RobustnessConditions, metric_plan
        from mubench.measure.robustness.lpips import LpipsScorer
        from mubench.measure.robustness.metrics import Scores
        from mubench.measure.robustness.noise import noise_seed, noisy_images, sampler_seeds

        self.cfg, self.schedule, self.prediction, self.world = cfg, schedule, prediction, world
        self.device, self.dtype, self.run_id = device, dtype, run_id
        root = Path(cfg.data_root) if cfg.data_root else None
        test = load_dataset(cfg.dataset, "test", root, limit=cfg.eval_images, resolution=cfg.resolution)
        self.n_images, self.resolution = len(test.images), test.images.shape[-1]
        self.sampler = Sampler("ddim", cfg.eval_steps, 0.0)  # robustness's sampler, deterministic
        metrics, self.note = metric_plan(RobustnessConditions(sigmas=cfg.eval_sigmas))
        self.score = Scores(tuple(m for m in metrics if m != "lpips"))
        if "lpips" in metrics:  # when its backbone file is there and the images are large enough for it
            scorer = LpipsScorer("alex", None)
            with contextlib.suppress(UsageError):
                scorer.check_size(self.resolution)
                self.score = Scores(metrics, scorer)
        mine = world.share(range(self.n_images))
        self.levels = []
        for sigma in cfg.eval_sigmas:
            seed = noise_seed(NOISE_SEED, sigma)
            noisy = noisy_images(test.images, sigma, seed)
            seeds = sampler_seeds(seed, self.n_images)[mine]
            t_star = schedule.step_for_sigma(sigma)
            self.levels.append(_Level(sigma, t_star, noisy[mine], test.images[mine].numpy(), seeds))
        self.last: dict[str, float] = {"steps": start, "seconds": seconds_before}  # the previous row's

    def rows(self, ema: nn.Module, reached: dict[str, float], losses: list[float], lr: float) -> list[dict]:
        """The rows of the EMA weights at this point (rank 0; [] on the others)."""
        from mubench.measure.robustness.metrics import scored_fields
        from mubench.results import environment, make_row

        scored = []
        for level in self.levels:
            estimates = self._denoise(ema, level)
            scores = self.score(list(estimates.numpy()), level.clean)
            parts = self.world.gather_values(scores)
            if self.world.is_main:
                scored.append((level, {m: interleave([p[m] for p in parts]) for m in parts[0]}))
        steps, seconds = reached["steps"], reached["minutes"] * 60
        trained = (steps - self.last["steps"]) * self.cfg.batch_size
        rate = trained / max(seconds - self.last["seconds"], 1e-9) if trained else None
        self.last = {"steps": steps, "seconds": seconds}
        if not self.world.is_main:
            return []
        common = dict(model=self.cfg.model, device=str(self.device), dtype=self.cfg.dtype,
                      batch_size=self.cfg.batch_size, resolution=self.resolution, seed=self.cfg.seed,
                      dataset=self.cfg.dataset, n_images=self.n_images, world_size=self.world.world_size,
                      training_steps=int(steps), images_seen=int(reached["images"]),
                      train_tmacs=reached["train_tmacs"], wall_s=seconds,
                      loss_mean=sum(losses) / len(losses) if losses else math.nan, lr=lr,
                      images_per_s=rate, **environment(str(self.device)))  # fmt: skip
        return [
            make_row(
                "train",
                self.run_id,
                **common,
                steps=len(self.sampler.timesteps(level.t_star)),
                sampler=self.sampler.describe(),
                sigma=level.sigma,
                t_start=level.t_star,
                **scored_fields(scores),
                message=self.note or "",
            )
            for level, scores in scored
        ]

    def _denoise(self, ema: nn.Module, level: _Level) -> torch.Tensor:
        """The level's noisy images denoised from t* by the EMA weights: [0, 1], float32, on the CPU."""
        from mubench.measure.robustness.denoise import denoise_images

        estimates, _ = denoise_images(ema, self.cfg.model, self.schedule, self.prediction, self.sampler,
                                      level.noisy, level.t_star, level.seeds, batch_size=EVAL_BATCH_SIZE,
                                      device=self.device, dtype=self.dtype,
                                      channels_last=self.cfg.channels_last)  # fmt: skip
        return estimates
