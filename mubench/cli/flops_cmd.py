"""`mubench flops`: MACs and FLOPs per call and per trajectory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mubench.cli.common import (
    check_outputs,
    console,
    err_console,
    finish,
    progress,
    save_partial,
)
from mubench.cli.measurement_command import CommandCall, measurement_command
from mubench.cli.render import first_ok, table, with_ratio_to_first
from mubench.formatting import fixed, giga, integer, missing, percent, ratio, text

if TYPE_CHECKING:
    import pandas as pd


@measurement_command("flops", wide=True)
def flops(call: CommandCall) -> None:
    """Count MACs (multiply-accumulates) and FLOPs (= 2 x MACs) of one denoiser call, and of a trajectory.

    fvcore counts (primary, in MACs), torch's FlopCounterMode cross-checks (in FLOPs); both rows are shown
    with their ratio. ODE models report NFE (ODE-function evaluations) beside every figure.

    Examples:

        mubench flops

        mubench flops --model ode-u

        mubench flops --model ode-u --solver dopri5 --rtol 1e-3 --atol 1e-4

        mubench flops -m ddpm-unet -m lucid-unet -m ode-u -m ode-u-ref --steps 1000 --csv flops.csv

        mubench flops --model lucid-unet --depth 1
    """
    from mubench.measure.measurements import measurement
    from mubench.registry import get_spec
    from mubench.results import new_run_id, to_frame

    options, csv, json, quiet, wide = call.options, call.csv, call.json, call.quiet, call.wide
    measuring = measurement("flops")
    names = call.models
    conds = measuring.conditions(names, options)
    for name in names:  # a single model counts at its own size: check that it can
        spec = get_spec(name)
        spec.check_resolution(conds.resolution if conds.resolution is not None else spec.resolution)
    check_outputs(csv, json)
    run_id = new_run_id()
    with progress(len(names), "counting", quiet) as tick:
        measured = measuring.measure(
            names, conds, run_id, tick, on_rows=lambda rows: save_partial(to_frame(rows), csv, json)
        )
    frame = to_frame(measured.rows)
    _render(frame, conds.resolution, conds.steps, wide)
    for breakdown in measured.breakdowns:
        if not breakdown.empty:
            counted = "MACs" if conds.tier == "matmul" else "MACs + elementwise ops"  # tier all adds those
            model_name = breakdown["model"].iloc[0]
            title = f"{counted} per module: {model_name} (fvcore, depth <= {conds.depth}), and bytes moved"
            columns = [("module", "module", text), ("macs", counted, integer), ("share", "share", percent),
                       ("bytes_unfused", "MiB moved", mib), ("bytes_share", "share", percent)]  # fmt: skip
            console.print(table(breakdown, columns, title=title))
    finish(frame, csv, json)


def mib(value: float | None) -> str:
    """Bytes as MiB."""
    return "-" if missing(value) else f"{value / 2**20:,.1f}"


# Shown with --wide: what the memory traffic and the live tensors are, beside the counts.
FLOPS_DETAIL = ("bytes_unfused", "arithmetic_intensity_unfused", "peak_activation_mib")


def _render(frame: pd.DataFrame, shared: int | None, steps: int, wide: bool) -> None:
    import pandas as pd

    counter = frame["counter"] if "counter" in frame else pd.Series("fvcore", index=frame.index)
    fv = frame[counter.fillna("fvcore") != "torch"].reset_index(drop=True)
    if "macs" in fv:
        fv["macs_vs_first"] = with_ratio_to_first(fv, "macs")
    columns = [
        ("model", "model", text),
        ("nfe", "NFE", integer),
        ("macs", "MACs/call", integer),
        ("macs_vs_first", "vs base", percent),
        *([("macs_per_trajectory", f"MACs x{steps}", giga)] if steps > 1 else []),
        ("xcheck_ratio", "torch/fv", ratio),
        ("coverage", "cov.", percent),
        ("bytes_unfused", "MiB moved", mib),
        ("arithmetic_intensity_unfused", "FLOP/B", fixed(1)),
        ("peak_activation_mib", "act. MiB", fixed(1)),
        ("status", "status", text),
    ]
    solvers = sorted({s for s in fv.get("solver", pd.Series(dtype=str)).dropna()})
    where = f"{shared}x{shared}, shared by all models" if shared else "each model's default"
    base = first_ok(fv)
    tier = base["tier"] if base is not None else "-"
    baseline = base["model"] if base is not None else "-"
    ode = f" ({', '.join(solvers)})" if solvers else ""
    caption = [
        (None, f"MACs = multiply-accumulates counted by fvcore (tier '{tier}'); FLOPs = 2 x MACs"
               f"{' + elementwise ops' if tier == 'all' else ''}."),
        ("macs_vs_first", f"vs base: MACs / those of {baseline}."),
        (None, f"Resolution: {where}; batch {fv['batch_size'].iloc[0]}."),
        ("nfe", f"NFE = ODE-function evaluations per call{ode}."),
        ("xcheck_ratio", "torch/fv = torch FlopCounterMode FLOPs / (2 x fvcore MACs), ops both count."),
        ("coverage", "cov. = share of the op calls of the tier that fvcore could count."),
        ("bytes_unfused", "MiB moved: each aten operator reads its inputs and writes its outputs (unfused)."),
        ("arithmetic_intensity_unfused", "FLOP/B: FLOPs per byte moved."),
        ("peak_activation_mib", "act. MiB: peak live tensors of one eager call."),
    ]  # fmt: skip
    hide = () if wide else FLOPS_DETAIL
    console.print(table(fv, columns, title="Compute per denoiser call", caption=caption, hide=hide))
    for model, message in dict.fromkeys(zip(frame["model"], frame["message"])):
        if message:
            err_console.print(f"note ({model}): {message}", highlight=False, markup=False)
