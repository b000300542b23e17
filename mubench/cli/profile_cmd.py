"""`mubench profile`: where one denoiser call's time goes, by operator category."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mubench.cli.common import (
    CsvOpt,
    JsonOpt,
    ModelsOpt,
    PrefaultOpt,
    QuietOpt,
    check_outputs,
    console,
    finish,
    friendly_errors,
    models_or_default,
    progress,
)
from mubench.cli.mode_options import (
    BatchSizeOpt,
    ChannelsLastOpt,
    CompileOpt,
    CompileOptionOpt,
    CudnnBenchmarkOpt,
    DeviceOpt,
    DtypeOpt,
    PrepackOpt,
    ResolutionOpt,
    SeedOpt,
    Tf32Opt,
    ThreadsOpt,
    WarmupOpt,
)
from mubench.cli.render import Column, table
from mubench.cli.solver_options import (
    AdjointOpt,
    AtolOpt,
    OdeBackendOpt,
    OdeStepSizeOpt,
    OdeStepsOpt,
    RtolOpt,
    SolverOpt,
)
from mubench.formatting import fixed, percent, text
from mubench.ranges import bounds

if TYPE_CHECKING:
    import pandas as pd


@friendly_errors
def profile(
    model: ModelsOpt = None,
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "fp32",
    batch_size: BatchSizeOpt = 1,
    resolution: ResolutionOpt = None,
    repeats: Annotated[
        int, typer.Option(**bounds("repeats"), help="Calls profiled per model, after warm-up.")
    ] = 10,
    warmup: WarmupOpt = 3,
    compile: CompileOpt = False,
    compile_option: CompileOptionOpt = None,
    channels_last: ChannelsLastOpt = False,
    prepack: PrepackOpt = False,
    tf32: Tf32Opt = False,
    cudnn_benchmark: CudnnBenchmarkOpt = False,
    threads: ThreadsOpt = None,
    seed: SeedOpt = 0,
    prefault: PrefaultOpt = True,
    solver: SolverOpt = None,
    ode_steps: OdeStepsOpt = None,
    ode_step_size: OdeStepSizeOpt = None,
    rtol: RtolOpt = None,
    atol: AtolOpt = None,
    adjoint: AdjointOpt = False,
    ode_backend: OdeBackendOpt = None,
    csv: CsvOpt = None,
    json: JsonOpt = None,
    quiet: QuietOpt = False,
) -> None:
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
    from mubench.measure.api import conditions, measure, options_of
    from mubench.results import new_run_id, to_frame

    options = options_of("profile", locals())
    names = models_or_default(model)
    conds = conditions("profile", names, options)
    check_outputs(csv, json)
    run_id = new_run_id()
    with progress(len(names), "profile", quiet) as tick:
        rows = measure("profile", names, conds, run_id, tick).rows
    frame = to_frame(rows)
    _render(frame)
    finish(frame, csv, json, device)


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
