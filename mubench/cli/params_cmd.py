"""`mubench params`: parameter counts."""

from __future__ import annotations

from mubench.cli.common import check_outputs, console, finish, progress, save_partial
from mubench.cli.measurement_command import CommandCall, measurement_command
from mubench.cli.render import first_ok, table, with_ratio_to_first
from mubench.formatting import integer, percent, text


@measurement_command("params")
def params(call: CommandCall) -> None:
    """Count parameters: total, trainable, frozen (requires_grad False) and buffers.

    With no --model: the paper's comparison, lucid-unet (baseline) against ode-u, with their ratio.

    Examples:

        mubench params

        mubench params --model ode-u-ref --model ddpm-unet --csv params.csv
    """
    from mubench.measure.measurements import measurement
    from mubench.results import new_run_id, to_frame

    names, csv, json = call.models, call.csv, call.json
    counting = measurement("params")
    counting.conditions(names, {})  # unknown names fail before any work
    check_outputs(csv, json)
    run_id = new_run_id()
    with progress(len(names), "params", call.quiet) as tick:
        keep = lambda rows: save_partial(to_frame(rows), csv, json)  # noqa: E731
        rows = counting.measure(names, None, run_id, tick, on_rows=keep).rows
    frame = to_frame(rows)
    frame["params_vs_first"] = with_ratio_to_first(frame, "params_total")
    columns = [
        ("model", "model", text),
        ("params_total", "total", integer),
        ("params_trainable", "trainable", integer),
        ("params_frozen", "frozen", integer),
        ("buffers_total", "buffers", integer),
        ("params_vs_first", "vs base", percent),
    ]
    base = first_ok(frame)
    caption = f"vs base: total / that of {base['model']}." if base is not None else None
    console.print(table(frame, columns, title="Parameters (elements)", caption=caption))
    finish(frame, csv, json)
