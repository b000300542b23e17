"""`mubench params`: parameter counts."""

from __future__ import annotations

from mubench.cli.common import (
    CsvOpt,
    JsonOpt,
    ModelsOpt,
    QuietOpt,
    check_outputs,
    console,
    finish,
    friendly_errors,
    models_or_default,
    progress,
    save_partial,
)
from mubench.cli.render import first_ok, table, with_ratio_to_first
from mubench.formatting import integer, percent, text


@friendly_errors
def params(
    model: ModelsOpt = None, csv: CsvOpt = None, json: JsonOpt = None, quiet: QuietOpt = False
) -> None:
    """Count parameters: total, trainable, frozen (requires_grad False) and buffers.

    With no --model: the paper's comparison, lucid-unet (baseline) against ode-u, with their ratio.

    Examples:

        mubench params

        mubench params --model ode-u-ref --model ddpm-unet --csv params.csv
    """
    from mubench.measure.api import conditions, measure
    from mubench.results import new_run_id, to_frame

    names = models_or_default(model)
    conditions("params", names, {})  # unknown names fail before any work
    check_outputs(csv, json)
    run_id = new_run_id()
    with progress(len(names), "params", quiet) as tick:
        rows = measure(
            "params", names, None, run_id, tick, on_rows=lambda rows: save_partial(to_frame(rows), csv, json)
        ).rows
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
