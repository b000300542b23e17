"""The classical reference denoisers (scikit-image), each given the true sigma."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def classical_denoiser(name: str, sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

    def run(image: np.ndarray) -> np.ndarray:  # (C, H, W)
        hwc = image.transpose(1, 2, 0)
        if name == "tv":
            out = denoise_tv_chambolle(hwc, weight=sigma, channel_axis=-1)
        elif name == "wavelet":
            out = denoise_wavelet(hwc, sigma=sigma, channel_axis=-1, rescale_sigma=True)
        else:
            out = denoise_nl_means(hwc, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6,
                                   fast_mode=True, channel_axis=-1)  # fmt: skip
        return np.clip(out, 0, 1).transpose(2, 0, 1)

    return run
