"""Latency (``mubench latency`` rows): condition groups, the claim of faster inference, the section and
the plot.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from mubench.formatting import fixed, missing, percent, text
from mubench.report.document import Heading, Paragraph, Table
from mubench.report.figures import figure, model_colours, plain_log_axis, png
from mubench.report.measurements.profile import profile_ms
from mubench.report.rows import column, condition_label, ok_rows
from mubench.report.tables import distinct_values, format_table, plot_image
from mubench.report.verdicts import (
    BASELINE,
    CANDIDATE,
    Claim,
    Detail,
    combine_verdicts,
    group_names,
    group_numbers,
    last_pair,
    new_claim,
    not_measured,
    value_span,
)

LATENCY_KEYS = ["run_id", "device", "dtype", "batch_size", "resolution", "mode"]


def latency_groups(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Ok latency rows per condition group (run, device, dtype, batch, resolution, mode), labelled."""
    latency = ok_rows(rows, "latency")
    if latency.empty:
        return []
    latency = latency.assign(mode=column(latency, "mode", "eager").fillna("eager"))
    groups = [frame for _, frame in latency.groupby(LATENCY_KEYS, dropna=False, sort=False)]
    labels = [condition_label(frame.iloc[0]) + _solver_note(frame) for frame in groups]
    if len(set(labels)) < len(labels):  # same conditions in several runs: name the run
        labels = [f"{label}, run {frame.iloc[0]['run_id']}" for label, frame in zip(labels, groups)]
    return list(zip(labels, groups))


def _solver_note(group: pd.DataFrame) -> str:
    """The ODE solvers of a condition group (torchdiffeq or mubench's fixed loop), if any model has one."""
    solvers = sorted({str(s) for s in column(group, "solver").dropna() if str(s)})
    return f", ODE {' / '.join(solvers)}" if solvers else ""


PAPER_LATENCY = "notably faster"
AUTHORS_LATENCY = "—"  # they timed CPU wall-clock loops including metric code


def process_spread(*rows: pd.Series) -> float | None:
    """The larger between-process spread of the rows' call times, where it was measured (--processes)."""
    spreads = [float(r["call_ms_process_spread"]) for r in rows
               if not missing(r.get("call_ms_process_spread"))]  # fmt: skip
    return max(spreads) if spreads else None


def latency_outcome(cand: pd.Series, ref: pd.Series) -> str:
    """faster / slower when the p10–p90 ranges do not overlap, else tie; inconclusive when the medians
    differ by less than the between-process spread of either row (measured with several processes)."""
    spread = process_spread(cand, ref)
    if spread is not None and abs(cand["call_ms_median"] / ref["call_ms_median"] - 1) <= spread:
        return "inconclusive"
    if cand["call_ms_p90"] < ref["call_ms_p10"]:
        return "faster"
    if cand["call_ms_p10"] > ref["call_ms_p90"]:
        return "slower"
    return "tie"


def latency_claim(rows: pd.DataFrame) -> Claim:
    base = new_claim(
        "latency",
        "Faster inference in fair and equal conditions",
        PAPER_LATENCY,
        AUTHORS_LATENCY,
        f"per condition group (run, device, dtype, batch, resolution, mode): faster if {CANDIDATE}'s "
        f"call-time p90 < {BASELINE}'s p10, slower if its p10 > the other's p90, else tie; inconclusive "
        "if the medians differ by no more than the between-process spread (where measured); holds if "
        "faster in every group, does not hold if faster in none. Where both models were profiled under a "
        "group's conditions, the operator category whose time differs most in the gap's direction is named",
    )
    pairs = []
    for label, group in latency_groups(rows):
        if found := last_pair(group, CANDIDATE, BASELINE):
            pairs.append((label, *found))
    if not pairs:
        return not_measured(base, f"needs ok latency rows of {CANDIDATE} and {BASELINE} in one run")
    names, where, groups = group_names([label for label, _, _ in pairs])
    results, measured, details, ratios = [], [], [], []
    for prefix, name, (label, cand, ref) in zip(group_numbers(len(pairs)), names, pairs):
        outcome = latency_outcome(cand, ref)
        results.append((name, outcome == "faster"))
        ratio = cand["call_ms_median"] / ref["call_ms_median"]
        ratios.append(ratio)
        spread = process_spread(cand, ref)
        across = f", process spread {spread:.0%}" if spread is not None else ""
        figures = (
            f"{ratio:.2f}x call time ({cand['call_ms_median']:.1f} vs {ref['call_ms_median']:.1f} ms "
            f"median{across})"
        )
        gap = _gap_note(rows, cand, ref)
        measured.append(f"{prefix}{figures}: {outcome}{gap}")
        details.append(Detail(label, figures + gap, outcome))
    conditions = f"{CANDIDATE} vs {BASELINE}, one denoiser call; {where}"
    faster = sum(ok for _, ok in results)
    count = f"faster in {faster} of {len(ratios)} condition groups"
    summary = f"{value_span(ratios, '.2f', 'x')} call time; " + (
        count if len(ratios) > 1 else details[0].outcome
    )
    verdict = combine_verdicts(results)
    return replace(base, measured="; ".join(measured), conditions=conditions, verdict=verdict, groups=groups,
                   summary=summary, details=tuple(details))  # fmt: skip


def dominant_gap(rows: pd.DataFrame, cand: pd.Series, ref: pd.Series) -> tuple[str, float, float] | None:
    """(category, its ms difference, the total ms difference) of the category that contributes most to
    the candidate's profiled time difference from the baseline, in the direction of that difference;
    from both models' profile rows under the latency rows' conditions (None without them)."""
    mine, theirs = (profile_ms(rows, row["model"], row) for row in (cand, ref))
    if mine is None or theirs is None:
        return None
    diff = mine.sub(theirs, fill_value=0.0)
    total = float(diff.sum())
    if total == 0:
        return None
    category = (diff if total > 0 else -diff).idxmax()
    return str(category), float(diff[category]), total


def _gap_note(rows: pd.DataFrame, cand: pd.Series, ref: pd.Series) -> str:
    found = dominant_gap(rows, cand, ref)
    if found is None:
        return ""
    category, ms, total = found
    return f"; profiled gap {total:+.1f} ms, most in {category} ({ms:+.1f} ms)"


def _spread(frame: pd.DataFrame, prefix: str, decimals: int) -> list[str]:
    """'median [p10–p90]' per row, '-' where absent."""
    out = []
    for _, row in frame.iterrows():
        med, low, high = (row.get(f"{prefix}_{s}") for s in ("median", "p10", "p90"))
        out.append("-" if missing(med) else f"{med:,.{decimals}f} [{low:,.{decimals}f}–{high:,.{decimals}f}]")
    return out


def latency_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    groups = latency_groups(rows)
    head = [Heading("Latency")]
    if not groups:
        return [*head, Paragraph("No latency rows in this folder.")]
    blocks = list(head)
    for label, frame in groups:
        table = _latency_table(frame)
        timed = column(frame, "trajectory_s_median").notna().any()
        trajectory = (
            f"trajectory: {distinct_values(frame, 'sampler')} x {distinct_values(frame, 'steps')} steps"
            if timed
            else "trajectories not timed"
        )
        caption = (
            f"Run {distinct_values(frame, 'run_id')}; {trajectory}. Times: median [p10–p90]. vs first = "
            f"ratio to {distinct_values(frame, 'baseline')}; latency / MACs = call-time ratio over MACs "
            "ratio (1: time follows MACs)."
        )
        if column(frame, "call_ms_process_spread").notna().any():
            caption += (
                f" Each model timed in {distinct_values(frame, 'processes')} fresh processes: the median is "
                "the median of their medians; process spread = (max − min) / that median."
            )
        blocks += [Heading(label, 3), Table(table, caption)]
    blocks += plot_image(
        images,
        "latency",
        "Latency per model and condition",
        "Median time per denoiser call (and per full reverse trajectory when timed) with p10–p90 error "
        "bars, per model, grouped by condition.",
    )
    return blocks


def _latency_table(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [
        ("model", "model", text),
        ("solver", "ODE solver", text),
        ("call_ms_process_spread", "process spread", percent),
        ("call_ms_vs_first", "call vs first", fixed(3)),
        ("trajectory_s_vs_first", "trajectory vs first", fixed(3)),
        ("macs_vs_first", "MACs vs first", fixed(3)),
        ("roofline_vs_first", "roofline vs first", fixed(3)),
        ("latency_over_macs_ratio", "latency / MACs", fixed(3)),
        ("latency_over_roofline", "latency / roofline", fixed(2)),
        ("achieved_share", "of device peak", percent),
        ("peak_activation_mib", "peak live MiB", fixed(1)),
        ("peak_mem_mib", "CUDA peak MiB", fixed(1)),
        ("call_ms_unstable", "unstable", text),
    ]
    # Columns no row fills (results from before they existed; the CUDA peak on a CPU) are left out.
    filled = [c for c in columns if c[0] in frame and frame[c[0]].notna().any()]
    table = format_table(frame, filled)
    table.insert(1, "call ms median [p10–p90]", _spread(frame, "call_ms", 2))
    table.insert(2, "trajectory s median [p10–p90]", _spread(frame, "trajectory_s", 3))
    return table


def _median_text(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _dot_whiskers(ax, groups, models, colours, prefix: str, xlabel: str) -> None:
    """Median (dot) and p10–p90 (whisker) of ``prefix`` per model within each condition group, log x:
    conditions of very different cost (batch 1 and batch 64) stay readable in one panel."""
    step = 0.7 / max(len(models), 1)
    span: list[float] = []
    for i, model in enumerate(models):
        ys, med, low, high = [], [], [], []
        for g, (_, frame) in enumerate(groups):
            row = frame[frame["model"] == model]
            if row.empty or missing(row.iloc[-1].get(f"{prefix}_median")):
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
        plain_log_axis(ax.xaxis, min(span), max(span))
    ax.set_yticks(range(len(groups)), [textwrap.fill(label, 30) for label, _ in groups], fontsize=8)
    ax.set_ylim(len(groups) - 0.5, -0.5)  # first group on top
    for g in range(1, len(groups)):
        ax.axhline(g - 0.5, color="grey", linewidth=0.6, alpha=0.5)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", which="both", alpha=0.25)
    ax.margins(x=0.2)
    ax.set_xlabel(xlabel)


def latency_plot(rows: pd.DataFrame) -> bytes | None:
    """Median time per denoiser call (p10–p90 whiskers) per model, grouped by condition; a second panel
    for the full trajectory when it was timed."""
    groups = latency_groups(rows)
    if not groups:
        return None
    models = list(dict.fromkeys(m for _, frame in groups for m in frame["model"]))
    colours = model_colours(rows)
    traj = [(label, f) for label, f in groups if column(f, "trajectory_s_median").notna().any()]
    heights = [len(groups), len(traj)] if traj else [len(groups)]
    fig, axes = figure(
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
    return png(fig)
