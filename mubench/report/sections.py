"""The report's document: its sections (summary, claims, size, latency, profile, quality, convergence,
sample quality, cost, failures, environment), each a list of blocks made from the result rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mubench.formatting import fixed, integer, percent, text
from mubench.report import rows as sel
from mubench.report.claims import evaluate_claims
from mubench.report.document import Code, Document, Heading, Image, Note, Paragraph, Table
from mubench.report.glance import claim_details, glance_table, summary_line, verdict_classes
from mubench.report.output import PLOTS_DIR


def make_document(
    rows: pd.DataFrame,
    env: Mapping[str, Any],
    images: Mapping[str, bytes],
    title: str = "mubench report",
    source: Path | None = None,
) -> Document:
    """The report as a document: environment, claims, size and compute, latency, quality, failures.
    ``images`` maps plot names (see :data:`plots.PLOTS`) to PNG bytes; absent plots are left out."""
    doc = Document(title)
    if source is not None:
        doc.add(Paragraph(f"Results read from {source}; this report measures nothing."))
    sections = (
        summary_section,
        claims_section,
        size_section,
        latency_section,
        profile_section,
        quality_section,
        convergence_section,
        sample_quality_section,
        cost_section,
        failures_section,
        environment_section,
    )
    for section in sections:
        doc.add(*section(rows, env, images))
    return doc


def _image(images: Mapping[str, bytes], name: str, alt: str, caption: str) -> list[Image]:
    return [Image(f"{PLOTS_DIR}/{name}.png", images[name], alt, caption)] if name in images else []


def _values(frame: pd.DataFrame, name: str) -> str:
    """The distinct values of a column, in order, joined ("—" when none)."""
    values = [_plain(v) for v in sel.column(frame, name).dropna()]
    return ", ".join(dict.fromkeys(values)) or "—"


def _plain(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _command_line(env: Mapping[str, Any]) -> str | None:
    """The command that made the folder: ``mubench run`` records its suite file; others may say."""
    if env.get("suite_file"):
        return f"mubench run {env['suite_file']}"
    for key in ("command", "command_line", "argv"):
        value = env.get(key)
        if value:
            return " ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return None


ENV_ITEMS = (  # (label, rows column / environment.json key)
    ("device name", "device_name"),
    ("torch", "torch_version"),
    ("threads", "num_threads"),
    ("mubench", "mubench_version"),
    ("CUDA", "cuda_version"),
    ("cuDNN", "cudnn_version"),
    ("driver", "driver_version"),
    ("python", "python_version"),
    ("platform", "platform"),
    ("CPU count", "cpu_count"),
)


def summary_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    """Under the title: where the rows were measured, by which software, and how they were made."""
    counts = rows["command"].value_counts()
    made = ", ".join(f"{n} {command}" for command, n in counts.items())
    machine = (
        f"Measured on {_values(rows, 'device_name')} ({_values(rows, 'device')}); torch "
        f"{_values(rows, 'torch_version')}, {_values(rows, 'num_threads')} threads, mubench "
        f"{_values(rows, 'mubench_version')}. {len(rows)} rows: {made}."
    )
    blocks: list = [Paragraph(machine)]
    if env.get("suite"):
        description = f": {env['suite_description']}" if env.get("suite_description") else ""
        blocks.append(Paragraph(f"Suite {env['suite']}{description}"))
    command = _command_line(env)
    if command:
        blocks += [Paragraph("Made by:"), Code(command)]
    return blocks


def environment_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    """Versions and machine, as the rows record them and as environment.json does."""
    items = []
    for label, key in ENV_ITEMS:
        in_rows = _values(rows, key)
        in_env = "—" if sel.missing(env.get(key)) else str(env.get(key))
        if in_rows != "—" or in_env != "—":
            items.append({"": label, "in the rows": in_rows, "environment.json": in_env})
    if not items:
        return []
    return [Heading("Environment"), Table(pd.DataFrame(items), table_id="environment")]


def claims_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    claims = evaluate_claims(rows)
    return [
        Heading("Claims of the paper"),
        Paragraph(summary_line(claims)),
        Table(glance_table(claims), table_id="claims", cell_class=verdict_classes(claims)),
        Note(
            "The paper's figures and those of the authors' released code are quoted (not measured here); "
            "'measured' is computed from the rows of this folder, and each verdict by the rule under the "
            "claim's details below."
        ),
        *(claim_details(i, claim) for i, claim in enumerate(claims, 1)),
    ]


def size_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    params = sel.params_by_model(rows)
    macs = sel.fvcore_macs(rows, every_solver=True)
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
        return "-" if sel.missing(value) else fixed(3)(value / 1e9)

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
        Table(_format(frame, columns), caption, table_id="params-macs"),
        *_image(
            images,
            "params_macs",
            "Parameters and MACs per model",
            "Parameters (millions) and fvcore MACs per denoiser call (G) per model, from the params and "
            "flops rows.",
        ),
    ]


def _format(frame: pd.DataFrame, columns: list[tuple[str, str, Callable[[Any], str]]]) -> pd.DataFrame:
    """A table of strings: ``columns`` (name, header, formatter) that exist in ``frame``."""
    out = {header: [fmt(v) for v in frame[name]] for name, header, fmt in columns if name in frame}
    return pd.DataFrame(out)


def _spread(frame: pd.DataFrame, prefix: str, decimals: int) -> list[str]:
    """'median [p10–p90]' per row, '-' where absent."""
    out = []
    for _, row in frame.iterrows():
        med, low, high = (row.get(f"{prefix}_{s}") for s in ("median", "p10", "p90"))
        out.append(
            "-" if sel.missing(med) else f"{med:,.{decimals}f} [{low:,.{decimals}f}–{high:,.{decimals}f}]"
        )
    return out


def latency_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    groups = sel.latency_groups(rows)
    head = [Heading("Latency")]
    if not groups:
        return [*head, Paragraph("No latency rows in this folder.")]
    blocks = list(head)
    for label, frame in groups:
        table = _latency_table(frame)
        timed = sel.column(frame, "trajectory_s_median").notna().any()
        trajectory = (
            f"trajectory: {_values(frame, 'sampler')} x {_values(frame, 'steps')} steps"
            if timed
            else "trajectories not timed"
        )
        caption = (
            f"Run {_values(frame, 'run_id')}; {trajectory}. Times: median [p10–p90]. vs first = ratio to "
            f"{_values(frame, 'baseline')}; latency / MACs = call-time ratio over MACs ratio (1: time "
            "follows MACs)."
        )
        if sel.column(frame, "call_ms_process_spread").notna().any():
            caption += (
                f" Each model timed in {_values(frame, 'processes')} fresh processes: the median is the "
                "median of their medians; process spread = (max − min) / that median."
            )
        blocks += [Heading(label, 3), Table(table, caption)]
    blocks += _image(
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
    table = _format(frame, filled)
    table.insert(1, "call ms median [p10–p90]", _spread(frame, "call_ms", 2))
    table.insert(2, "trajectory s median [p10–p90]", _spread(frame, "trajectory_s", 3))
    return table


def profile_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    """Where each model's call time goes, by operator category, per condition group."""
    groups = sel.profile_groups(rows)
    if not groups:
        return []
    columns = [
        ("model", "model", text),
        ("category", "category", text),
        ("category_ms", "ms per call", fixed(3)),
        ("category_time_share", "of time", percent),
        ("category_flops_share", "of FLOPs", percent),
        ("category_bytes_share", "of bytes (unfused)", percent),
        ("category_top_ops", "top operators (ms per call)", text),
    ]
    blocks: list = [Heading("Where the time goes")]
    for label, frame in groups:
        caption = (
            f"Run {_values(frame, 'run_id')}; {_values(frame, 'profile_time_source')} per call from "
            "torch.profiler, by operator category; python/framework = time between operators (CPU) or "
            "the device waiting on the host (CUDA). FLOPs and bytes: counts of the eager model."
        )
        blocks += [Heading(label, 3), Table(_format(frame, columns), caption)]
    blocks += _image(
        images,
        "profile",
        "Time per call by operator category",
        "Milliseconds per denoiser call of each operator category, stacked, per model and condition group.",
    )
    return blocks


def _pm(frame: pd.DataFrame, mean: str, ci: str, decimals: int, signed: bool = False) -> list[str]:
    sign = "+" if signed else ""
    return [
        "-" if sel.missing(m) else f"{m:{sign}.{decimals}f} ± {c:.{decimals}f}"
        for m, c in zip(sel.column(frame, mean), sel.column(frame, ci))
    ]


def _quality_table(frame: pd.DataFrame, with_diffs: bool) -> pd.DataFrame:
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
    table = _format(frame, columns)
    if frame["dataset"].nunique() <= 1:
        table = table.drop(columns="dataset")
    table.insert(len(table.columns) - 2, "PSNR dB ± 95%", _pm(frame, "psnr_db_mean", "psnr_db_ci95", 2))
    table.insert(len(table.columns) - 2, "SSIM ± 95%", _pm(frame, "ssim_mean", "ssim_ci95", 4))
    lpips = _has_lpips(frame)
    if lpips:
        table.insert(len(table.columns) - 2, "LPIPS ± 95%", _pm(frame, "lpips_mean", "lpips_ci95", 4))
    if with_diffs and "psnr_db_diff_mean" in frame:
        table["vs"] = [text(v) for v in sel.column(frame, "baseline")]
        table["PSNR diff dB ± 95%"] = _pm(frame, "psnr_db_diff_mean", "psnr_db_diff_ci95", 2, signed=True)
        table["SSIM diff ± 95%"] = _pm(frame, "ssim_diff_mean", "ssim_diff_ci95", 4, signed=True)
        if lpips:
            table["LPIPS diff ± 95%"] = _pm(frame, "lpips_diff_mean", "lpips_diff_ci95", 4, signed=True)
    return table


def _has_lpips(frame: pd.DataFrame) -> bool:
    return bool(sel.column(frame, "lpips_mean").notna().any())


def _lpips_note(frame: pd.DataFrame) -> str:
    """The caption's sentence on LPIPS, where rows have it."""
    if not _has_lpips(frame):
        return ""
    nets = _values(frame, "lpips_net")
    backbone = f" ({nets} backbone)" if nets != "—" else ""
    return f" LPIPS{backbone}: lower is better; '-' where a row has none."


def quality_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    full = sel.full_process(rows)
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
        Table(_quality_table(full, with_diffs=True), caption, table_id="quality"),
        *_image(
            images,
            "quality_vs_sigma",
            "PSNR and SSIM against sigma",
            "PSNR and SSIM against noise sigma with 95% CI error bars; models solid, identity and classical "
            "references dashed.",
        ),
    ]


def convergence_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    sweeps = sel.sweeps(rows)
    if sweeps.empty:
        return []
    return [
        Heading("Convergence of the reverse process", 3),
        Table(
            _quality_table(sweeps, with_diffs=False),
            "Steps sweep (DDIM steps from t*): every step count of the latest sweep run per model and sigma.",
            table_id="convergence",
        ),
        *_image(
            images,
            "quality_vs_steps",
            "PSNR against reverse steps",
            "PSNR against the number of reverse steps (log scale), one line per model and sigma, "
            "95% CI bars.",
        ),
    ]


def sample_quality_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    """FID (and KID) of sample folders, with the steps and wall time per image that made them."""
    scores = sel.sample_scores(rows)
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
    table = _format(scores, columns)
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
        f"as mubench sample timed it (device: {_values(scores, 'sample_device')}), from the sample row "
        "whose folder the fid row scored ('-' where the folder has none)."
    )
    return [
        Heading("Sample quality"),
        Table(table, caption, table_id="sample-quality"),
        *_image(
            images,
            "fid_vs_steps",
            "FID against sampling steps",
            "FID against the number of sampling steps (log scale), one line per model; lower is better.",
        ),
        *_image(
            images,
            "fid_vs_time",
            "FID against wall time per image",
            "FID against the wall time of the reverse process per image (log scale), one line per model; "
            "lower and further left is better.",
        ),
    ]


def _plain_pm(mean: Any, spread: Any, decimals: int) -> str:
    if sel.missing(mean):
        return "-"
    return f"{mean:.{decimals}f}" + ("" if sel.missing(spread) else f" ± {spread:.{decimals}f}")


def cost_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    if "cost_quality" not in images:
        return []
    devices = _values(sel.full_process(rows), "device")
    caption = (
        f"Denoise seconds per image as timed by the robustness run itself (device: {devices}; it includes "
        "every reverse step from t*, not a latency benchmark) against mean PSNR; one marker per model or "
        "reference, one colour per sigma. Where flops rows of those models exist at the same resolution, "
        "the second panel shows fvcore MACs per denoiser call (batch 1) against PSNR."
    )
    return [Heading("Cost against quality"), *_image(images, "cost_quality", "Cost against quality", caption)]


def failures_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    failed = sel.failed_rows(rows)
    if failed.empty:
        return []
    columns = [
        ("command", "command", text),
        ("model", "model", text),
        ("status", "status", text),
        ("device", "device", text),
        ("dtype", "dtype", text),
        ("batch_size", "batch", integer),
        ("resolution", "resolution", integer),
        ("sigma", "sigma", fixed(2)),
        ("message", "message", text),
    ]
    return [
        Heading("Failed measurements"),
        Paragraph(f"{len(failed)} row(s) did not measure; they are left out of the figures and the claims."),
        Table(_format(failed, columns), table_id="failed"),
    ]
