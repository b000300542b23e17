"""Training budgets: steps, images seen, wall-clock minutes and training compute; a run stops at the first
one reached, and records all four as reached.

Training compute counts forward + backward as 3 x the forward MACs of one image (the convention of
Kaplan et al. and of EDM's reports: the backward pass costs about twice the forward), times the images
seen; the forward MACs are what ``mubench flops`` counts for the model at the training resolution.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

TRAIN_MACS_PER_FORWARD_MAC = 3  # forward + backward


def forward_macs_per_image(model: nn.Module, channels: int, resolution: int) -> int:
    """MACs of one forward call on one image at ``resolution`` (fvcore, matmul tier: what `mubench flops`
    reports), counted on a copy of the model on the CPU."""
    import copy

    from mubench.measure.counting.counters import count_fvcore

    counted = copy.deepcopy(model).cpu().float().eval()
    x = torch.zeros(1, channels, resolution, resolution)
    t = torch.zeros(1, dtype=torch.long)
    with torch.no_grad():
        return count_fvcore(counted, (x, t)).macs


@dataclass
class Budget:
    """The limits of a run and how far it has come; time counts from :meth:`start`."""

    limits: dict[str, float]  # steps, images, minutes, train_tmacs (those given)
    batch_size: int  # the global batch
    train_macs_per_image: int
    step: int = 0
    start_step: int = 0  # where this run began (a resumed run: the checkpoint's step)
    seconds_before: float = 0.0  # wall seconds of earlier runs this one resumes
    _started: float = field(default=math.nan, repr=False)
    _paused_s: float = field(default=0.0, repr=False)  # evaluations: not training time, nor budget

    def start(self, step: int) -> None:
        self.step = self.start_step = step
        self._started = time.monotonic()

    @property
    def seconds(self) -> float:
        """Wall seconds of this run's training so far (not counting resumed runs, nor evaluations)."""
        return time.monotonic() - self._started - self._paused_s

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent in the body (an evaluation) counts neither as training time nor against --minutes."""
        begin = time.monotonic()
        try:
            yield
        finally:
            self._paused_s += time.monotonic() - begin

    def reached(self) -> dict[str, float]:
        """Steps, images seen, minutes and training TMACs up to now, over every run of the checkpoint."""
        images = self.step * self.batch_size
        return {
            "steps": self.step,
            "images": images,
            "minutes": (self.seconds_before + self.seconds) / 60,
            "train_tmacs": images * self.train_macs_per_image / 1e12,
        }

    def exhausted(self) -> str | None:
        """The budget reached, if one is (steps, images and compute are cumulative; minutes count this
        run only, so that a resumed run gets its own time)."""
        now = self.reached() | {"minutes": self.seconds / 60}
        # a relative tolerance: a compute budget of exactly k steps' TMACs stops after k steps
        return next((name for name, limit in self.limits.items() if now[name] >= limit * (1 - 1e-12)), None)
