"""Names and defaults that `--help` shows, in one light module (standard library only).

The CLI builds every command's help from these, so `mubench --help` starts without importing torch,
pandas or the measurement code; the modules that measure import them from here too.
"""

from __future__ import annotations

# The paper's (and its authors' counts') input side: the shared resolution when several models are compared.
PAPER_RESOLUTION = 64

# The default pairs, (baseline, candidate), spelled out here for the help texts: the registry marks them
# (mubench.registry.paper_pair, pretrained_pair) and tests/models/test_weights.py checks that the two agree.
# The paper's comparison: the baseline its authors trained against the continuous U-Net it describes.
DEFAULT_PAIR = ("lucid-unet", "ode-u")

# The comparison pair at the size mubench ships trained (`mubench robustness` without --model): the
# registry's models with weights.
SHIPPED_PAIR = ("lucid-unet-tiny", "ode-u-tiny")

# Built-in datasets (no download); mubench.data.builtin holds their loaders, in this order.
BUILTIN_DATASETS = ("patches32", "patches64", "faces32")

# Robustness reference rows (no checkpoint): the noisy input itself and scikit-image's denoisers.
REFERENCES = ("identity", "tv", "wavelet", "nl-means")

# `mubench compare` shows these when no --metric is given (each where the rows have it).
DEFAULT_METRICS = (
    "params_total", "macs", "nfe", "macs_per_trajectory", "call_ms_median", "trajectory_s_median",
    "peak_mem_mib", "peak_activation_mib", "psnr_db_mean", "ssim_mean",
)  # fmt: skip

# What a denoiser is trained to predict: the noise, the velocity v, or the clean image.
PREDICTIONS = ("eps", "v", "x0")
