"""Convergence of the reverse process (``mubench robustness --steps-sweep`` rows): the sweeps, the claim
of faster convergence, the section and the plot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pandas as pd
from matplotlib.ticker import NullFormatter

from mubench.report.document import Heading, Table
from mubench.report.figures import dodge, figure, line_style, model_colours, png
from mubench.report.measurements.robustness import (
    pair_note,
    quality_pair,
    quality_table,
    robust_conditions,
    robustness_rows,
    trained_rows,
)
from mubench.report.rows import column, is_reference, latest
from mubench.report.tables import plot_image
from mubench.report.verdicts import (
    SOME_SIGMAS,
    Claim,
    Detail,
    combine_verdicts,
    fit_cell,
    new_claim,
    not_measured,
    sigma_label,
)

SWEEP_MIN_STEPS = 3  # a (model, sigma) run with this many distinct step counts is a convergence sweep


def sweeps(rows: pd.DataFrame) -> pd.DataFrame:
    """Convergence-sweep rows: per (dataset, model, sigma), the latest run that has at least
    SWEEP_MIN_STEPS distinct step counts, all its step counts (one row each, sorted by steps)."""
    frame = robustness_rows(rows)
    frame = frame[~is_reference(frame) & column(frame, "steps").notna()]
    if frame.empty:
        return frame
    keys = ["dataset", "model", "sigma", "run_id"]
    distinct = frame.groupby(keys, dropna=False)["steps"].transform("nunique")
    swept = frame[distinct >= SWEEP_MIN_STEPS]
    if swept.empty:
        return swept
    last_run = latest(swept, ["dataset", "model", "sigma"], ["timestamp"])[keys]
    swept = swept.merge(last_run, on=keys, how="inner")
    swept = latest(swept, [*keys, "steps"], ["n_images", "timestamp"])
    return swept.sort_values(["dataset", "sigma", "model", "steps"], kind="stable").reset_index(drop=True)


PAPER_CONVERGENCE = "faster convergence"
AUTHORS_CONVERGENCE = "—"
CONVERGED_DB = 0.1  # converged = within this much PSNR of the model's best


def steps_to_converge(sweep: pd.DataFrame) -> int | None:
    """The fewest steps whose mean PSNR is within CONVERGED_DB of the best in ``sweep`` (one model); None
    when the sweep has no PSNR."""
    best = sweep["psnr_db_mean"].max()
    if pd.isna(best):
        return None
    return int(sweep.loc[sweep["psnr_db_mean"] >= best - CONVERGED_DB, "steps"].min())


def convergence_claim(rows: pd.DataFrame) -> Claim:
    base = new_claim(
        "convergence",
        "Faster convergence of the reverse process",
        PAPER_CONVERGENCE,
        AUTHORS_CONVERGENCE,
        f"steps to converge = fewest reverse steps whose PSNR is within {CONVERGED_DB:g} dB of the model's "
        "best over the step counts both models swept; holds if the candidate needs fewer than the baseline "
        "at every swept sigma, does not hold if as many or more at every one, else holds at some sigmas",
    )
    pair = quality_pair(rows)
    swept_rows = sweeps(trained_rows(rows)) if pair else pd.DataFrame()
    found = []
    for (_, sigma), group in swept_rows.groupby(["dataset", "sigma"], sort=True) if len(swept_rows) else []:
        cand, ref = (group[group["model"] == name] for name in pair)
        common = set(cand["steps"]) & set(ref["steps"])  # judged on the step counts both swept
        cand, ref = cand[cand["steps"].isin(common)], ref[ref["steps"].isin(common)]
        enough = len(common) >= SWEEP_MIN_STEPS
        steps = (steps_to_converge(cand), steps_to_converge(ref)) if enough else (None, None)
        if None not in steps:
            found.append((sigma, *steps, cand, ref))
    if not found:
        return not_measured(
            base, "needs a steps sweep (--steps-sweep, 3 or more step counts) of a trained pair"
        )
    results = [(sigma_label(sigma), c < r) for sigma, c, r, _, _ in found]
    measured = "; ".join(f"{sigma_label(s)}: {c} vs {r} steps" for s, c, r, _, _ in found)
    details = tuple(Detail(sigma_label(s), f"{c} vs {r} steps", "fewer" if c < r else "not fewer")
                    for s, c, r, _, _ in found)  # fmt: skip
    fewer = f"fewer steps at {sum(ok for _, ok in results)} of {len(results)} sigmas"
    summary = fit_cell(f"{fewer} ({measured})", fewer)
    verdict = combine_verdicts(results, SOME_SIGMAS, ", ")
    frames = pd.concat([f for *_, c, r in found for f in (c, r)])
    swept = ", ".join(str(int(s)) for s in sorted(set(frames["steps"])))
    conditions = f"steps to converge of {pair_note(pair)}; steps swept {swept}; {robust_conditions(frames)}"
    return replace(base, measured=measured, conditions=conditions, verdict=verdict, summary=summary,
                   details=details)  # fmt: skip


def convergence_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    swept_rows = sweeps(rows)
    if swept_rows.empty:
        return []
    return [
        Heading("Convergence of the reverse process", 3),
        Table(
            quality_table(swept_rows, with_diffs=False),
            "Steps sweep (DDIM steps from t*): every step count of the latest sweep run per model and sigma.",
            table_id="convergence",
        ),
        *plot_image(
            images,
            "quality_vs_steps",
            "PSNR against reverse steps",
            "PSNR against the number of reverse steps (log scale), one line per model and sigma, "
            "95% CI bars.",
        ),
    ]


def quality_vs_steps(rows: pd.DataFrame) -> bytes | None:
    """PSNR against reverse steps (log x), one line per model and sigma, one panel per sigma."""
    swept_rows = sweeps(rows)
    if swept_rows.empty:
        return None
    colours = model_colours(rows)
    panels = list(swept_rows.groupby(["dataset", "sigma"], sort=True))
    ncols = min(len(panels), 3)
    nrows = -(-len(panels) // ncols)
    fig, axes = figure(4.0 * nrows, ncols=ncols, nrows=nrows)
    several = swept_rows["dataset"].nunique() > 1
    handles = {}
    for ax, ((dataset, sigma), group) in zip(axes, panels):
        lines = list(group.groupby("model", sort=False))
        for factor, (model, line_rows) in zip(10 ** dodge(len(lines), 0.02), lines):
            line = ax.errorbar(
                line_rows["steps"] * factor,
                line_rows["psnr_db_mean"],
                yerr=line_rows["psnr_db_ci95"],
                color=colours.get(model),
                capsize=3,
                label=model,
                **line_style(model),
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
    return png(fig)
