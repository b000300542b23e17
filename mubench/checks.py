"""Checks of what mubench is about to write or use: tensors, noise schedules and statistics.

Each raises :class:`~mubench.errors.UsageError` in one line naming the first bad value, so that no NaN,
infinity or impossible value (a beta outside (0, 1), a covariance that is not one) is ever saved or used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from mubench.errors import UsageError

MIN_SCHEDULE_STEPS = 2


def finite_number(value: Any) -> bool:
    """A real number (not a bool) that is neither NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_tensors_finite(tensors: Mapping[str, torch.Tensor], where: str) -> None:
    """Refuse weights holding NaN or infinity, naming the first tensor that does."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() or tensor.is_complex():
            bad = int((~torch.isfinite(tensor)).sum())
            if bad:
                raise UsageError(
                    f"{where}: tensor '{name}' holds {bad} non-finite value(s) (NaN or infinity) of "
                    f"{tensor.numel()}; such weights are never written"
                )


def check_betas(betas: Any, where: str) -> torch.Tensor:
    """The betas of a noise schedule as a float64 tensor: at least two, each finite and in (0, 1)."""
    if isinstance(betas, torch.Tensor):
        values = betas.detach().to("cpu", torch.float64).flatten()
    else:
        if not isinstance(betas, Sequence) or isinstance(betas, (str, bytes)):
            raise UsageError(f"{where}: betas must be a list of numbers, got {type(betas).__name__}")
        bad = next((b for b in betas if not isinstance(b, (int, float)) or isinstance(b, bool)), None)
        if bad is not None:
            raise UsageError(f"{where}: betas must be numbers, got {str(bad)[:40]!r}")
        values = torch.tensor([float(b) for b in betas], dtype=torch.float64)
    if values.numel() < MIN_SCHEDULE_STEPS:
        raise UsageError(
            f"{where}: a schedule needs at least {MIN_SCHEDULE_STEPS} betas, got {values.numel()}"
        )
    outside = ~(torch.isfinite(values) & (values > 0) & (values < 1))
    if outside.any():
        step = int(outside.nonzero()[0])
        raise UsageError(
            f"{where}: beta at step {step} is {float(values[step])}; every beta must be a number in (0, 1)"
        )
    return values


def check_statistics(mu: np.ndarray, sigma: np.ndarray, where: str) -> None:
    """Refuse FID statistics that are not a mean and a covariance: shapes, finite values, a symmetric
    positive semi-definite sigma (up to rounding)."""
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise UsageError(
            f"{where}: mu of shape {mu.shape} and sigma of shape {sigma.shape}; expected (d,) and (d, d)"
        )
    if len(mu) == 0:
        raise UsageError(f"{where}: mu and sigma are empty")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise UsageError(f"{where}: mu or sigma holds non-finite values (NaN or infinity)")
    scale = max(float(np.abs(sigma).max()), 1e-300)
    if not np.allclose(sigma, sigma.T, rtol=1e-6, atol=1e-9 * scale):
        raise UsageError(f"{where}: sigma is not symmetric, so it is not a covariance matrix")
    lowest = float(np.linalg.eigvalsh((sigma + sigma.T) / 2).min())
    if lowest < -1e-6 * scale:
        raise UsageError(
            f"{where}: sigma has a negative eigenvalue ({lowest:.3g}), so it is not a covariance matrix"
        )
