"""MACs (``mubench flops`` rows): fvcore's count per model and condition, the claim of about 30% of the
baseline's FLOPs, and the size section and plot (parameters and MACs per model).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from mubench.formatting import fixed, integer, missing, percent, text
from mubench.report.document import Heading, Paragraph, Table
from mubench.report.figures import figure, hbar, model_colours, png
from mubench.report.measurements.params import params_by_model
from mubench.report.rows import column, int_text, latest, ok_rows
from mubench.report.tables import format_table, plot_image
from mubench.report.verdicts import (
    BASELINE,
    CANDIDATE,
    Claim,
    Detail,
    authors_ratio,
    combine_verdicts,
    group_names,
    group_numbers,
    last_pair,
    new_claim,
    not_measured,
)


def fvcore_macs(rows: pd.DataFrame, every_solver: bool = False) -> pd.DataFrame:
    """The latest ok fvcore (primary counter) flops row per model, resolution, batch and tier: the row of
    the model's default ODE solver where there is one (the paper's settings), or one row per solver."""
    flops = ok_rows(rows, "flops")
    flops = flops[(column(flops, "counter") == "fvcore") & column(flops, "macs").notna()]
    keys = ["model", "resolution", "batch_size"] + (["tier"] if "tier" in flops else [])
    if every_solver:
        return latest(flops, [*keys, "solver"] if "solver" in flops else keys, ["timestamp"])
    recorded = column(flops, "solver_default", None)
    flops = flops.assign(
        _default=[
            int(str(given).lower() == "true") if not missing(given) else _default_solver(m, s)
            for m, s, given in zip(flops["model"], column(flops, "solver"), recorded)
        ]
    )
    return latest(flops, keys, ["_default", "timestamp"]).drop(columns="_default")


def _default_solver(model: str, solver: Any) -> int:
    """1 if ``solver`` is the registered default of ``model`` (or the model has none), else 0: for rows
    written before flops rows recorded ``solver_default``."""
    if missing(solver) or not str(solver):
        return 1
    from mubench.models.solver_config import SolverConfig
    from mubench.registry import get_spec

    try:
        defaults = get_spec(model).solver or {}
        return int(str(solver) == SolverConfig(**defaults).describe())
    except Exception:  # a model this mubench does not know: no preference
        return 0


# The paper's figure (its abstract, arXiv 2310.20092) and that of the authors' released code (their
# thop counts at 64x64, batch 1; see docs/models.md). Quoted, never measured; the authors' counts are the
# registry's paper_macs.
_MACS = authors_ratio("paper_macs")
PAPER_MACS = "~30%"
AUTHORS_MACS = f"{_MACS[0]} (thop MACs {_MACS[1]})"

# Rule. "About" a figure: the claim plus a fifth of it.
MACS_LIMIT = 0.36


def macs_claim(rows: pd.DataFrame) -> Claim:
    base = new_claim(
        "macs",
        "About 30% of its FLOPs",
        PAPER_MACS,
        AUTHORS_MACS,
        f"fvcore MACs per denoiser call, {CANDIDATE} / {BASELINE}, same resolution and batch, "
        f"{CANDIDATE}'s default solver: holds if <= {MACS_LIMIT:.2f} (30% plus a fifth) in every condition "
        "counted, does not hold if in none, else holds in some conditions",
    )
    macs = fvcore_macs(rows)
    keys = [k for k in ("resolution", "batch_size", "tier") if k in macs]
    pairs = []
    for _, group in macs.groupby(keys, dropna=False, sort=True):
        if found := last_pair(group, CANDIDATE, BASELINE):
            pairs.append(found)
    if not pairs:
        return not_measured(
            base, f"needs ok fvcore flops rows of {CANDIDATE} and {BASELINE} at one resolution"
        )
    names, where, groups = group_names([_macs_condition(cand) for cand, _ in pairs])
    results, measured, details, ratios = [], [], [], []
    for prefix, name, (cand, ref) in zip(group_numbers(len(pairs)), names, pairs):
        ratio = cand["macs"] / ref["macs"]
        ratios.append(ratio)
        results.append((name, ratio <= MACS_LIMIT))
        figures = f"{percent(ratio)} ({cand['macs'] / 1e9:.3f} G / {ref['macs'] / 1e9:.3f} G MACs)"
        measured.append(f"{prefix}{figures}")
        within = f"<= {MACS_LIMIT:.0%}" if ratio <= MACS_LIMIT else f"> {MACS_LIMIT:.0%}"
        details.append(Detail(_macs_condition(cand), figures, within))
    conditions = f"{CANDIDATE} vs {BASELINE}, fvcore MACs per denoiser call; {where}"
    held = sum(ok for _, ok in results)
    spans = f"{percent(min(ratios))}–{percent(max(ratios))}" if len(ratios) > 1 else percent(ratios[0])
    many = f"{spans} of the baseline's MACs; <= {MACS_LIMIT:.0%} in {held} of {len(ratios)} condition groups"
    summary = measured[0] if len(ratios) == 1 else many
    verdict = combine_verdicts(results)
    return replace(base, measured="; ".join(measured), conditions=conditions, verdict=verdict, groups=groups,
                   summary=summary, details=tuple(details))  # fmt: skip


def _macs_condition(row: pd.Series) -> str:
    resolution = int_text(row.get("resolution"))
    text = f"{resolution}x{resolution}, batch {int_text(row.get('batch_size'))}"
    if not missing(row.get("tier")):
        text += f", tier {row['tier']}"
    if not missing(row.get("nfe")):
        text += f", {CANDIDATE} {row.get('solver')} NFE {row['nfe']:g}"
    return text


def size_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    params = params_by_model(rows)
    macs = fvcore_macs(rows, every_solver=True)
    head = [Heading("Parameters and MACs per model")]
    if params.empty and macs.empty:
        return [*head, Paragraph("No params or flops rows in this folder.")]
    # ok_rows gives both frames a model column and the columns they are read for (maybe empty); flops
    # rows carry parameter counts too, so only the table's columns are merged.
    counts = params[["model", "params_total", "params_trainable", "params_frozen"]]
    shown = ["model", "resolution", "batch_size", "solver", "nfe", "macs", "steps", "macs_per_trajectory",
             "coverage", "xcheck_ratio"]  # fmt: skip
    frame = counts.merge(macs[[c for c in shown if c in macs]], on="model", how="outer", sort=False)

    def billions(value: Any) -> str:
        return "-" if missing(value) else fixed(3)(value / 1e9)

    columns = [
        ("model", "model", text),
        ("params_total", "params total", integer),
        ("params_trainable", "trainable", integer),
        ("params_frozen", "frozen", integer),
        ("resolution", "resolution px", integer),
        ("batch_size", "batch", integer),
        ("solver", "ODE solver", text),
        ("nfe", "NFE per call", integer),
        ("macs", "MACs per call (G)", billions),
        ("steps", "steps", integer),
        ("macs_per_trajectory", "MACs per trajectory (G)", billions),
        ("coverage", "fvcore coverage", percent),
        ("xcheck_ratio", "torch / fvcore", fixed(4)),
    ]
    caption = (
        "MACs = multiply-accumulates counted by fvcore (1 MAC = 2 FLOPs) for one denoiser call; NFE = "
        "ODE-function evaluations per call; torch / fvcore = torch FlopCounterMode cross-check ratio."
    )
    return [
        *head,
        Table(format_table(frame, columns), caption, table_id="params-macs"),
        *plot_image(
            images,
            "params_macs",
            "Parameters and MACs per model",
            "Parameters (millions) and fvcore MACs per denoiser call (G) per model, from the params and "
            "flops rows.",
        ),
    ]


def macs_label(row: pd.Series, several_resolutions: bool) -> str:
    label = str(row["model"])
    batch = int_text(row.get("batch_size"))
    if several_resolutions or batch != "1":
        label += f" ({int_text(row.get('resolution'))}px"
        label += ")" if batch == "1" else f", batch {batch})"
    return label


def params_macs(rows: pd.DataFrame) -> bytes | None:
    """Two horizontal bar panels: parameters (millions) and fvcore MACs per denoiser call (G)."""
    params = params_by_model(rows)
    macs = fvcore_macs(rows)
    if params.empty and macs.empty:
        return None
    colours = model_colours(rows)
    n = max(len(params), len(macs))
    panels = [p for p in (params, macs) if not p.empty]
    fig, axes = figure(max(2.8, 0.42 * n + 1.6), ncols=len(panels))
    ax = iter(axes)
    if not params.empty:
        values = params["params_total"] / 1e6
        hbar(
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
        hbar(
            next(ax),
            [macs_label(row, several) for _, row in macs.iterrows()],
            list(values),
            [f"{v:,.3f} G" for v in values],
            [colours[m] for m in macs["model"]],
            "MACs per denoiser call (fvcore)",
            "multiply-accumulates per call (G = 1e9)",
        )
    fig.suptitle("Model size and compute")
    return png(fig)
