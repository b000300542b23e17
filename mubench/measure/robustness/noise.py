"""The noisy images and the seeds they and the samplers draw from: a function of the seed and sigma
only, so that every model sees the same noise."""

from __future__ import annotations

import numpy as np
import torch


def noisy_images(clean: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """y = x + sigma * N(0, I), the noise of image i drawn from its own generator (seed, i)."""
    noise = torch.stack(
        [torch.randn(image.shape, generator=torch.Generator().manual_seed(seed * 100_003 + i)) for i, image in
         enumerate(clean)]
    )  # fmt: skip
    return clean + sigma * noise


def noise_seed(seed: int, sigma: float) -> int:
    """Seed of the noise at ``sigma``: a function of the value, so a sigma gets the same noisy images
    whichever other sigmas are measured with it."""
    return seed * 100_000 + round(sigma * 10_000)


def sampler_seeds(seed: int, n: int) -> np.ndarray:
    """Seeds of the stochastic sampler steps of images 0..n-1 at one noise level (independent of the
    noise that made the images, and of how the images are split over processes)."""
    return np.random.SeedSequence([seed, 1]).generate_state(n, dtype=np.uint64) >> np.uint64(1)
