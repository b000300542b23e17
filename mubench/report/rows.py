"""Which result rows the report reads: ok rows per command, one row per model and condition.

Shared by the claims, the tables and the plots, so that all three show the same rows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from mubench.defaults import REFERENCES
from mubench.formatting import missing

SWEEP_MIN_STEPS = 3  # a (model, sigma) run with this many distinct step counts is a convergence sweep
LATENCY_KEYS = ["run_id", "device", "dtype", "batch_size", "resolution", "mode"]


def column(frame: pd.DataFrame, name: str, default: Any = float("nan")) -> pd.Series:
    """``frame[name]``, or a column of ``default`` when the rows lack it (an older or partial file)."""
    return frame[name] if name in frame else pd.Series(default, index=frame.index, dtype=object)


# The columns the report reads from each command's rows; present (maybe empty) in what ok_rows returns,
# whether the file was one command's own CSV or a suite's combined one.
READ_COLUMNS = {
    "params": ("params_total", "params_trainable", "params_frozen"),
    "flops": ("counter", "macs", "nfe", "solver", "steps", "macs_per_trajectory"),
    "latency": (
        *("call_ms_median", "call_ms_p10", "call_ms_p90", "device_name", "num_threads", "steps"),
        *("trajectory_s_median", "trajectory_s_p10", "trajectory_s_p90", "baseline", "sampler"),
    ),
    "robustness": (
        *("sigma", "dataset", "checkpoint", "n_images", "steps", "t_start", "sampler"),
        *("psnr_db_mean", "psnr_db_ci95", "ssim_mean", "ssim_ci95", "denoise_s_per_image", "baseline"),
        *("psnr_db_diff_mean", "psnr_db_diff_ci95", "ssim_diff_mean", "ssim_diff_ci95"),
        *("lpips_mean", "lpips_ci95", "lpips_diff_mean", "lpips_diff_ci95"),
    ),
    "profile": (
        *("mode", "category", "category_ms", "category_time_share", "category_flops_share"),
        *("category_bytes_share", "category_top_ops", "profile_call_ms", "device_name", "num_threads"),
    ),
    "sample": (
        "out_dir",
        "sample_s_per_image",
        "steps",
        "nfe_per_trajectory",
        "n_seeds",
        "sampler",
        "checkpoint",
    ),
    "fid": (
        *("fid", "kid_mean", "kid_std", "n_a", "n_b", "input_a", "input_b", "steps", "sampler"),
        *("checkpoint", "fid_dims"),
    ),
}
KEYS = ("command", "model", "device", "dtype", "batch_size", "resolution", "run_id", "timestamp", "status")


def ok_rows(rows: pd.DataFrame, command: str | None = None) -> pd.DataFrame:
    """Rows with status ok (optionally of one command: then its own columns only, READ_COLUMNS and the
    keys always among them; a combined file has a hundred-odd columns, most of them another command's)."""
    keep = column(rows, "status", "ok").fillna("ok") == "ok"
    if command is None:
        return rows[keep]
    keep &= column(rows, "command") == command
    selected = rows[keep].dropna(axis="columns", how="all")
    wanted = [*KEYS, *READ_COLUMNS.get(command, ())]
    return selected.reindex(columns=[*selected.columns, *(c for c in wanted if c not in selected)])


def failed_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows whose measurement failed (error, oom); skipped rows are not failures."""
    return rows[column(rows, "status", "ok").isin(["error", "oom"])]


def _latest(frame: pd.DataFrame, keys: list[str], order: list[str]) -> pd.DataFrame:
    """One row per ``keys``: the last after sorting by ``order`` (missing values first)."""
    if frame.empty:
        return frame
    sort = frame.assign(**{f"_o{i}": _sortable(frame, name) for i, name in enumerate(order)})
    sort = sort.sort_values([f"_o{i}" for i in range(len(order))], kind="stable")
    last = sort.groupby(keys, dropna=False, sort=False).tail(1)
    return last.drop(columns=[f"_o{i}" for i in range(len(order))]).sort_index()


def _sortable(frame: pd.DataFrame, name: str) -> pd.Series:
    values = column(frame, name)
    if name == "timestamp":
        return values.fillna("").astype(str)
    return pd.to_numeric(values, errors="coerce").fillna(-1)


def params_by_model(rows: pd.DataFrame) -> pd.DataFrame:
    """The latest ok params row of each model (that has a total)."""
    params = ok_rows(rows, "params")
    params = params[column(params, "params_total").notna()]
    return _latest(params, ["model"], ["timestamp"])


def fvcore_macs(rows: pd.DataFrame, every_solver: bool = False) -> pd.DataFrame:
    """The latest ok fvcore (primary counter) flops row per model, resolution, batch and tier: the row of
    the model's default ODE solver where there is one (the paper's settings), or one row per solver."""
    flops = ok_rows(rows, "flops")
    flops = flops[(column(flops, "counter") == "fvcore") & column(flops, "macs").notna()]
    keys = ["model", "resolution", "batch_size"] + (["tier"] if "tier" in flops else [])
    if every_solver:
        return _latest(flops, [*keys, "solver"] if "solver" in flops else keys, ["timestamp"])
    recorded = column(flops, "solver_default", None)
    flops = flops.assign(
        _default=[
            int(str(given).lower() == "true") if not missing(given) else _default_solver(m, s)
            for m, s, given in zip(flops["model"], column(flops, "solver"), recorded)
        ]
    )
    return _latest(flops, keys, ["_default", "timestamp"]).drop(columns="_default")


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


def condition_label(row: pd.Series) -> str:
    """The conditions of a latency row in words: device, dtype, batch, resolution, mode, threads."""
    device = str(row.get("device", "?"))
    name = row.get("device_name")
    parts = [f"{name} ({device})" if not missing(name) else device, str(row.get("dtype", "?"))]
    parts.append(f"batch {int_text(row.get('batch_size'))}")
    resolution = int_text(row.get("resolution"))
    parts.append(f"{resolution}x{resolution}")
    parts.append(str(row.get("mode", "eager")))
    threads = row.get("num_threads")
    if device == "cpu" and not missing(threads):
        parts.append(f"{int_text(threads)} threads")
    return ", ".join(parts)


def _solver_note(group: pd.DataFrame) -> str:
    """The ODE solvers of a condition group (torchdiffeq or mubench's fixed loop), if any model has one."""
    solvers = sorted({str(s) for s in column(group, "solver").dropna() if str(s)})
    return f", ODE {' / '.join(solvers)}" if solvers else ""


def int_text(value: Any) -> str:
    """A whole number as text; "?" when the row lacks it."""
    return "?" if missing(value) else str(int(value))


def is_reference(frame: pd.DataFrame) -> pd.Series:
    return column(frame, "model").isin(REFERENCES)


def is_trained(frame: pd.DataFrame) -> pd.Series:
    checkpoint = column(frame, "checkpoint")
    return checkpoint.notna() & (checkpoint.astype(str) != "untrained") & (checkpoint.astype(str) != "")


def robustness_rows(rows: pd.DataFrame) -> pd.DataFrame:
    frame = ok_rows(rows, "robustness")
    return frame.assign(dataset=column(frame, "dataset", "").fillna(""))


def full_process(rows: pd.DataFrame) -> pd.DataFrame:
    """One robustness row per (dataset, model, sigma): the full reverse process, i.e. the row with the
    most steps (then the most images, then the latest); reference rows have no steps."""
    robust = robustness_rows(rows)
    if robust.empty:
        return robust
    full = _latest(robust, ["dataset", "model", "sigma"], ["steps", "n_images", "timestamp"])
    return full.sort_values(["dataset", "sigma", "model"], key=_model_order, kind="stable")


def _model_order(values: pd.Series) -> pd.Series:
    """Sort key: references first (identity, tv, ...), then models in order of first appearance."""
    if values.name != "model":
        return values
    order = {name: i for i, name in enumerate(REFERENCES)}
    order.update({name: len(order) + i for i, name in enumerate(dict.fromkeys(values)) if name not in order})
    return values.map(order)


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
    last_run = _latest(swept, ["dataset", "model", "sigma"], ["timestamp"])[keys]
    swept = swept.merge(last_run, on=keys, how="inner")
    swept = _latest(swept, [*keys, "steps"], ["n_images", "timestamp"])
    return swept.sort_values(["dataset", "sigma", "model", "steps"], kind="stable").reset_index(drop=True)


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
        runs = _latest(group, ["model"], ["timestamp"])[["model", "run_id"]]
        latest = group.merge(runs, on=["model", "run_id"], how="inner")
        out.append((condition_label(latest.iloc[0]), latest))
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


# ---------------------------------------------------------------- sample quality (sample and fid rows)

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
    samples = _latest(samples[samples["_place"].notna()], ["_place"], ["timestamp"])
    by_place = {row["_place"]: row for _, row in samples.iterrows()}
    scores = [_score(row, by_place) for _, row in fid.iterrows()]
    frame = pd.DataFrame(scores, columns=SCORE_COLUMNS)
    frame = frame[frame["model"].notna()]
    if frame.empty:
        return frame
    frame = _latest(frame, SCORE_KEYS, ["timestamp"])
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
