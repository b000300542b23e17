"""`mubench latency`: per-call and per-trajectory inference time under fixed, fair conditions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mubench.cli.common import (
    check_outputs,
    console,
    err_console,
    finish,
    progress,
)
from mubench.cli.measurement_command import CommandCall, measurement_command
from mubench.cli.render import Column, first_ok, table
from mubench.formatting import fixed, integer, percent, ratio, text

if TYPE_CHECKING:
    import pandas as pd

    from mubench.measure.latency.conditions import LatencyConditions


@measurement_command("latency", wide=True)
def latency(call: CommandCall) -> None:
    """Time one denoiser call and a full reverse trajectory, every model under the same conditions.

    Warm-up first (a minimum of calls, then until stable); then samples taken round-robin across the
    models; CUDA events on GPU, perf_counter on CPU. Medians with p10/p90 and IQR; rows whose
    IQR/median exceeds 10% are flagged unstable. Ratios are to the first model.

    Examples:

        mubench latency

        mubench latency --steps 1000 --device cuda

        mubench latency -m lucid-unet -m ode-u --device cuda --dtype bf16 --batch-size 64 --csv lat.csv

        mubench latency -m ode-u-tiny -m lucid-unet-tiny --repeats 10 --steps 10
    """
    from mubench.measure.measurements import measurement
    from mubench.results import new_run_id, to_frame

    options, csv, json, quiet, wide = call.options, call.csv, call.json, call.quiet, call.wide
    measuring = measurement("latency")
    names = call.models
    conds = measuring.conditions(names, options)
    check_outputs(csv, json)
    run_id = new_run_id()
    total = (len(names) + conds.repeats + conds.trajectory_repeats) * conds.processes
    with progress(total, "latency", quiet) as tick:
        rows = measuring.measure(names, conds, run_id, tick).rows
    frame = to_frame(rows)
    _render(frame, conds, wide)
    finish(frame, csv, json, conds.device)


# Shown with --wide: the time against the device's limits, and memory.
LATENCY_DETAIL = (
    "roofline_vs_first", "achieved_share", "latency_over_roofline", "peak_activation_mib", "peak_mem_mib",
)  # fmt: skip


def _render(frame: pd.DataFrame, conds: LatencyConditions, wide: bool) -> None:
    cuda = conds.device.startswith("cuda")
    columns: list[Column] = [
        ("model", "model", text),
        ("call_ms_median", "call ms", fixed(3)),
        ("call_ms_p10", "p10", fixed(3)),
        ("call_ms_p90", "p90", fixed(3)),
        ("call_ms_process_medians", "per process", _per_process),
        ("call_ms_process_spread", "spread", percent),
        ("call_ms_vs_first", "vs base", ratio),
        ("macs_vs_first", "MACs vs base", ratio),
        ("roofline_vs_first", "roofline vs base", ratio),
        ("trajectory_s_median", f"traj. s ({conds.steps})", fixed(3)),
        ("achieved_share", "of peak", percent),
        ("latency_over_roofline", "x roofline", fixed(2)),
        ("peak_activation_mib", "act. MiB", fixed(1)),
        *([("peak_mem_mib", "peak MiB", fixed(1))] if cuda else []),
        ("nfe", "NFE", integer),
        ("agrees_with_eager_fp32", "agrees", text),
        ("status", "status", text),
    ]
    first = frame.iloc[0]
    base = first_ok(frame)
    several = conds.processes > 1
    setup = (
        f"{first.get('device_name', '')} ({first['device']}), {first['dtype']}, batch {first['batch_size']}, "
        f"{first['resolution']}x{first['resolution']}, {first.get('num_threads', '?')} threads, "
        f"tf32 {first.get('tf32', '-')}, mode {conds.mode()}, {_processes_text(conds)}, "
        f"libraries {'pre-faulted' if conds.prefault else 'not pre-faulted'}."
    )
    caption = [
        (None, setup),
        ("trajectory_s_median", f"Trajectory: {first['sampler']} x {conds.steps} steps."),
        ("call_ms_vs_first", f"vs base = median over that of {base['model'] if base is not None else '-'}."),
        ("macs_vs_first", "MACs vs base is what the arithmetic alone predicts."),
        ("roofline_vs_first", "roofline vs base: what memory traffic and arithmetic together allow."),
        ("achieved_share", "of peak = achieved FLOP/s over the device's measured peak (best matmul or "
                           "convolution)."),
        ("latency_over_roofline", "x roofline = call time over the sum, per aten operator, of max(FLOPs / "
                                  "peak, bytes / measured bandwidth)."),
        ("peak_activation_mib", "act. MiB = peak live tensors of one eager call."),
        ("peak_mem_mib", "peak MiB = the CUDA allocator's peak."),
        ("agrees_with_eager_fp32", "agrees: output matches the eager fp32 model's."),
        ("call_ms_process_spread" if several else "-",
         "call ms = median of the processes' medians; spread = (max - min) / median of those medians."),
    ]  # fmt: skip
    agrees = frame.get("agrees_with_eager_fp32")
    trivial = agrees is None or bool(agrees.fillna(True).astype(bool).all())  # said only when it does not
    hide = () if wide else (*LATENCY_DETAIL, *(["agrees_with_eager_fp32"] if trivial else []))
    title = "Latency per denoiser call (median ms)"
    console.print(table(frame, columns, title=title, caption=caption, hide=hide))
    for _, row in frame.iterrows():
        if row.get("message") and row.get("status", "ok") == "ok":  # failures: named by finish()
            err_console.print(f"note ({row['model']}): {row['message']}", highlight=False, markup=False)


def _processes_text(conds: LatencyConditions) -> str:
    return "1 process" if conds.processes == 1 else f"{conds.processes} fresh processes"


def _per_process(value: object) -> str:
    """``12.5;12.9`` (the rows' per-process medians) as ``12.500 12.900``."""
    return " ".join(f"{float(v):.3f}" for v in value.split(";")) if isinstance(value, str) else "-"
