"""Sample quality (``mubench sample`` and ``mubench fid`` rows): each sample folder's FID joined to the
sample row that made it, the claim of the baseline's FID in fewer steps and less time, the section and
the plots.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.ticker import NullFormatter

from mubench.formatting import fixed, integer, missing, text
from mubench.report.document import Heading, Table
from mubench.report.figures import figure, line_style, model_colours, plain_log_axis, png
from mubench.report.rows import int_text, is_trained, latest, ok_rows
from mubench.report.tables import distinct_values, format_table, plot_image
from mubench.report.verdicts import (
    BASELINE,
    CANDIDATE,
    QUALITY_PAIRS,
    Claim,
    Detail,
    combine_verdicts,
    fit_cell,
    group_names,
    group_numbers,
    new_claim,
    not_measured,
)

SCORE_KEYS = ["reference_key", "model", "checkpoint", "sampler", "steps", "n_images"]
SCORE_COLUMNS = [
    *("model", "checkpoint", "sampler", "steps", "nfe_per_trajectory", "fid", "kid_mean", "kid_std"),
    *(
        "n_images",
        "sample_s_per_image",
        "sample_device",
        "reference",
        "reference_key",
        "out_dir",
        "timestamp",
    ),
]


def place(path: Any) -> str | None:
    """A folder or file a row names, resolved (a relative name against the current folder, as both rows'
    were when written from one folder), to compare with another row's; None when the row names none."""
    if missing(path) or not str(path):
        return None
    try:
        return str(Path(str(path)).expanduser().resolve())
    except (OSError, RuntimeError):  # a loop of links: the name as written
        return os.path.normpath(str(path))


def _first(*values: Any) -> Any:
    return next((v for v in values if not missing(v)), float("nan"))


def _reference_side(sides: list[Any]) -> int:
    """Which input of an fid row not joined to a sample row is the reference: an .npz, else B."""
    npz = [str(s).endswith(".npz") for s in sides]
    return 0 if npz[0] and not npz[1] else 1


def sample_scores(rows: pd.DataFrame) -> pd.DataFrame:
    """The FID of each sample folder scored: ok fid rows with a model, each joined to the latest ok
    sample row whose ``out_dir`` is one of its two inputs (compared as resolved paths), which gives the
    wall time per image and the NFE. One row per (reference, model, weights, sampler, steps, images),
    the latest; sorted by reference, model (first appearance), sampler and steps."""
    fid = ok_rows(rows, "fid")
    samples = ok_rows(rows, "sample")
    samples = samples.assign(_place=[place(p) for p in samples["out_dir"]])
    samples = latest(samples[samples["_place"].notna()], ["_place"], ["timestamp"])
    by_place = {row["_place"]: row for _, row in samples.iterrows()}
    scores = [_score(row, by_place) for _, row in fid.iterrows()]
    frame = pd.DataFrame(scores, columns=SCORE_COLUMNS)
    frame = frame[frame["model"].notna()]
    if frame.empty:
        return frame
    frame = latest(frame, SCORE_KEYS, ["timestamp"])
    order = {name: i for i, name in enumerate(dict.fromkeys(frame["model"]))}
    frame = frame.assign(_order=frame["model"].map(order), _steps=pd.to_numeric(frame["steps"]))
    frame = frame.sort_values(["reference_key", "_order", "sampler", "_steps"], kind="stable")
    return frame.drop(columns=["_order", "_steps"]).reset_index(drop=True)


def _score(fid: pd.Series, by_place: dict[str, pd.Series]) -> dict[str, Any]:
    """One fid row with what its sample row adds (NaN where it has none): the SCORE_COLUMNS."""
    sides = [fid.get("input_a"), fid.get("input_b")]
    places = [place(s) for s in sides]
    joined = next((i for i, p in enumerate(places) if p is not None and p in by_place), None)
    sample = by_place[places[joined]] if joined is not None else pd.Series(dtype=object)
    ref = 1 - joined if joined is not None else _reference_side(sides)
    counts = [fid.get("n_a"), fid.get("n_b")]
    return {
        "model": _first(fid.get("model"), sample.get("model")),
        "checkpoint": _first(fid.get("checkpoint"), sample.get("checkpoint")),
        "sampler": _first(fid.get("sampler"), sample.get("sampler")),
        "steps": _first(fid.get("steps"), sample.get("steps")),
        "nfe_per_trajectory": sample.get("nfe_per_trajectory", float("nan")),
        "fid": fid.get("fid", float("nan")),
        "kid_mean": fid.get("kid_mean", float("nan")),
        "kid_std": fid.get("kid_std", float("nan")),
        "n_images": _first(counts[1 - ref], sample.get("n_seeds")),
        "sample_s_per_image": sample.get("sample_s_per_image", float("nan")),
        "sample_device": sample.get("device", float("nan")),
        "reference": _first(sides[ref]),
        "reference_key": _first(places[ref], sides[ref]),
        "out_dir": _first(sides[1 - ref]),
        "timestamp": fid.get("timestamp", float("nan")),
    }


PAPER_SAMPLES = "faster convergence (its generative form)"
AUTHORS_SAMPLES = "—"
FID_TOLERANCE = 0.05  # an FID within 5% of a target reaches it (one figure per set: no CI to go by)
TIME_TOLERANCE = 0.05  # wall times per image within 5% of each other are the same
BETTER, SAME, WORSE, UNMEASURED = "better", "same", "worse", "not measured"
SAMPLE_KEYS = ["reference_key", "n_images", "sampler", "sample_device"]


def fid_pair(scores: pd.DataFrame) -> tuple[str, str] | None:
    """The (candidate, baseline) pair whose FIDs both score samples of trained weights, or None."""
    names = set(scores.loc[is_trained(scores), "model"])
    return next(((c, b) for c, b in QUALITY_PAIRS if c in names and b in names), None)


def lower_outcome(cand: float, ref: float, tolerance: float) -> str:
    """better / worse when the candidate's figure (lower is better) is below / above the baseline's by
    more than ``tolerance`` of it, else same; not measured when either is missing."""
    if missing(cand) or missing(ref):
        return UNMEASURED
    if cand < ref * (1 - tolerance):
        return BETTER
    if cand > ref * (1 + tolerance):
        return WORSE
    return SAME


def reach(frame: pd.DataFrame, target: float) -> pd.Series | None:
    """The row of the fewest steps whose FID is at most ``target`` plus FID_TOLERANCE; None when none is."""
    reached = frame[frame["fid"] <= target * (1 + FID_TOLERANCE)]
    return None if reached.empty else reached.sort_values("steps").iloc[0]


@dataclass(frozen=True)
class FidOutcome:
    target: float  # the baseline's lowest FID over the step counts both were scored at
    cand: pd.Series | None  # the candidate's row that reaches it (None: none does)
    ref: pd.Series  # the baseline's
    steps: str  # better / same / worse
    time: str  # better / same / worse / not measured


def fid_outcome(cand: pd.DataFrame, ref: pd.DataFrame) -> FidOutcome | None:
    """The two models' FIDs in one condition group compared on the step counts both were scored at
    (None when they share none): who reaches the baseline's best FID in fewer steps and less time."""
    common = set(cand["steps"].dropna()) & set(ref["steps"].dropna())
    cand, ref = cand[cand["steps"].isin(common)], ref[ref["steps"].isin(common)]
    ref = ref[ref["fid"].notna()]
    if not common or ref.empty:
        return None
    target = float(ref["fid"].min())
    mine, theirs = reach(cand, target), reach(ref, target)
    if mine is None:  # the candidate never comes within the tolerance: neither in fewer steps nor sooner
        return FidOutcome(target, None, theirs, WORSE, WORSE)
    steps = BETTER if mine["steps"] < theirs["steps"] else SAME if mine["steps"] == theirs["steps"] else WORSE
    time = lower_outcome(mine["sample_s_per_image"], theirs["sample_s_per_image"], TIME_TOLERANCE)
    return FidOutcome(target, mine, theirs, steps, time)


def _fid_condition(row: pd.Series) -> str:
    device = "" if missing(row.get("sample_device")) else f", sampled on {row['sample_device']}"
    return f"{row['sampler']}, {int_text(row['n_images'])} images vs {row['reference']}{device}"


def _fid_measured(found: FidOutcome) -> str:
    if found.cand is None:
        return f"never within {FID_TOLERANCE:.0%} of FID {found.target:.1f} ({found.steps})"

    def seconds(row: pd.Series) -> str:
        return "?" if missing(row["sample_s_per_image"]) else f"{row['sample_s_per_image']:.3g}"

    steps = [int_text(row["steps"]) for row in (found.cand, found.ref)]
    return (
        f"FID {found.target:.1f} at {steps[0]} vs {steps[1]} steps ({found.steps}), "
        f"{seconds(found.cand)} vs {seconds(found.ref)} s/image ({found.time})"
    )


def _samples_verdict(names: Sequence[str], outcomes: Sequence[FidOutcome]) -> str:
    """Holds where the candidate is better in steps and in wall time; said apart when it is better in
    steps everywhere but wall time was not measured (fid rows whose folders have no sample row)."""
    times = {o.time for o in outcomes}
    if all(o.steps == BETTER for o in outcomes) and UNMEASURED in times and times <= {BETTER, UNMEASURED}:
        return "fewer steps; wall time not measured"
    return combine_verdicts(
        [(name, o.steps == BETTER and o.time == BETTER) for name, o in zip(names, outcomes)]
    )


def sample_quality_claim(rows: pd.DataFrame) -> Claim:
    base = new_claim(
        "samples",
        "Faster convergence, generative form: the baseline's FID in fewer steps and less time",
        PAPER_SAMPLES,
        AUTHORS_SAMPLES,
        "per condition group (reference, images, sampler, device), over the step counts both models were "
        f"scored at: target = the baseline's lowest FID; a model reaches it at its fewest steps with FID <= "
        f"target + {FID_TOLERANCE:.0%} (FID has no CI here: closer counts as the same). Steps: better if the "
        "candidate reaches it in fewer steps, same if as many, worse if more or never; wall time per image "
        f"at those steps (mubench sample): better or worse beyond {TIME_TOLERANCE:.0%}, else same; holds if "
        "better in both in every group, does not hold if in none",
    )
    scores = sample_scores(rows)
    pair = fid_pair(scores) if len(scores) else None
    if pair is None:
        return not_measured(
            base, f"needs fid rows of samples of trained {CANDIDATE} and {BASELINE} (or the tiny pair)"
        )
    trained = scores[is_trained(scores) & scores["model"].isin(pair)]
    found = []
    for _, group in trained.groupby(SAMPLE_KEYS, dropna=False, sort=False):
        outcome = fid_outcome(*(group[group["model"] == name] for name in pair))
        if outcome is not None:
            found.append((_fid_condition(group.iloc[0]), outcome))
    if not found:
        return not_measured(base, f"needs FIDs of {pair[0]} and {pair[1]} at one step count, same reference")
    names, where, groups = group_names([label for label, _ in found])
    outcomes = [outcome for _, outcome in found]
    measured = "; ".join(f"{p}{_fid_measured(o)}" for p, (_, o) in zip(group_numbers(len(found)), found))
    verdict = _samples_verdict(names, outcomes)
    unscored = "" if pair == QUALITY_PAIRS[0] else " (paper's pair: no trained FIDs)"
    conditions = f"{pair[0]} vs {pair[1]}{unscored}; {where}"
    details = tuple(Detail(label, _fid_measured(o), f"steps {o.steps}, time {o.time}") for label, o in found)
    both = sum(o.steps == BETTER and o.time == BETTER for o in outcomes)
    many = f"baseline's FID in fewer steps and less time in {both} of {len(found)} condition groups"
    summary = fit_cell(measured, many) if len(found) == 1 else many
    return replace(base, measured=measured, conditions=conditions, verdict=verdict, groups=groups,
                   summary=summary, details=details)  # fmt: skip


def sample_quality_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    """FID (and KID) of sample folders, with the steps and wall time per image that made them."""
    scores = sample_scores(rows)
    if scores.empty:
        return []
    columns = [
        ("model", "model", text),
        ("checkpoint", "weights", text),
        ("sampler", "sampler", text),
        ("steps", "steps", integer),
        ("nfe_per_trajectory", "NFE", integer),
        ("fid", "FID", fixed(2)),
        ("n_images", "images", integer),
        ("sample_s_per_image", "s per image", fixed(4)),
        ("reference", "reference", text),
    ]
    table = format_table(scores, columns)
    if scores["kid_mean"].notna().any():
        kid = [_plain_pm(m, sd, 4) for m, sd in zip(scores["kid_mean"], scores["kid_std"])]
        table.insert(table.columns.get_loc("FID") + 1, "KID ± std", kid)
    if scores["reference_key"].nunique() <= 1:
        table = table.drop(columns="reference")
    references = ", ".join(dict.fromkeys(scores["reference"].astype(str)))
    caption = (
        f"FID of each sample folder against {references} (lower is better; no CI: one figure per set). FID "
        "is biased upward at few images: compare rows of the same images and reference. steps = denoiser "
        "calls per trajectory; NFE = ODE-function evaluations per trajectory ('-' for a model without "
        "ODE blocks: one network call per step); s per image = the reverse process's wall time per image "
        f"as mubench sample timed it (device: {distinct_values(scores, 'sample_device')}), from the sample "
        "row "
        "whose folder the fid row scored ('-' where the folder has none)."
    )
    return [
        Heading("Sample quality"),
        Table(table, caption, table_id="sample-quality"),
        *plot_image(
            images,
            "fid_vs_steps",
            "FID against sampling steps",
            "FID against the number of sampling steps (log scale), one line per model; lower is better.",
        ),
        *plot_image(
            images,
            "fid_vs_time",
            "FID against wall time per image",
            "FID against the wall time of the reverse process per image (log scale), one line per model; "
            "lower and further left is better.",
        ),
    ]


def _plain_pm(mean: Any, spread: Any, decimals: int) -> str:
    if missing(mean):
        return "-"
    return f"{mean:.{decimals}f}" + ("" if missing(spread) else f" ± {spread:.{decimals}f}")


def _fid_panels(scores: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(title, rows) per reference and number of images: FIDs are comparable within one panel only."""
    panels = []
    for _, group in scores.groupby(["reference_key", "n_images"], dropna=False, sort=False):
        first = group.iloc[0]
        panels.append((f"{int_text(first['n_images'])} images vs {first['reference']}", group))
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
    scores = sample_scores(rows)
    scores = scores[pd.to_numeric(scores[x], errors="coerce") > 0] if len(scores) else scores
    if scores.empty or scores["fid"].notna().sum() == 0:
        return None
    colours = model_colours(rows)
    panels = _fid_panels(scores)
    ncols = min(len(panels), 2)
    fig, axes = figure(4.4 * -(-len(panels) // ncols), ncols=ncols, nrows=-(-len(panels) // ncols))
    handles: dict[str, object] = {}
    for ax, (panel_title, group) in zip(axes, panels):
        for label, model, line in _fid_lines(group):
            (handle,) = ax.plot(
                line[x], line["fid"], color=colours.get(model), label=label, **line_style(model)
            )
            handles.setdefault(label, handle)
        values = group[x].astype(float)
        plain_log_axis(ax.xaxis, values.min(), values.max())
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
    return png(fig)


def fid_vs_steps(rows: pd.DataFrame) -> bytes | None:
    """FID against sampling steps (log x), one line per model."""
    return _fid_against(rows, "steps", "sampling steps (denoiser calls per image, log scale)",
                        "Sample quality against sampling steps")  # fmt: skip


def fid_vs_time(rows: pd.DataFrame) -> bytes | None:
    """FID against the wall time of sampling per image (log x), one line per model; fid rows whose sample
    folder has no sample row are left out."""
    return _fid_against(rows, "sample_s_per_image", "seconds per image (mubench sample, log scale)",
                        "Sample quality against wall time per image")  # fmt: skip
