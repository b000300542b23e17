"""`mubench compare`: two result files side by side; the exit code says whether anything regressed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mubench.cli.common import CsvOpt, check_outputs, console, err_console, friendly_errors
from mubench.cli.output import WholeTable
from mubench.defaults import DEFAULT_METRICS
from mubench.ranges import bounds

if TYPE_CHECKING:
    from mubench.compare import Comparison


@friendly_errors
def compare(
    baseline: Annotated[Path, typer.Argument(help="Baseline: a result CSV/JSON or a `mubench run` folder.")],
    current: Annotated[Path, typer.Argument(help="Current results, the same kinds of file.")],
    fail_on: Annotated[
        list[str] | None,
        typer.Option(help="METRIC:PCT: exit 1 if METRIC got worse by more than PCT% (repeatable)."),
    ] = None,
    fail_on_change: Annotated[
        list[str] | None,
        typer.Option(
            help="METRIC: exit 1 if METRIC changed at all, e.g. params_total, macs, nfe (repeatable)."
        ),
    ] = None,
    fail_on_missing: Annotated[
        bool, typer.Option("--fail-on-missing", help="Exit 1 if a baseline row has no current row.")
    ] = False,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Metrics to show (repeatable). Default: those gated, and {', '.join(DEFAULT_METRICS)}."
        ),
    ] = None,
    threshold: Annotated[
        float,
        typer.Option(
            **bounds("threshold"), help="Colour changes beyond this percentage (metrics not gated)."
        ),
    ] = 10.0,
    changed_only: Annotated[
        bool,
        typer.Option("--changed-only", help="Show only the lines whose value changed (and regressions)."),
    ] = False,
    csv: CsvOpt = None,
) -> None:
    """Compare current results with a baseline, row by row (joined on the key columns), metric by metric.

    Ratio = current / baseline. Worse/better follows each metric's direction (time, MACs, parameters:
    lower is better; PSNR, SSIM: higher). Exit code 1 on a regression, 0 otherwise, 2 on bad input
    (a missing file, or a file of another schema_version). A note names a device whose measured matmul
    peak or bandwidth moved by more than 10% between the two sides: their time ratios may be the machine.

    Examples:

        mubench compare results/ci build/ci-results --fail-on-change params_total --fail-on-change macs

        mubench compare base.csv new.csv --fail-on call_ms_median:15%

        mubench compare results/cpu/paper /tmp/paper --metric call_ms_median --metric psnr_db_mean
    """
    from mubench.compare import check_metric, compare_frames, parse_fail_on
    from mubench.ranges import check_numbers
    from mubench.results import read_results, write_csv

    check_numbers({"threshold": threshold})  # the parser lets NaN and infinities through
    gates = dict(parse_fail_on(spec) for spec in fail_on or [])
    exact = tuple(fail_on_change or ())
    for name in (*exact, *(metric or ())):
        check_metric(name, "fail_on_change" if name in exact else "metric")
    check_outputs(csv, inputs=(baseline, current))
    base_rows, _ = read_results(baseline)
    current_rows, _ = read_results(current)
    result = compare_frames(base_rows, current_rows, gates, exact, tuple(metric or ()), fail_on_missing)
    console.print(_render(result, threshold, baseline, current, changed_only))
    if csv is not None:
        write_csv(result.table, csv)
    _report_unmatched(result)
    for line in result.notes:
        err_console.print(f"note: {line}", style="yellow", highlight=False, markup=False)
    regressed = bool(result.regressions)
    for line in result.regressions:
        err_console.print(f"regression: {line}", style="red", highlight=False, markup=False)
    err_console.print("FAILED: regressions found" if regressed else "ok: no regression", highlight=False)
    if regressed:
        raise typer.Exit(1)


def _render(
    result: Comparison, threshold: float, baseline: Path, current: Path, changed_only: bool
) -> WholeTable:
    from mubench.compare import format_value

    out = Table(title=f"{current} vs {baseline}", caption_justify="left",
                caption="ratio = current / baseline; + worse, - better; red: beyond its limit, "
                        f"yellow: worse by more than {threshold:g}% (not gated)")  # fmt: skip
    same = len(result.table) - int((result.table["change"] != "same").sum())
    if changed_only and same:
        out.caption = f"{out.caption}. {same} unchanged line(s) not shown."
    lines: list[tuple[tuple[str, ...], str | None]] = []
    for line in result.table.itertuples(index=False):
        if changed_only and line.change == "same" and not line.regression:
            continue
        known = line.ratio == line.ratio  # not NaN (baseline 0)
        beyond = abs(line.ratio - 1) * 100 > threshold if known else line.change != "same"
        style = "red" if line.regression else None
        if style is None and beyond:
            style = {"worse": "yellow", "better": "green"}.get(line.change)
        mark = {"worse": " +", "better": " -", "same": "  ", "missing": " +"}[line.change]
        ratio = (f"{line.ratio:.4f}" if known else "-") + mark
        cells = (
            f"{line.label}: {line.metric}",
            format_value(line.baseline),
            "missing" if line.change == "missing" else format_value(line.current),
            ratio,
            line.limit,
        )
        lines.append((cells, style))
    out.add_column("measurement: metric", overflow="fold", min_width=16)
    for i, header in enumerate(("baseline", "current", "ratio"), 1):  # figures whole, never cut
        width = max([len(header), *(len(cells[i]) for cells, _ in lines)])
        out.add_column(header, justify="right", overflow="fold", min_width=width)
    out.add_column("limit", overflow="fold")
    for cells, style in lines:
        out.add_row(*map(escape, cells), style=style)
    return WholeTable(out)


def _report_unmatched(result: Comparison) -> None:
    for title, labels in (
        ("only in the baseline", result.only_baseline),
        ("only in current", result.only_current),
    ):
        for label in labels:
            err_console.print(f"{title}: {label}", highlight=False, markup=False)
    for line in result.failed_now:
        err_console.print(f"failed now: {line}", highlight=False, markup=False, style="red")
