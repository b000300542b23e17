"""Training curves (``mubench train --eval-every N --log`` rows): the EMA weights' denoising scores against
optimizer steps and training compute, the training loss, NL-means and TV at the same sigma as references,
the section and its plots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.ticker import MaxNLocator

from mubench.formatting import fixed, integer, missing, text
from mubench.report.document import Heading, Note, Paragraph, Table
from mubench.report.figures import figure, model_colours, plain_log_axis, png
from mubench.report.measurements.robustness import pm_cells, robustness_rows
from mubench.report.rows import column, latest, ok_rows
from mubench.report.tables import distinct_values, format_table, plot_image

CURVE_KEYS = ["dataset", "model", "seed", "batch_size", "resolution"]  # one curve: one training run
PANEL_KEYS = ["dataset", "resolution", "sigma"]  # one panel per test set and noise level
TRAIN_REFERENCES = ("nl-means", "tv")  # classical denoisers drawn as reference lines
NUMBERS = (
    *("seed", "batch_size", "resolution", "sigma", "training_steps", "images_seen", "train_tmacs"),
    *("wall_s", "loss_mean", "images_per_s", "psnr_db_mean", "psnr_db_ci95", "ssim_mean", "ssim_ci95"),
    *("lpips_mean", "lpips_ci95", "n_images", "steps", "world_size"),
)
DASHES = ("-", "--", ":", "-.")  # the curves of one model (seeds, batch sizes) told apart
MAX_MARKERS = 30  # points per line up to which each evaluation is marked
LINE = {"markersize": 3.5, "linewidth": 1.8}


def _step_ticks() -> MaxNLocator:
    """Whole steps at round numbers (a locator belongs to one axis: a new one each)."""
    return MaxNLocator(nbins=6, integer=True, steps=[1, 2, 5, 10])


def train_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Ok train rows that have a step and a sigma, numbers as numbers, dataset "" where none."""
    frame = ok_rows(rows, "train")
    frame = frame.assign(
        dataset=column(frame, "dataset", "").fillna("").astype(str),
        **{name: pd.to_numeric(column(frame, name), errors="coerce") for name in NUMBERS},
    )
    return frame[frame["training_steps"].notna() & frame["sigma"].notna()]


def curves(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per curve (CURVE_KEYS), sigma and optimizer step, the latest (a resumed run that scores a
    step again replaces it), with a ``curve`` label; sorted by dataset, sigma, model (first appearance),
    seed and step."""
    frame = train_rows(rows)
    if frame.empty:
        return frame.assign(curve=pd.Series(dtype=object))
    frame = latest(frame, [*CURVE_KEYS, "sigma", "training_steps"], ["timestamp"])
    order = {name: i for i, name in enumerate(dict.fromkeys(frame["model"]))}
    frame = frame.assign(_order=frame["model"].map(order), curve=_curve_labels(frame))
    frame = frame.sort_values(["dataset", "sigma", "_order", "seed", "batch_size", "training_steps"],
                              kind="stable")  # fmt: skip
    return frame.drop(columns="_order").reset_index(drop=True)


def _curve_labels(frame: pd.DataFrame) -> list[str]:
    """The model, then what tells its curves apart where the rows have several: seed, batch, resolution."""
    several = {name: frame[name].nunique(dropna=False) > 1 for name in ("seed", "batch_size", "resolution")}
    labels = []
    for _, row in frame.iterrows():
        parts = [str(row["model"])]
        if several["seed"]:
            parts.append(f"seed {integer(row['seed'])}")
        if several["batch_size"]:
            parts.append(f"batch {integer(row['batch_size'])}")
        if several["resolution"]:
            parts.append(f"{integer(row['resolution'])} px")
        labels.append(", ".join(parts))
    return labels


def last_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Of :func:`curves`' rows, the last step of each curve at each sigma."""
    if frame.empty:
        return frame
    return latest(frame, [*CURVE_KEYS, "sigma"], ["training_steps", "timestamp"])


def reference_lines(rows: pd.DataFrame, curve_rows: pd.DataFrame) -> pd.DataFrame:
    """The robustness rows of NL-means and TV at a (dataset, resolution, sigma) of ``curve_rows`` (of
    :func:`curves`): one per reference and panel, the most images then the latest; none when the folder
    has no such rows."""
    refs = robustness_rows(rows)
    refs = refs[refs["model"].isin(TRAIN_REFERENCES) & column(refs, "psnr_db_mean").notna()]
    if refs.empty or curve_rows.empty:
        return refs.iloc[:0]
    refs = latest(refs, ["dataset", "resolution", "model", "sigma"], ["n_images", "timestamp"])
    wanted = set(_panel_keys(curve_rows))
    return refs[[key in wanted for key in _panel_keys(refs)]].reset_index(drop=True)


def _panel_keys(frame: pd.DataFrame) -> list[tuple[str, float, float]]:
    """(dataset, resolution, sigma) per row, numbers rounded so that rows of two files compare equal."""
    resolution = pd.to_numeric(column(frame, "resolution"), errors="coerce")
    sigma = pd.to_numeric(column(frame, "sigma"), errors="coerce").round(6)
    return list(zip(column(frame, "dataset", "").fillna("").astype(str), resolution, sigma))


# ---------------------------------------------------------------- the section


def wall_times(values: pd.Series) -> list[str]:
    """Seconds as text in one unit for the whole column, the one that reads best for its largest value:
    s below two minutes, min below two hours, else h."""
    seconds = pd.to_numeric(values, errors="coerce")
    top = seconds.max()  # NaN when the column has no time: seconds
    unit, scale, decimals = ("h", 3600, 2) if top >= 7200 else ("min", 60, 1) if top >= 120 else ("s", 1, 1)
    return ["-" if missing(v) else f"{v / scale:,.{decimals}f} {unit}" for v in seconds]


def tmacs(value: Any) -> str:
    if missing(value):
        return "-"
    return f"{float(value):,.2f}" if abs(float(value)) >= 10 else f"{float(value):.3g}"


def last_row_table(last: pd.DataFrame) -> pd.DataFrame:
    """Per curve and sigma, its last row: step, images seen, compute, wall time, scores, throughput."""
    columns = [
        ("sigma", "sigma", fixed(2)),
        ("dataset", "dataset", text),
        ("model", "model", text),
        ("seed", "seed", integer),
        ("batch_size", "batch", integer),
        ("training_steps", "step", integer),
        ("images_seen", "images seen", integer),
        ("train_tmacs", "TMACs", tmacs),
    ]
    table = format_table(last, columns)
    table["wall time"] = wall_times(last["wall_s"])
    if last["dataset"].nunique() <= 1:
        table = table.drop(columns="dataset")
    table["PSNR dB ± 95%"] = pm_cells(last, "psnr_db_mean", "psnr_db_ci95", 2)
    table["SSIM ± 95%"] = pm_cells(last, "ssim_mean", "ssim_ci95", 4)
    if last["lpips_mean"].notna().any():
        table["LPIPS ± 95%"] = pm_cells(last, "lpips_mean", "lpips_ci95", 4)
    table["images/s"] = [fixed(1)(v) for v in last["images_per_s"]]
    return table.reset_index(drop=True)


def _conditions(frame: pd.DataFrame) -> str:
    return (
        f"At each evaluation the EMA weights denoise {distinct_values(frame, 'n_images')} test images of "
        f"{distinct_values(frame, 'dataset')} at each sigma, from the matched step t* with "
        f"{distinct_values(frame, 'sampler')} in {distinct_values(frame, 'steps')} steps (the robustness "
        f"protocol); device {distinct_values(frame, 'device')}, {distinct_values(frame, 'dtype')}, "
        f"world size {distinct_values(frame, 'world_size')}. Steps are optimizer steps; batch is the "
        "global batch; TMACs = training compute so far (3 x forward MACs x images seen)."
    )


def _reference_note(refs: pd.DataFrame) -> str:
    if refs.empty:
        return (
            "No robustness rows of NL-means or TV at these datasets, resolutions and sigmas in this folder: "
            "the plots have no reference lines."
        )
    images = ", ".join(str(int(n)) for n in sorted(set(refs["n_images"].dropna())))
    names = ", ".join(dict.fromkeys(refs["model"]))
    return (
        f"Horizontal lines: {names} (classical denoisers; robustness rows of this folder, {images or '?'} "
        "images) at the same dataset, resolution and sigma."
    )


def training_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    """The curves' last rows and plots; nothing when the folder has no train rows."""
    frame = curves(rows)
    if frame.empty:
        return []
    caption = (
        "The last evaluation of each run at each sigma. wall time = the run's wall_s (time so far, resumed "
        "runs included); images/s = training images per second since the evaluation before it."
    )
    refs_note = _reference_note(reference_lines(rows, frame))
    blocks: list = [
        Heading("Training curves"),
        Paragraph(_conditions(frame)),
        Table(last_row_table(last_rows(frame)), caption, table_id="training"),
        *plot_image(
            images,
            "training_psnr_steps",
            "PSNR against optimizer steps",
            f"PSNR of the EMA weights against optimizer steps, one panel per sigma; band: 95% CI over the "
            f"images. {refs_note}",
        ),
        *plot_image(
            images,
            "training_psnr_tmacs",
            "PSNR against training compute",
            f"The same scores against training compute (TMACs). {refs_note}",
        ),
    ]
    if frame["train_tmacs"].isna().all():
        blocks.append(Note("No training compute in the rows (the model's MACs were not counted): no plot "
                           "against TMACs."))  # fmt: skip
    blocks += plot_image(
        images,
        "training_loss",
        "Training loss against optimizer steps",
        "Mean training loss over the steps since the evaluation before (the first evaluation has none).",
    )
    return blocks


# ---------------------------------------------------------------- the plots


def _line_styles(frame: pd.DataFrame, rows: pd.DataFrame) -> dict[str, dict]:
    """Per curve label: its model's colour, a dash per curve of the same model."""
    colours = model_colours(rows)
    styles, seen = {}, {}
    for label, model in dict.fromkeys(zip(frame["curve"], frame["model"])):
        n = seen[model] = seen.get(model, -1) + 1
        styles[label] = {"color": colours.get(model), "linestyle": DASHES[n % len(DASHES)]}
    return styles


REFERENCE_DASHES = {"tv": (0, (5, 3)), "nl-means": (0, (1, 2))}


def _draw_curves(ax, group: pd.DataFrame, x: str, styles: Mapping[str, dict], handles: dict) -> None:
    """The panel's lines, each with its 95% CI band."""
    for label, line in group.groupby("curve", sort=False):
        line = line.sort_values(x)
        mean, ci = line["psnr_db_mean"], line["psnr_db_ci95"]
        marker = "o" if len(line) <= MAX_MARKERS else None
        drawn = ax.plot(line[x], mean, marker=marker, label=label, **LINE, **styles[label])
        ax.fill_between(line[x], mean - ci, mean + ci, color=styles[label]["color"], alpha=0.15, linewidth=0)
        handles.setdefault(label, drawn[0])


def _draw_references(ax, refs: pd.DataFrame, colours: Mapping[str, Any], handles: dict) -> None:
    """A horizontal line per reference row of the panel."""
    for _, ref in refs.iterrows():
        label = f"{ref['model']} (reference)"
        style = {"color": colours.get(ref["model"]), "linestyle": REFERENCE_DASHES.get(ref["model"], "--")}
        handles.setdefault(label, ax.axhline(ref["psnr_db_mean"], linewidth=1.2, label=label, **style))


def _psnr_plot(rows: pd.DataFrame, x: str, xlabel: str, title: str) -> bytes | None:
    """PSNR against ``x``: a panel per (dataset, resolution, sigma), a line per run, reference lines."""
    frame = curves(rows)
    frame = frame[frame[x].notna() & frame["psnr_db_mean"].notna()]
    if frame.empty:
        return None
    styles, colours = _line_styles(frame, rows), model_colours(rows)
    refs = reference_lines(rows, frame)
    ref_keys = _panel_keys(refs)
    panels = list(frame.groupby(PANEL_KEYS, sort=True))
    ncols = min(len(panels), 3)
    nrows = -(-len(panels) // ncols)
    fig, axes = figure(3.8 * nrows, ncols=ncols, nrows=nrows)
    several = frame["dataset"].nunique() > 1 or frame["resolution"].nunique() > 1
    handles: dict[str, Any] = {}
    for ax, ((dataset, resolution, sigma), group) in zip(axes, panels):
        _draw_curves(ax, group, x, styles, handles)
        here = [key == (dataset, resolution, round(sigma, 6)) for key in ref_keys]
        _draw_references(ax, refs[here], colours, handles)
        where = f", {dataset} {integer(resolution)} px" if several else ""
        ax.set_title(f"σ = {sigma:g}{where}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("PSNR (dB)")
        if x == "training_steps":
            ax.xaxis.set_major_locator(_step_ticks())
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    fig.legend(handles=list(handles.values()), loc="outside right upper", title="run / reference")
    fig.suptitle(title)
    return png(fig)


def training_psnr_steps(rows: pd.DataFrame) -> bytes | None:
    """PSNR of the EMA weights against optimizer steps: a panel per sigma, a line per run, 95% CI bands,
    NL-means and TV as horizontal lines where the folder has their robustness rows."""
    return _psnr_plot(rows, "training_steps", "optimizer steps", "Training curves: PSNR against steps")


def training_psnr_tmacs(rows: pd.DataFrame) -> bytes | None:
    """The same against training compute (TMACs); None when no row has it."""
    title = "Training curves: PSNR against compute"
    return _psnr_plot(rows, "train_tmacs", "training compute (TMACs)", title)


def training_loss(rows: pd.DataFrame) -> bytes | None:
    """Mean training loss against optimizer steps, a line per run (the rows of one step share it)."""
    frame = curves(rows)
    frame = frame[frame["loss_mean"].notna()]
    if frame.empty:
        return None
    frame = frame.drop_duplicates(["curve", "training_steps"])
    styles = _line_styles(frame, rows)
    fig, axes = figure(3.2)
    ax = axes[0]
    for label, line in frame.groupby("curve", sort=False):
        line = line.sort_values("training_steps")
        marker = "o" if len(line) <= MAX_MARKERS else None
        loss = line["loss_mean"]
        ax.plot(line["training_steps"], loss, marker=marker, label=label, **LINE, **styles[label])
    low, high = frame["loss_mean"].min(), frame["loss_mean"].max()
    if low > 0 and high > 10 * low:
        plain_log_axis(ax.yaxis, low, high)
        ax.set_ylabel("loss (log scale)")
    else:
        ax.set_ylabel("loss")
    ax.set_xlabel("optimizer steps")
    ax.xaxis.set_major_locator(_step_ticks())
    ax.set_title("Training loss (mean since the evaluation before)")
    fig.legend(loc="outside right upper", title="run")
    return png(fig)
