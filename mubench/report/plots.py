"""The report's figures: one function per plot, each returns PNG bytes, or None when its rows are absent.

They read result rows only (through :mod:`mubench.report.rows`, like the tables), never measure.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from mubench.report import rows as sel

WIDTH_IN, DPI = 10.0, 100  # ~1000 px wide
MARKERS = "osD^vP*Xhp<>"
plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.grid": True, "grid.alpha": 0.3})


def _figure(height: float, ncols: int = 1, nrows: int = 1, **kwargs) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained", squeeze=False, **kwargs
    )
    return fig, axes.ravel()


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def model_colours(rows: pd.DataFrame) -> dict[str, tuple]:
    """One colour per model, in order of first appearance, the same in every plot; references grey-ish."""
    names = [
        m for m in dict.fromkeys(sel.column(rows, "model").dropna().astype(str)) if m not in sel.REFERENCES
    ]
    palette = plt.get_cmap("tab10").colors
    colours = {name: palette[i % len(palette)] for i, name in enumerate(names)}
    greys = plt.get_cmap("Greys")(np.linspace(0.45, 0.9, len(sel.REFERENCES)))
    colours.update({ref: tuple(greys[i]) for i, ref in enumerate(sel.REFERENCES)})
    return colours


def _annotate_bars(ax, bars, labels: Sequence[str]) -> None:
    for bar, label in zip(bars, labels):
        ax.annotate(
            label,
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )


def _hbar(ax, labels: Sequence[str], values: Sequence[float], texts: Sequence[str], colours, title, xlabel):
    y = np.arange(len(labels))
    bars = ax.barh(y, values, color=colours)
    _annotate_bars(ax, bars, texts)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, max(values) * 1.28)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)


# ---------------------------------------------------------------- parameters and MACs


def macs_label(row: pd.Series, several_resolutions: bool) -> str:
    label = str(row["model"])
    batch = sel.int_text(row.get("batch_size"))
    if several_resolutions or batch != "1":
        label += f" ({sel.int_text(row.get('resolution'))}px"
        label += ")" if batch == "1" else f", batch {batch})"
    return label


def params_macs(rows: pd.DataFrame) -> bytes | None:
    """Two horizontal bar panels: parameters (millions) and fvcore MACs per denoiser call (G)."""
    params = sel.params_by_model(rows)
    macs = sel.fvcore_macs(rows)
    if params.empty and macs.empty:
        return None
    colours = model_colours(rows)
    n = max(len(params), len(macs))
    panels = [p for p in (params, macs) if not p.empty]
    fig, axes = _figure(max(2.8, 0.42 * n + 1.6), ncols=len(panels))
    ax = iter(axes)
    if not params.empty:
        values = params["params_total"] / 1e6
        _hbar(
            next(ax),
            list(params["model"]),
            list(values),
            [f"{v:,.2f} M" for v in values],
            [colours[m] for m in params["model"]],
            "Parameters (params_total)",
            "parameters (millions)",
        )
    if not macs.empty:
        several = macs["resolution"].nunique() > 1
        values = macs["macs"] / 1e9
        _hbar(
            next(ax),
            [macs_label(row, several) for _, row in macs.iterrows()],
            list(values),
            [f"{v:,.3f} G" for v in values],
            [colours[m] for m in macs["model"]],
            "MACs per denoiser call (fvcore)",
            "multiply-accumulates per call (G = 1e9)",
        )
    fig.suptitle("Model size and compute")
    return _png(fig)


# ---------------------------------------------------------------- latency


def _median_text(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _plain(value: float, _pos: object = None) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:g}"


def _plain_log_axis(axis, low: float, high: float) -> None:
    """Log scale labelled with plain numbers (1,000 not 10^3), with enough labels to read values off:
    minor ticks labelled when the data span less than a decade, 1-2-5 ticks when less than two."""
    axis.axes.set_xscale("log") if axis.axis_name == "x" else axis.axes.set_yscale("log")
    axis.set_major_formatter(FuncFormatter(_plain))
    axis.set_minor_formatter(FuncFormatter(_plain) if high < 10 * low else NullFormatter())
    if 10 * low <= high < 100 * low:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))


def _dot_whiskers(ax, groups, models, colours, prefix: str, xlabel: str) -> None:
    """Median (dot) and p10–p90 (whisker) of ``prefix`` per model within each condition group, log x:
    conditions of very different cost (batch 1 and batch 64) stay readable in one panel."""
    step = 0.7 / max(len(models), 1)
    span: list[float] = []
    for i, model in enumerate(models):
        ys, med, low, high = [], [], [], []
        for g, (_, frame) in enumerate(groups):
            row = frame[frame["model"] == model]
            if row.empty or sel.missing(row.iloc[-1].get(f"{prefix}_median")):
                continue
            row = row.iloc[-1]
            ys.append(g + (i - (len(models) - 1) / 2) * step)
            med.append(row[f"{prefix}_median"])
            low.append(row[f"{prefix}_p10"])
            high.append(row[f"{prefix}_p90"])
        if not ys:
            continue
        med, low, high = np.array(med), np.array(low), np.array(high)
        span += [low.min(), high.max()]
        ax.errorbar(
            med,
            ys,
            xerr=[med - low, high - med],
            fmt="o",
            color=colours[model],
            ecolor=colours[model],
            capsize=4,
            markersize=7,
            linewidth=2,
            label=model,
        )
        for y, m, h in zip(ys, med, high):
            ax.annotate(
                _median_text(m), (h, y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=9
            )
    if span:
        _plain_log_axis(ax.xaxis, min(span), max(span))
    ax.set_yticks(range(len(groups)), [textwrap.fill(label, 30) for label, _ in groups], fontsize=8)
    ax.set_ylim(len(groups) - 0.5, -0.5)  # first group on top
    for g in range(1, len(groups)):
        ax.axhline(g - 0.5, color="grey", linewidth=0.6, alpha=0.5)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", which="both", alpha=0.25)
    ax.margins(x=0.2)
    ax.set_xlabel(xlabel)


def latency(rows: pd.DataFrame) -> bytes | None:
    """Median time per denoiser call (p10–p90 whiskers) per model, grouped by condition; a second panel
    for the full trajectory when it was timed."""
    groups = sel.latency_groups(rows)
    if not groups:
        return None
    models = list(dict.fromkeys(m for _, frame in groups for m in frame["model"]))
    colours = model_colours(rows)
    traj = [(label, f) for label, f in groups if sel.column(f, "trajectory_s_median").notna().any()]
    heights = [len(groups), len(traj)] if traj else [len(groups)]
    fig, axes = _figure(
        1.4 + sum(0.35 * h * max(len(models), 2) + 0.6 for h in heights),
        nrows=len(heights),
        gridspec_kw={"height_ratios": heights},
    )
    _dot_whiskers(axes[0], groups, models, colours, "call_ms", "ms per denoiser call (log scale)")
    axes[0].set_title("One denoiser call: median (dot), p10–p90 (whiskers)")
    if traj:
        _dot_whiskers(axes[1], traj, models, colours, "trajectory_s", "s per reverse trajectory (log scale)")
        steps = sorted({int(s) for _, f in traj for s in f["steps"].dropna()})
        axes[1].set_title(f"Full reverse trajectory ({', '.join(map(str, steps))} steps): median, p10–p90")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", title="model")
    fig.suptitle("Inference latency")
    return _png(fig)


def profile(rows: pd.DataFrame) -> bytes | None:
    """Milliseconds per call by operator category, stacked, one bar per model and condition group."""
    from mubench.measure.profile.categories import order_key

    groups = sel.profile_groups(rows)
    if not groups:
        return None
    bars = [(f"{model}\n{textwrap.fill(label, 40)}", frame[frame["model"] == model])
            for label, frame in groups for model in dict.fromkeys(frame["model"])]  # fmt: skip
    categories = sorted({c for _, f in bars for c in f["category"]}, key=order_key)
    palette = plt.get_cmap("tab20").colors
    fig, axes = _figure(1.2 + 0.55 * len(bars))
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
    return _png(fig)


# ---------------------------------------------------------------- denoising quality


def _series_label(model: str, dataset: str, several_datasets: bool, trained: bool) -> str:
    label = model if trained or model in sel.REFERENCES else f"{model} (untrained)"
    return f"{label}, {dataset}" if several_datasets else label


def _quality_lines(frame: pd.DataFrame):
    """(label, model, rows sorted by sigma) per model (and dataset) of full-process robustness rows."""
    several = frame["dataset"].nunique() > 1
    trained = sel.is_trained(frame)
    groups = list(frame.groupby(["dataset", "model"], sort=False))
    groups.sort(key=lambda item: item[0][1] in sel.REFERENCES)  # models first, then references
    for (dataset, model), group in groups:
        is_trained = bool(trained[group.index].all())
        yield _series_label(model, dataset, several, is_trained), model, group.sort_values("sigma")


def _dodge(count: int, spread: float) -> np.ndarray:
    """Small offsets that keep overlapping error bars apart: ``count`` values over ``spread``."""
    return (np.arange(count) - (count - 1) / 2) * (spread / max(count - 1, 1))


def _line_style(model: str) -> dict:
    if model in sel.REFERENCES:
        return {"linestyle": "--", "marker": "s", "markersize": 4, "linewidth": 1.2}
    return {"linestyle": "-", "marker": "o", "markersize": 5, "linewidth": 2}


def quality_vs_sigma(rows: pd.DataFrame) -> bytes | None:
    """PSNR and SSIM against sigma with 95% CI bars; models solid, references dashed."""
    full = sel.full_process(rows)
    if full.empty:
        return None
    colours = model_colours(rows)
    fig, axes = _figure(4.8, ncols=2)
    handles = []
    lines = list(_quality_lines(full))
    sigmas = sorted(full["sigma"].unique())
    gap = min(np.diff(sigmas)) if len(sigmas) > 1 else 0.1
    for offset, (label, model, group) in zip(_dodge(len(lines), 0.25 * gap), lines):
        style = _line_style(model)
        for ax, metric in zip(axes, ("psnr_db", "ssim")):
            line = ax.errorbar(
                group["sigma"] + offset,
                group[f"{metric}_mean"],
                yerr=group[f"{metric}_ci95"],
                color=colours.get(model),
                capsize=3,
                label=label,
                **style,
            )
        handles.append(line)
    for ax, title, unit in zip(axes, ("PSNR", "SSIM"), ("PSNR (dB)", "SSIM (0–1)")):
        ax.set_title(f"{title} against noise level (mean, 95% CI)")
        ax.set_xlabel("noise sigma (pixel units, images in [0, 1])")
        ax.set_ylabel(unit)
        ax.set_xticks(sigmas)
    fig.legend(handles=handles, loc="outside right upper", title="model / reference")
    fig.suptitle("Denoising quality (full reverse process from t*)")
    return _png(fig)


def quality_vs_steps(rows: pd.DataFrame) -> bytes | None:
    """PSNR against reverse steps (log x), one line per model and sigma, one panel per sigma."""
    sweeps = sel.sweeps(rows)
    if sweeps.empty:
        return None
    colours = model_colours(rows)
    panels = list(sweeps.groupby(["dataset", "sigma"], sort=True))
    ncols = min(len(panels), 3)
    nrows = -(-len(panels) // ncols)
    fig, axes = _figure(4.0 * nrows, ncols=ncols, nrows=nrows)
    several = sweeps["dataset"].nunique() > 1
    handles = {}
    for ax, ((dataset, sigma), group) in zip(axes, panels):
        lines = list(group.groupby("model", sort=False))
        for factor, (model, line_rows) in zip(10 ** _dodge(len(lines), 0.02), lines):
            line = ax.errorbar(
                line_rows["steps"] * factor,
                line_rows["psnr_db_mean"],
                yerr=line_rows["psnr_db_ci95"],
                color=colours.get(model),
                capsize=3,
                label=model,
                **_line_style(model),
            )
            handles.setdefault(model, line)
        steps = sorted(group["steps"].unique())
        ax.set_xscale("log")
        ax.set_xticks(steps, [f"{int(s)}" for s in steps])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"σ = {sigma:g}" + (f", {dataset}" if several else ""))
        ax.set_xlabel("reverse steps from t* (denoiser calls, log scale)")
        ax.set_ylabel("PSNR (dB)")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    fig.legend(handles=list(handles.values()), loc="outside right upper", title="model")
    fig.suptitle("Convergence: PSNR against the number of reverse steps (mean, 95% CI)")
    return _png(fig)


# ---------------------------------------------------------------- cost against quality


def _macs_for(full: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """fvcore MACs per call (batch 1) at each robustness row's model and resolution; NaN where absent."""
    macs = sel.fvcore_macs(rows)
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
    full = sel.full_process(rows)
    full = full[pd.to_numeric(sel.column(full, "denoise_s_per_image"), errors="coerce") > 0]
    if full.empty:
        return None
    full = full.assign(macs=_macs_for(full, rows))
    with_macs = full.dropna(subset=["macs"])
    fig, axes = _figure(5.0, ncols=2 if len(with_macs) else 1)
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
    return _png(fig)


# ---------------------------------------------------------------- sample quality (FID)


def _fid_panels(scores: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(title, rows) per reference and number of images: FIDs are comparable within one panel only."""
    panels = []
    for _, group in scores.groupby(["reference_key", "n_images"], dropna=False, sort=False):
        first = group.iloc[0]
        panels.append((f"{sel.int_text(first['n_images'])} images vs {first['reference']}", group))
    return panels


def _fid_lines(group: pd.DataFrame):
    """(label, model, rows sorted by steps) per model (and sampler, weights where they differ)."""
    several = {k: group[k].nunique(dropna=False) > 1 for k in ("sampler", "checkpoint")}
    for (model, sampler, checkpoint), line in group.groupby(["model", "sampler", "checkpoint"], dropna=False,
                                                            sort=False):  # fmt: skip
        label = model if str(checkpoint) != "untrained" else f"{model} (untrained)"
        extra = [str(v) for v, shown in ((sampler, several["sampler"]), (checkpoint, several["checkpoint"]))
                 if shown]  # fmt: skip
        label += f" ({', '.join(extra)})" if extra else ""
        yield label, model, line.sort_values("steps")


def _fid_against(rows: pd.DataFrame, x: str, xlabel: str, title: str) -> bytes | None:
    """FID against ``x`` (log scale), one line per model, one panel per reference and image count."""
    scores = sel.sample_scores(rows)
    scores = scores[pd.to_numeric(scores[x], errors="coerce") > 0] if len(scores) else scores
    if scores.empty or scores["fid"].notna().sum() == 0:
        return None
    colours = model_colours(rows)
    panels = _fid_panels(scores)
    ncols = min(len(panels), 2)
    fig, axes = _figure(4.4 * -(-len(panels) // ncols), ncols=ncols, nrows=-(-len(panels) // ncols))
    handles: dict[str, object] = {}
    for ax, (panel_title, group) in zip(axes, panels):
        for label, model, line in _fid_lines(group):
            (handle,) = ax.plot(
                line[x], line["fid"], color=colours.get(model), label=label, **_line_style(model)
            )
            handles.setdefault(label, handle)
        values = group[x].astype(float)
        _plain_log_axis(ax.xaxis, values.min(), values.max())
        if x == "steps":
            ticks = sorted(values.unique())
            ax.set_xticks(ticks, [f"{int(t)}" for t in ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(textwrap.fill(panel_title, 60))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("FID (lower is better)")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    fig.legend(handles=list(handles.values()), loc="outside right upper", title="model")
    fig.suptitle(title)
    return _png(fig)


def fid_vs_steps(rows: pd.DataFrame) -> bytes | None:
    """FID against sampling steps (log x), one line per model."""
    return _fid_against(rows, "steps", "sampling steps (denoiser calls per image, log scale)",
                        "Sample quality against sampling steps")  # fmt: skip


def fid_vs_time(rows: pd.DataFrame) -> bytes | None:
    """FID against the wall time of sampling per image (log x), one line per model; fid rows whose sample
    folder has no sample row are left out."""
    return _fid_against(rows, "sample_s_per_image", "seconds per image (mubench sample, log scale)",
                        "Sample quality against wall time per image")  # fmt: skip


PLOTS = {
    "params_macs": params_macs,
    "latency": latency,
    "profile": profile,
    "quality_vs_sigma": quality_vs_sigma,
    "quality_vs_steps": quality_vs_steps,
    "cost_quality": cost_quality,
    "fid_vs_steps": fid_vs_steps,
    "fid_vs_time": fid_vs_time,
}
