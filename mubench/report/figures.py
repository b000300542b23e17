"""What every measurement's plots are drawn with: a figure of the report's width, its PNG bytes, one
colour per model, bars, log axes labelled in plain numbers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from mubench.defaults import REFERENCES
from mubench.report.rows import column

WIDTH_IN, DPI = 10.0, 100  # ~1000 px wide
MARKERS = "osD^vP*Xhp<>"
plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.grid": True, "grid.alpha": 0.3})


def figure(height: float, ncols: int = 1, nrows: int = 1, **kwargs) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained", squeeze=False, **kwargs
    )
    return fig, axes.ravel()


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def model_colours(rows: pd.DataFrame) -> dict[str, tuple]:
    """One colour per model, in order of first appearance, the same in every plot; references grey-ish."""
    names = [m for m in dict.fromkeys(column(rows, "model").dropna().astype(str)) if m not in REFERENCES]
    palette = plt.get_cmap("tab10").colors
    colours = {name: palette[i % len(palette)] for i, name in enumerate(names)}
    greys = plt.get_cmap("Greys")(np.linspace(0.45, 0.9, len(REFERENCES)))
    colours.update({ref: tuple(greys[i]) for i, ref in enumerate(REFERENCES)})
    return colours


def annotate_bars(ax, bars, labels: Sequence[str]) -> None:
    for bar, label in zip(bars, labels):
        ax.annotate(
            label,
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )


def hbar(ax, labels: Sequence[str], values: Sequence[float], texts: Sequence[str], colours, title, xlabel):
    y = np.arange(len(labels))
    bars = ax.barh(y, values, color=colours)
    annotate_bars(ax, bars, texts)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, max(values) * 1.28)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)


def plain_number(value: float, _pos: object = None) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:g}"


def plain_log_axis(axis, low: float, high: float) -> None:
    """Log scale labelled with plain numbers (1,000 not 10^3), with enough labels to read values off:
    minor ticks labelled when the data span less than a decade, 1-2-5 ticks when less than two."""
    axis.axes.set_xscale("log") if axis.axis_name == "x" else axis.axes.set_yscale("log")
    axis.set_major_formatter(FuncFormatter(plain_number))
    axis.set_minor_formatter(FuncFormatter(plain_number) if high < 10 * low else NullFormatter())
    if 10 * low <= high < 100 * low:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))


def dodge(count: int, spread: float) -> np.ndarray:
    """Small offsets that keep overlapping error bars apart: ``count`` values over ``spread``."""
    return (np.arange(count) - (count - 1) / 2) * (spread / max(count - 1, 1))


def line_style(model: str) -> dict:
    if model in REFERENCES:
        return {"linestyle": "--", "marker": "s", "markersize": 4, "linewidth": 1.2}
    return {"linestyle": "-", "marker": "o", "markersize": 5, "linewidth": 2}
