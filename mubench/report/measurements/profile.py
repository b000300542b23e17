"""Where the time goes (``mubench profile`` rows): each model's call time by operator category per
condition group, its section and its plot.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mubench.formatting import fixed, percent, text
from mubench.report.document import Heading, Table
from mubench.report.figures import figure, png
from mubench.report.rows import column, condition_label, latest, ok_rows
from mubench.report.tables import distinct_values, format_table, plot_image

PROFILE_KEYS = ["device", "dtype", "batch_size", "resolution", "mode", "num_threads"]


def profile_groups(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Ok profile rows per condition group (device, dtype, batch, resolution, mode, threads), labelled;
    of each model, its latest profiled run only."""
    profile = ok_rows(rows, "profile")
    if profile.empty:
        return []
    profile = profile.assign(mode=column(profile, "mode", "eager").fillna("eager"))
    out = []
    for _, group in profile.groupby(PROFILE_KEYS, dropna=False, sort=False):
        runs = latest(group, ["model"], ["timestamp"])[["model", "run_id"]]
        newest = group.merge(runs, on=["model", "run_id"], how="inner")
        out.append((condition_label(newest.iloc[0]), newest))
    return out


def profile_ms(rows: pd.DataFrame, model: str, conditions: pd.Series) -> pd.Series | None:
    """Milliseconds per call of each category in ``model``'s latest profile under the conditions of
    the row ``conditions`` (a latency row), or None when it has none."""
    for _, group in profile_groups(rows):
        first = group.iloc[0]
        same = all(str(first.get(k)) == str(conditions.get(k, "eager" if k == "mode" else None))
                   for k in PROFILE_KEYS)  # fmt: skip
        mine = group[group["model"] == model]
        if same and not mine.empty:
            return mine.set_index("category")["category_ms"].astype(float)
    return None


def profile_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    """Where each model's call time goes, by operator category, per condition group."""
    groups = profile_groups(rows)
    if not groups:
        return []
    columns = [
        ("model", "model", text),
        ("category", "category", text),
        ("category_ms", "ms per call", fixed(3)),
        ("category_time_share", "of time", percent),
        ("category_flops_share", "of FLOPs", percent),
        ("category_bytes_share", "of bytes (unfused)", percent),
        ("category_top_ops", "top operators (ms per call)", text),
    ]
    blocks: list = [Heading("Where the time goes")]
    for label, frame in groups:
        caption = (
            f"Run {distinct_values(frame, 'run_id')}; "
            f"{distinct_values(frame, 'profile_time_source')} per call from torch.profiler, by operator "
            "category; python/framework = time between operators (CPU) or "
            "the device waiting on the host (CUDA). FLOPs and bytes: counts of the eager model."
        )
        blocks += [Heading(label, 3), Table(format_table(frame, columns), caption)]
    blocks += plot_image(
        images,
        "profile",
        "Time per call by operator category",
        "Milliseconds per denoiser call of each operator category, stacked, per model and condition group.",
    )
    return blocks


def profile_plot(rows: pd.DataFrame) -> bytes | None:
    """Milliseconds per call by operator category, stacked, one bar per model and condition group."""
    from mubench.measure.profile.categories import order_key

    groups = profile_groups(rows)
    if not groups:
        return None
    bars = [(f"{model}\n{textwrap.fill(label, 40)}", frame[frame["model"] == model])
            for label, frame in groups for model in dict.fromkeys(frame["model"])]  # fmt: skip
    categories = sorted({c for _, f in bars for c in f["category"]}, key=order_key)
    palette = plt.get_cmap("tab20").colors
    fig, axes = figure(1.2 + 0.55 * len(bars))
    ax = axes[0]
    left = np.zeros(len(bars))
    for i, category in enumerate(categories):
        ms = np.array([f.set_index("category")["category_ms"].get(category, 0.0) for _, f in bars], float)
        ax.barh(range(len(bars)), ms, left=left, color=palette[i % len(palette)], label=category)
        left += ms
    ax.set_yticks(range(len(bars)), [label for label, _ in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms per denoiser call (profiled)")
    ax.grid(axis="y", visible=False)
    fig.legend(loc="outside right upper", title="operator category", fontsize=8)
    fig.suptitle("Where the time goes: time per call by operator category")
    return png(fig)
