"""The training batches: what step k trains on follows from (seed, k) alone.

Step k draws its global batch (image indices, timesteps, noise) from a generator seeded with (seed, k),
and its horizontal flips from a second one, so a resumed run, any number of DataLoader workers and any
number of processes see the same batches: under torchrun each rank takes its contiguous slice of the
global batch. Workers make whole steps' batches ahead of the training loop (and pin them for a GPU).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler


@dataclass(frozen=True)
class Slice:
    """This process's part of each global batch."""

    rank: int = 0
    world_size: int = 1

    def of(self, batch_size: int) -> slice:
        per_rank = batch_size // self.world_size
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % 2**64)  # large seeds wrap


def flip_generator(seed: int, step: int) -> torch.Generator:
    state = np.random.SeedSequence([seed % 2**64, step, 1]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state >> np.uint64(1)))


class StepBatches(Dataset):
    """Item k: this rank's share of step k's batch, ``(x0 in [-1, 1], t, noise)``."""

    def __init__(
        self, images: torch.Tensor, num_timesteps: int, batch_size: int, seed: int, flip: bool, part: Slice
    ) -> None:
        self.images, self.num_timesteps, self.batch_size = images, num_timesteps, batch_size
        self.seed, self.flip, self.part = seed, flip, part

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        gen = step_generator(self.seed, step)
        indices = torch.randint(len(self.images), (self.batch_size,), generator=gen)
        t = torch.randint(self.num_timesteps, (self.batch_size,), generator=gen)
        noise = torch.randn((self.batch_size, *self.images.shape[1:]), generator=gen)
        mine = self.part.of(self.batch_size)
        x0 = self.images[indices[mine]] * 2 - 1
        if self.flip:
            flipped = torch.rand(self.batch_size, generator=flip_generator(self.seed, step))[mine] < 0.5
            x0 = torch.where(flipped[:, None, None, None], x0.flip(-1), x0)
        return x0, t[mine], noise[mine]

    def __len__(self) -> int:  # steps are drawn by StepsFrom, without end
        return 2**62


class StepsFrom(Sampler[int]):
    """Step numbers from ``start`` on, without end: the loop stops when a budget is reached."""

    def __init__(self, start: int) -> None:
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return itertools.count(self.start)


def step_batches(
    batches: StepBatches, start: int, workers: int, pin_memory: bool
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Step ``start``'s batch, then the next step's, ...: made by ``workers`` processes ahead of the loop
    (0: in this one)."""
    loader = DataLoader(
        batches,
        batch_size=None,  # an item is a whole step's batch
        sampler=StepsFrom(start),
        num_workers=workers,
        pin_memory=pin_memory,
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )
    return iter(loader)
