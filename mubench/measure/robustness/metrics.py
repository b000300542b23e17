"""Per-image scores (PSNR, SSIM, LPIPS) and their statistics: spread, paired differences, what is left
out as non-finite."""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np

from mubench.measure.robustness.lpips import LpipsScorer


def psnr_db(estimate: np.ndarray, clean: np.ndarray) -> float:
    """Peak signal-to-noise ratio for data range 1, in dB."""
    mse = float(np.mean((estimate.astype(np.float64) - clean.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def ssim(estimate: np.ndarray, clean: np.ndarray) -> float:
    """Structural similarity (scikit-image, data range 1) of (C, H, W) images."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(clean, estimate, data_range=1.0, channel_axis=0))


def spread(values: list[float], prefix: str) -> dict[str, float]:
    """mean, std and the half-width of a 95% Student-t confidence interval of the mean, over the finite
    ``values`` (a NaN or inf is left out; none finite: all three NaN)."""
    from scipy.stats import t as student_t

    values = [v for v in values if math.isfinite(v)]
    n = len(values)
    if n == 0:
        return {f"{prefix}_mean": math.nan, f"{prefix}_std": math.nan, f"{prefix}_ci95": math.nan}
    std = statistics.stdev(values) if n > 1 else 0.0
    ci = float(student_t.ppf(0.975, n - 1)) * std / math.sqrt(n) if n > 1 else math.nan
    return {f"{prefix}_mean": statistics.fmean(values), f"{prefix}_std": std, f"{prefix}_ci95": ci}


class Scores:
    """Per-image scores of the metrics measured: ``{column prefix: [value per image]}``."""

    def __init__(self, metrics: tuple[str, ...], lpips: LpipsScorer | None = None):
        self.metrics, self.lpips = metrics, lpips

    def __call__(self, estimates: list[np.ndarray], clean: np.ndarray) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        if "psnr" in self.metrics:
            out["psnr_db"] = [psnr_db(e, c) for e, c in zip(estimates, clean)]
        if "ssim" in self.metrics:
            out["ssim"] = [ssim(e, c) for e, c in zip(estimates, clean)]
        if "lpips" in self.metrics and self.lpips is not None:
            out["lpips"] = self.lpips(np.stack(estimates), clean)
        return out


def finite_images(per_image: dict[str, list[float]]) -> list[bool]:
    """Per image: whether every score of it is finite (a NaN output, or an exact copy's infinite PSNR,
    is not)."""
    return [all(map(math.isfinite, scores)) for scores in zip(*per_image.values())]


def exact_copies(per_image: dict[str, list[float]]) -> int:
    """Images scored PSNR +inf (an output equal to the clean image) with every other score finite."""
    names = list(per_image)
    return sum(
        1
        for scores in zip(*per_image.values())
        if all(math.isfinite(v) or (name == "psnr_db" and v == math.inf) for name, v in zip(names, scores))
        and not all(map(math.isfinite, scores))
    )


def summary(per_image: dict[str, list[float]], keep: list[bool] | None = None) -> dict[str, float]:
    """Each metric's spread over the images in ``keep`` (default: those whose scores are all finite), so
    that every statistic of a row describes the same images."""
    keep = finite_images(per_image) if keep is None else keep
    return {
        key: value
        for metric, values in per_image.items()
        for key, value in spread([v for v, kept in zip(values, keep) if kept], metric).items()
    }


_METRIC_NAMES = {"psnr_db": "PSNR", "ssim": "SSIM", "lpips": "LPIPS"}


def paired_differences(per_image: dict[str, list[float]], base: dict[str, list[float]]) -> dict[str, float]:
    """Per-image differences to the baseline model on the same noisy images: mean, std and 95% CI, over
    the images whose scores are finite in both."""
    keep = [a and b for a, b in zip(finite_images(per_image), finite_images(base))]
    diffs = {
        f"{metric}_diff": [a - b for a, b in zip(values, base[metric])]
        for metric, values in per_image.items()
    }
    return summary(diffs, keep)


def scored_fields(
    per_image: dict[str, list[float]], base: dict[str, list[float]] | None = None
) -> dict[str, Any]:
    """A row's statistics, ``n_nonfinite`` and, where images were left out, its status and message: a row
    with no image whose scores are all finite is an error; one with some says how many were left out."""
    keep = finite_images(per_image)
    n, left_out = len(keep), keep.count(False)
    fields: dict[str, Any] = {**summary(per_image, keep), "n_nonfinite": left_out}
    notes = []
    exact = exact_copies(per_image)
    if exact:  # MSE 0: a perfect result, not a failure; PSNR has no finite value for it
        notes.append(
            f"{exact} of {n} images are exact copies of the clean image (PSNR +inf), left out of the "
            "statistics"
        )
    if left_out > exact:
        kinds = sorted({repr(v) for values in per_image.values() for v in values if not math.isfinite(v)})
        names = " or ".join(_METRIC_NAMES[prefix] for prefix in per_image)
        notes.append(
            f"{left_out - exact} of {n} images scored non-finite ({', '.join(kinds)} in {names})"
            + ("; nothing to measure" if left_out == n else "; statistics over the other images")
        )
    if base is not None:
        paired = sum(a and b for a, b in zip(keep, finite_images(base)))
        if 0 < paired < n - left_out:
            notes.append(f"paired differences over the {paired} images finite in the baseline too")
    if left_out == n and left_out > exact:
        fields["status"] = "error"
    if notes:
        fields["message"] = "; ".join(notes)
    return fields
