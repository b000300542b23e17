"""KID (Binkowski et al. 2018): the unbiased estimate of the squared MMD between two feature sets with
the polynomial kernel k(x, y) = (x . y / d + 1) ** 3, averaged over random subsets of both sets."""

from __future__ import annotations

import numpy as np

DEFAULT_SUBSETS = 100
DEFAULT_SUBSET_SIZE = 1000


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two (m, d) samples of one size: the kernel's off-diagonal means within each
    sample, less twice its mean across them."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.mean())


def kid(
    a: np.ndarray,
    b: np.ndarray,
    subsets: int = DEFAULT_SUBSETS,
    subset_size: int = DEFAULT_SUBSET_SIZE,
    seed: int = 0,
) -> tuple[float, float, int]:
    """KID's mean and standard deviation over ``subsets`` pairs of subsets (drawn without replacement, of
    ``subset_size`` or the smaller set's size, whichever is less), and that size."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError(f"KID needs subsets of at least 2 features, got {m}")
    rng = np.random.default_rng(seed)
    values = [
        polynomial_mmd2(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values)), m
