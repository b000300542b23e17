"""The robustness protocol's denoising, in batches on any device: noisy images in [0, 1] -> the model's
estimates in [0, 1]. Free of rows and options, so that other code (training, to score EMA weights) can
denoise exactly as ``mubench robustness`` does.

Each image's stochastic sampler steps come from its own CPU generator, and every operation of the
built-in models acts on each image of a batch alone, so an image's estimate does not depend on the batch
it is in (up to float rounding: kernels for other batch sizes may round differently). An adaptive ODE
solver steps a batch as a whole, so with one the estimates move within its tolerance with the batch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import torch

from mubench.diffusion.samplers import Sampler
from mubench.diffusion.schedules import NoiseSchedule
from mubench.measure.runtime.build import checked_output, inference_contexts


def denoise_images(
    denoiser_model: torch.nn.Module,
    name: str,
    schedule: NoiseSchedule,
    prediction: str,
    sampler: Sampler,
    noisy: torch.Tensor,
    t_star: int,
    seeds: np.ndarray,
    *,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    channels_last: bool = False,
) -> tuple[torch.Tensor, int]:
    """Run ``sampler`` from step ``t_star`` of ``schedule`` to 0 on ``noisy`` (N, C, H, W) in [0, 1],
    ``batch_size`` images per call; (the estimates in [0, 1], clamped, float32 on the CPU, shaped like
    ``noisy``; denoiser calls per image).

    The reverse process starts from x_t* = sqrt(abar_t*) (2 y - 1); image i's stochastic steps draw from a
    CPU generator seeded with ``seeds[i]``. ``denoiser_model`` (``name`` in error messages) must already be
    on ``device`` (and in channels-last memory format with ``channels_last``, which feeds it channels-last
    inputs); it predicts ``prediction`` (eps, v or x0). With ``dtype`` fp16 or bf16 its calls run under
    autocast and their output is cast back to float32: the sampler computes in float32. float32 on CUDA
    is float32 throughout (TF32 off during the calls, as before them afterwards). Raises
    :class:`~mubench.errors.MeasurementError` when the model returns anything but a tensor of its input's
    shape.
    """
    if len(seeds) != len(noisy):
        raise ValueError(f"{len(seeds)} seeds for {len(noisy)} images")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    contexts = inference_contexts(device, dtype)

    def denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with contexts():
            output = denoiser_model(x, t)
        return checked_output(name, output, x).float()

    scale = math.sqrt(float(schedule.alpha_bar[t_star]))
    estimates, calls = [], len(sampler.timesteps(t_star))
    with torch.inference_mode(), full_float32(device):
        for start in range(0, len(noisy), batch_size):
            x_start = (scale * (2 * noisy[start : start + batch_size].float() - 1)).to(device)
            if channels_last:
                x_start = x_start.contiguous(memory_format=torch.channels_last)
            generators = [torch.Generator().manual_seed(int(s)) for s in seeds[start : start + batch_size]]
            result = sampler.sample(denoiser, schedule, x_start, t_star, prediction, generators)
            estimates.append(((result.x0.float() + 1) / 2).clamp(0, 1).cpu().contiguous())
            calls = result.denoiser_calls
    if not estimates:
        return torch.empty(noisy.shape, dtype=torch.float32), calls
    return torch.cat(estimates), calls


@contextlib.contextmanager
def full_float32(device: torch.device) -> Iterator[None]:
    """On CUDA, float32 matmuls and convolutions without TF32 (cuDNN allows it by default), the previous
    settings restored afterwards; on the CPU, nothing to change."""
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
