"""Denoising quality (``mubench robustness`` rows): the full reverse process per model and sigma, the claim
of better noise robustness at high noise, the quality section and its plot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from mubench.defaults import REFERENCES
from mubench.formatting import fixed, integer, missing, text
from mubench.report.document import Heading, Paragraph, Table
from mubench.report.figures import dodge, figure, line_style, model_colours, png
from mubench.report.rows import column, is_reference, is_trained, latest, ok_rows
from mubench.report.tables import distinct_values, format_table, plot_image
from mubench.report.verdicts import (
    BASELINE,
    CANDIDATE,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    QUALITY_PAIRS,
    Claim,
    Detail,
    last_pair,
    new_claim,
    not_measured,
    plus_minus,
    sigma_label,
    value_span,
)


def robustness_rows(rows: pd.DataFrame) -> pd.DataFrame:
    frame = ok_rows(rows, "robustness")
    return frame.assign(dataset=column(frame, "dataset", "").fillna(""))


def full_process(rows: pd.DataFrame) -> pd.DataFrame:
    """One robustness row per (dataset, model, sigma): the full reverse process, i.e. the row with the
    most steps (then the most images, then the latest); reference rows have no steps."""
    robust = robustness_rows(rows)
    if robust.empty:
        return robust
    full = latest(robust, ["dataset", "model", "sigma"], ["steps", "n_images", "timestamp"])
    return full.sort_values(["dataset", "sigma", "model"], key=_model_order, kind="stable")


def _model_order(values: pd.Series) -> pd.Series:
    """Sort key: references first (identity, tv, ...), then models in order of first appearance."""
    if values.name != "model":
        return values
    order = {name: i for i, name in enumerate(REFERENCES)}
    order.update({name: len(order) + i for i, name in enumerate(dict.fromkeys(values)) if name not in order})
    return values.map(order)


PAPER_ROBUSTNESS = "better perceptual metrics at high noise, SSIM comparable"
AUTHORS_ROBUSTNESS = (
    "one CelebA image, sigma 0.1, oracle step pick: cU-Net 25.6–28.2 dB vs U-Net 25.9–27.5 dB"
)
HIGH_SIGMA = 0.2  # "high noise" starts here (pixel units in [0, 1])


def quality_pair(rows: pd.DataFrame) -> tuple[str, str] | None:
    """The (candidate, baseline) pair whose robustness rows both have trained weights, or None."""
    trained = trained_rows(rows)
    names = set(trained["model"])
    return next(((c, b) for c, b in QUALITY_PAIRS if c in names and b in names), None)


def trained_rows(rows: pd.DataFrame) -> pd.DataFrame:
    robust = robustness_rows(rows)
    return robust[is_trained(robust) & ~is_reference(robust)]


def pair_note(pair: tuple[str, str]) -> str:
    if pair == QUALITY_PAIRS[0]:
        return f"{pair[0]} vs {pair[1]}"
    return f"{pair[0]} vs {pair[1]} (the paper's pair has no robustness rows with trained weights)"


def checkpoints(frame: pd.DataFrame) -> str:
    names = sorted(set(frame["checkpoint"].astype(str)))
    return "mubench's shipped" if all(n.startswith("shipped:") for n in names) else ", ".join(names)


def quality_difference(cand: pd.Series, ref: pd.Series, metric: str) -> tuple[float, float, bool]:
    """(difference candidate − baseline, its 95% CI, paired?) for ``metric`` ("psnr_db", "ssim" or
    "lpips"): the paired per-image difference on the candidate's row when it was paired with this
    baseline, else the difference of the means with CI sqrt(ci_a^2 + ci_b^2) (NaN where not measured)."""
    diff = cand.get(f"{metric}_diff_mean")
    if cand.get("baseline") == ref["model"] and not missing(diff):
        return float(diff), float(cand.get(f"{metric}_diff_ci95", float("nan"))), True
    nan = float("nan")
    ci = math.hypot(float(cand.get(f"{metric}_ci95", nan)), float(ref.get(f"{metric}_ci95", nan)))
    return float(cand.get(f"{metric}_mean", nan)) - float(ref.get(f"{metric}_mean", nan)), ci, False


def has_metric(cand: pd.Series, ref: pd.Series, metric: str) -> bool:
    """Both rows have a mean of ``metric``."""
    return not missing(cand.get(f"{metric}_mean")) and not missing(ref.get(f"{metric}_mean"))


def quality_outcome(diff: float, ci: float) -> str:
    if diff - ci > 0:
        return "better"
    if diff + ci < 0:
        return "worse"
    return "tie"


def _high_sigma_pairs(rows: pd.DataFrame, pair: tuple[str, str]) -> list[tuple[pd.Series, pd.Series]]:
    """(candidate row, baseline row) per (dataset, sigma >= HIGH_SIGMA): the full reverse process; the
    baseline row from the candidate's own run when it has one (its paired differences refer to it)."""
    trained = trained_rows(rows)
    trained = trained[trained["model"].isin(pair)]
    full = full_process(trained)
    out = []
    for (dataset, sigma), group in full.groupby(["dataset", "sigma"], sort=True):
        if sigma < HIGH_SIGMA - 1e-9:
            continue
        if not (found := last_pair(group, *pair)):
            continue
        cand, fallback = found
        same_run = trained[
            (trained["model"] == pair[1])
            & (trained["dataset"] == dataset)
            & (trained["sigma"] == sigma)
            & (trained["run_id"] == cand["run_id"])
            & (trained["steps"] == cand["steps"])
        ]
        ref = same_run.iloc[-1] if len(same_run) else fallback
        out.append((cand, ref))
    return out


def robustness_claim(rows: pd.DataFrame) -> Claim:
    base = new_claim(
        "robustness",
        "Better noise robustness at high noise (SSIM comparable)",
        PAPER_ROBUSTNESS,
        AUTHORS_ROBUSTNESS,
        f"at each sigma >= {HIGH_SIGMA:g}, full reverse process: LPIPS difference candidate − baseline "
        "where both rows have LPIPS (lower is better: better if diff + CI < 0, worse if diff − CI > 0), "
        "else PSNR difference (better if diff − CI > 0, worse if diff + CI < 0), paired per image, else "
        "unpaired, with 95% CI; else tie; holds if better at every such sigma, does not hold if worse at "
        "one or more and better at none, else inconclusive",
    )
    pair = quality_pair(rows)
    if pair is None:
        needs = f"needs robustness rows with trained weights of {CANDIDATE} and {BASELINE} (or the tiny pair)"
        return not_measured(base, needs)
    pairs = _high_sigma_pairs(rows, pair)
    if not pairs:
        return not_measured(
            base, f"needs robustness rows of {pair[0]} and {pair[1]} at sigma >= {HIGH_SIGMA:g}"
        )
    outcomes, measured, paired_all, details, judged_diffs = [], [], True, [], []
    for cand, ref in pairs:
        figures, shown = {}, []
        for metric, label, decimals in (("lpips", "LPIPS", 3), ("psnr_db", "PSNR", 2), ("ssim", "SSIM", 3)):
            if has_metric(cand, ref, metric):
                figures[metric] = quality_difference(cand, ref, metric)
                diff, ci, _ = figures[metric]
                shown.append(
                    f"{label} {plus_minus(diff, ci, decimals)}{' dB' if metric == 'psnr_db' else ''}"
                )
        judged = next((m for m in ("lpips", "psnr_db") if m in figures), None)  # LPIPS when present
        diff, ci, paired = figures[judged] if judged else (math.nan, math.nan, False)
        outcome = quality_outcome(-diff if judged == "lpips" else diff, ci)  # LPIPS: lower is better
        paired_all &= paired
        outcomes.append(outcome)
        tag = "" if paired else ", unpaired"
        measured.append(f"{sigma_label(cand['sigma'])}: {', '.join(shown)} ({outcome}{tag})")
        details.append(Detail(sigma_label(cand["sigma"]), ", ".join(shown), outcome + tag))
        if judged:
            judged_diffs.append((judged, diff))
    if all(o == "better" for o in outcomes):
        verdict = HOLDS
    elif "worse" in outcomes and "better" not in outcomes:
        verdict = FAILS
    else:
        verdict = INCONCLUSIVE
    frames = pd.DataFrame([row for p in pairs for row in p])
    conditions = (
        f"{pair_note(pair)}; weights {checkpoints(frames)}; {robust_conditions(frames)}; "
        f"{'paired per-image differences' if paired_all else 'differences (paired per image unless marked)'}"
        " ± 95% CI"
    )
    return replace(base, measured="; ".join(measured), conditions=conditions, verdict=verdict,
                   summary=_robust_summary(outcomes, judged_diffs), details=tuple(details))  # fmt: skip


def _robust_summary(outcomes: Sequence[str], judged: Sequence[tuple[str, float]]) -> str:
    """ "PSNR -1.09–-0.46 dB; better at 0 of 2 sigmas >= 0.2, worse at 2"."""
    counts = f"better at {outcomes.count('better')} of {len(outcomes)} sigmas >= {HIGH_SIGMA:g}, " \
             f"worse at {outcomes.count('worse')}"  # fmt: skip
    metrics = {metric for metric, _ in judged}
    if len(metrics) != 1:
        return counts
    metric = metrics.pop()
    label, unit, fmt = {"lpips": ("LPIPS", "", "+.3f"), "psnr_db": ("PSNR", " dB", "+.2f")}[metric]
    return f"{label} {value_span([d for _, d in judged], fmt, unit)} vs baseline; {counts}"


def robust_conditions(frame: pd.DataFrame) -> str:
    datasets = ", ".join(sorted(set(frame["dataset"].astype(str))))
    images = ", ".join(str(int(n)) for n in sorted(set(frame["n_images"].dropna())))
    samplers = ", ".join(sorted(set(frame["sampler"].dropna().astype(str))))
    devices = ", ".join(sorted(set(frame["device"].dropna().astype(str))))
    counts = sorted({int(n) for n in frame["steps"].dropna()})
    span = f"{counts[0]}-{counts[-1]}" if len(counts) > 1 else "".join(map(str, counts))
    steps = f" in {span} steps" if counts else ""
    return f"{datasets}, {images} images, {samplers}{steps} from t* to 0, {devices}"


def pm_cells(frame: pd.DataFrame, mean: str, ci: str, decimals: int, signed: bool = False) -> list[str]:
    sign = "+" if signed else ""
    return [
        "-" if missing(m) else f"{m:{sign}.{decimals}f} ± {c:.{decimals}f}"
        for m, c in zip(column(frame, mean), column(frame, ci))
    ]


def quality_table(frame: pd.DataFrame, with_diffs: bool) -> pd.DataFrame:
    columns = [
        ("sigma", "sigma", fixed(2)),
        ("dataset", "dataset", text),
        ("model", "model", text),
        ("checkpoint", "weights", text),
        ("t_start", "t*", integer),
        ("steps", "steps", integer),
        ("n_images", "images", integer),
        ("denoise_s_per_image", "s per image", fixed(4)),
    ]
    table = format_table(frame, columns)
    if frame["dataset"].nunique() <= 1:
        table = table.drop(columns="dataset")
    table.insert(len(table.columns) - 2, "PSNR dB ± 95%", pm_cells(frame, "psnr_db_mean", "psnr_db_ci95", 2))
    table.insert(len(table.columns) - 2, "SSIM ± 95%", pm_cells(frame, "ssim_mean", "ssim_ci95", 4))
    lpips = _has_lpips(frame)
    if lpips:
        table.insert(len(table.columns) - 2, "LPIPS ± 95%", pm_cells(frame, "lpips_mean", "lpips_ci95", 4))
    if with_diffs and "psnr_db_diff_mean" in frame:
        table["vs"] = [text(v) for v in column(frame, "baseline")]
        table["PSNR diff dB ± 95%"] = pm_cells(
            frame, "psnr_db_diff_mean", "psnr_db_diff_ci95", 2, signed=True
        )
        table["SSIM diff ± 95%"] = pm_cells(frame, "ssim_diff_mean", "ssim_diff_ci95", 4, signed=True)
        if lpips:
            table["LPIPS diff ± 95%"] = pm_cells(frame, "lpips_diff_mean", "lpips_diff_ci95", 4, signed=True)
    return table


def _has_lpips(frame: pd.DataFrame) -> bool:
    return bool(column(frame, "lpips_mean").notna().any())


def _lpips_note(frame: pd.DataFrame) -> str:
    """The caption's sentence on LPIPS, where rows have it."""
    if not _has_lpips(frame):
        return ""
    nets = distinct_values(frame, "lpips_net")
    backbone = f" ({nets} backbone)" if nets != "—" else ""
    return f" LPIPS{backbone}: lower is better; '-' where a row has none."


def quality_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    full = full_process(rows)
    head = [Heading("Denoising quality")]
    if full.empty:
        return [*head, Paragraph("No robustness rows in this folder.")]
    caption = (
        "Per (model, sigma) the full reverse process (the row with the most steps) from the matched step t*. "
        "Noise sigma in [0, 1] pixel units; 95% confidence intervals over images; diff = paired per-image "
        "difference of the row's model minus 'vs' on the same noisy images. identity = the noisy input; "
        "tv, wavelet, nl-means = classical references." + _lpips_note(full)
    )
    return [
        *head,
        Table(quality_table(full, with_diffs=True), caption, table_id="quality"),
        *plot_image(
            images,
            "quality_vs_sigma",
            "PSNR and SSIM against sigma",
            "PSNR and SSIM against noise sigma with 95% CI error bars; models solid, identity and classical "
            "references dashed.",
        ),
    ]


def _series_label(model: str, dataset: str, several_datasets: bool, trained: bool) -> str:
    label = model if trained or model in REFERENCES else f"{model} (untrained)"
    return f"{label}, {dataset}" if several_datasets else label


def _quality_lines(frame: pd.DataFrame):
    """(label, model, rows sorted by sigma) per model (and dataset) of full-process robustness rows."""
    several = frame["dataset"].nunique() > 1
    trained = is_trained(frame)
    groups = list(frame.groupby(["dataset", "model"], sort=False))
    groups.sort(key=lambda item: item[0][1] in REFERENCES)  # models first, then references
    for (dataset, model), group in groups:
        all_trained = bool(trained[group.index].all())
        yield _series_label(model, dataset, several, all_trained), model, group.sort_values("sigma")


def quality_vs_sigma(rows: pd.DataFrame) -> bytes | None:
    """PSNR and SSIM against sigma with 95% CI bars; models solid, references dashed."""
    full = full_process(rows)
    if full.empty:
        return None
    colours = model_colours(rows)
    fig, axes = figure(4.8, ncols=2)
    handles = []
    lines = list(_quality_lines(full))
    sigmas = sorted(full["sigma"].unique())
    gap = min(np.diff(sigmas)) if len(sigmas) > 1 else 0.1
    for offset, (label, model, group) in zip(dodge(len(lines), 0.25 * gap), lines):
        style = line_style(model)
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
    return png(fig)
