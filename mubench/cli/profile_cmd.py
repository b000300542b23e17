"""`mubench profile`: where one denoiser call's time goes, by operator category."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mubench.cli.common import (
    check_outputs,
    console,
    finish,
    progress,
)
from mubench.cli.measurement_command import CommandCall, measurement_command
from mubench.cli.render import Column, table
from mubench.formatting import fixed, percent, text

if TYPE_CHECKING:
    import pandas as pd


@measurement_command("profile")
def profile(call: CommandCall) -> None:
    """Where one denoiser call's time goes: time per operator category beside its share of FLOPs
    and of bytes, from torch.profiler.

    Each model is prepared as latency prepares it (mode, warm-up, pre-faulting), then --repeats
    calls are profiled. CPU: self CPU time of each operator; python/framework is the time between
    operators. CUDA: kernel time by launching operator; python/framework is the time the GPU
    waited on the host. Compiled: inductor's fused kernels go to the heaviest category their
    names list. FLOPs and bytes (unfused) are counted on the eager model.

    Examples:

        mubench profile

        mubench profile -m ode-u --compile --channels-last --batch-size 8 --csv profile.csv
    """
    from mubench.measure.measurements import measurement
    from mubench.results import new_run_id, to_frame

    options, csv, json, quiet = call.options, call.csv, call.json, call.quiet
    measuring = measurement("profile")
    names = call.models
    conds = measuring.conditions(names, options)
    check_outputs(csv, json)
    run_id = new_run_id()
    with progress(len(names), "profile", quiet) as tick:
        rows = measuring.measure(names, conds, run_id, tick).rows
    frame = to_frame(rows)
    _render(frame)
    finish(frame, csv, json, conds.device)


def _render(frame: pd.DataFrame) -> None:
    columns: list[Column] = [
        ("model", "model", text),
        ("category", "category", text),
        ("category_ms", "ms per call", fixed(3)),
        ("category_time_share", "of time", percent),
        ("category_flops_share", "of FLOPs", percent),
        ("category_bytes_share", "of bytes", percent),
        ("category_top_ops", "top operators (ms per call)", text),
        ("status", "status", text),
    ]
    first = frame.iloc[0]
    lines = []
    for model, rows in frame.groupby("model", sort=False):
        row = rows.iloc[0]
        if row.get("status") != "ok":
            continue
        total = rows["category_ms"].sum()
        lines.append(
            f"{model}: {row['profile_call_ms']:.3f} ms per profiled call, categories sum {total:.3f} ms "
            f"({row['profile_time_source']})"
            + (f"; not attributed: {row['profile_unattributed']}" if row.get("profile_unattributed") else "")
        )
    caption = (
        f"{first.get('device_name', '')} ({first['device']}), {first['dtype']}, batch {first['batch_size']}, "
        f"{first['resolution']}x{first['resolution']}, {first.get('num_threads', '?')} threads, mode "
        f"{first.get('mode', '-')}. FLOPs and bytes: unfused counts of the eager model.\n" + "\n".join(lines)
    )
    console.print(table(frame, columns, title="Time per denoiser call by operator category", caption=caption))
