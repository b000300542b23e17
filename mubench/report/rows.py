"""Which result rows the report reads: ok rows per command, the latest row of a group, conditions in
words. Shared by every measurement's claims, tables and plots (see :mod:`mubench.report.measurements`),
so that all three show the same rows; each measurement selects its own rows from these.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mubench.defaults import REFERENCES
from mubench.formatting import missing


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
    "train": (
        *("sigma", "dataset", "seed", "n_images", "steps", "sampler", "t_start", "world_size"),
        *("training_steps", "images_seen", "train_tmacs", "wall_s", "loss_mean", "lr", "images_per_s"),
        *("psnr_db_mean", "psnr_db_ci95", "ssim_mean", "ssim_ci95", "lpips_mean", "lpips_ci95"),
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


def latest(frame: pd.DataFrame, keys: list[str], order: list[str]) -> pd.DataFrame:
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


def int_text(value: Any) -> str:
    """A whole number as text; "?" when the row lacks it."""
    return "?" if missing(value) else str(int(value))


def is_reference(frame: pd.DataFrame) -> pd.Series:
    return column(frame, "model").isin(REFERENCES)


def is_trained(frame: pd.DataFrame) -> pd.Series:
    checkpoint = column(frame, "checkpoint")
    return checkpoint.notna() & (checkpoint.astype(str) != "untrained") & (checkpoint.astype(str) != "")
