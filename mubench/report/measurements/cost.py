"""Cost against quality: the robustness rows' denoise time (and the flops rows' MACs) against PSNR, its
section and its plot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from mubench.report.document import Heading
from mubench.report.figures import MARKERS, figure, png
from mubench.report.measurements.flops import fvcore_macs
from mubench.report.measurements.robustness import full_process
from mubench.report.rows import column
from mubench.report.tables import distinct_values, plot_image


def cost_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    if "cost_quality" not in images:
        return []
    devices = distinct_values(full_process(rows), "device")
    caption = (
        f"Denoise seconds per image as timed by the robustness run itself (device: {devices}; it includes "
        "every reverse step from t*, not a latency benchmark) against mean PSNR; one marker per model or "
        "reference, one colour per sigma. Where flops rows of those models exist at the same resolution, "
        "the second panel shows fvcore MACs per denoiser call (batch 1) against PSNR."
    )
    return [
        Heading("Cost against quality"),
        *plot_image(images, "cost_quality", "Cost against quality", caption),
    ]


def _macs_for(full: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """fvcore MACs per call (batch 1) at each robustness row's model and resolution; NaN where absent."""
    macs = fvcore_macs(rows)
    if macs.empty:
        return pd.Series(np.nan, index=full.index)
    macs = macs[macs["batch_size"] == 1]
    if "tier" in macs:  # one count per model/resolution: the default tier first
        macs = macs.sort_values("tier", key=lambda t: t != "matmul", kind="stable")
    lookup = macs.drop_duplicates(["model", "resolution"]).set_index(["model", "resolution"])["macs"]
    keys = list(zip(full["model"], full["resolution"]))
    return pd.Series([lookup.get(k, np.nan) for k in keys], index=full.index)


def cost_quality(rows: pd.DataFrame) -> bytes | None:
    """Denoise seconds per image (log x) against PSNR: one marker per model/reference, one colour per
    sigma; a second panel with MACs per call when flops rows of those models exist."""
    full = full_process(rows)
    full = full[pd.to_numeric(column(full, "denoise_s_per_image"), errors="coerce") > 0]
    if full.empty:
        return None
    full = full.assign(macs=_macs_for(full, rows))
    with_macs = full.dropna(subset=["macs"])
    fig, axes = figure(5.0, ncols=2 if len(with_macs) else 1)
    sigmas = sorted(full["sigma"].unique())
    cmap = plt.get_cmap("viridis")
    sigma_colour = {s: cmap(i / max(len(sigmas) - 1, 1) * 0.85) for i, s in enumerate(sigmas)}
    models = list(dict.fromkeys(full["model"]))
    marker = {m: MARKERS[i % len(MARKERS)] for i, m in enumerate(models)}
    panels = [(axes[0], full, "denoise_s_per_image", "seconds per image (log scale)", "Denoise time")]
    if len(with_macs):
        panels.append((axes[1], with_macs, "macs", "MACs per denoiser call (log scale)", "Compute per call"))
    for ax, frame, x, xlabel, title in panels:
        for _, row in frame.iterrows():
            ax.scatter(
                row[x],
                row["psnr_db_mean"],
                s=60,
                marker=marker[row["model"]],
                color=sigma_colour[row["sigma"]],
                edgecolor="black",
                linewidth=0.5,
                zorder=3,
            )
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("PSNR (dB, mean)")
        ax.set_title(f"{title} against PSNR")
    if len(panels) > 1:  # ticks at the models' own counts: few values, each named exactly
        ticks = sorted(with_macs["macs"].unique())
        axes[1].set_xticks(ticks, [f"{t / 1e9:.3g} G" for t in ticks])
        axes[1].xaxis.set_minor_formatter(NullFormatter())
        axes[1].margins(x=0.15)
    model_handles = [
        Line2D([], [], marker=marker[m], linestyle="", color="grey", markeredgecolor="black", label=m)
        for m in models
    ]
    sigma_handles = [
        Line2D([], [], marker="o", linestyle="", color=sigma_colour[s], label=f"σ = {s:g}") for s in sigmas
    ]
    fig.legend(
        handles=model_handles + sigma_handles, loc="outside right upper", title="marker: model\ncolour: sigma"
    )
    fig.suptitle("Cost against denoising quality (full reverse process from t*)")
    return png(fig)
