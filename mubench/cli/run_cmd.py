"""`mubench run`: a suite of measurements declared in a TOML file, written into a results folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mubench.cli.common import QuietOpt, console, err_console, friendly_errors, progress
from mubench.cli.render import table
from mubench.formatting import fixed, integer, text


@friendly_errors
def run(
    suite_file: Annotated[Path, typer.Argument(help="Suite file (TOML), e.g. benchmarks/ci.toml.")],
    out: Annotated[
        Path | None, typer.Option(help="Results folder. Default: results/<suite name>.", show_default=False)
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Keep the finished items of an earlier run in --out; run the rest."),
    ] = False,
    device: Annotated[
        str | None,
        typer.Option(
            help="Run every latency, profile and robustness table on this device (cpu, cuda, cuda:N)."
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Run only the tables of this measurement: params, flops, latency, robustness (repeatable)."
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Run a suite: models x measurements x conditions from a TOML file, one results folder.

    The folder gets results.csv (every row), params.csv / flops.csv / latency.csv / robustness.csv,
    environment.json and a copy of the suite. Rows are written after every item, so an interrupted run
    keeps what finished; --resume runs only what is missing (and what failed). A failed item becomes
    rows with status=error and the suite goes on; the exit code is then 1.

    Examples:

        mubench run benchmarks/ci.toml --out build/ci-results

        mubench run benchmarks/paper.toml --out results/cpu/paper --resume

        mubench run benchmarks/paper.toml --device cuda --only latency --out results/gpu/paper
    """
    import pandas as pd

    from mubench.errors import MubenchError
    from mubench.suite.runner import condition_notes, run_suite
    from mubench.suite.spec import load_suite

    suite = load_suite(suite_file, device, tuple(only or ()))
    for reason in suite.left_out:
        err_console.print(f"note: {suite_file}: {reason}", highlight=False, markup=False)
    folder = out if out is not None else Path("results") / suite.name
    try:
        with progress(len(suite.items), f"suite {suite.name}", quiet) as tick:
            rows, outcomes, foreign = run_suite(suite, folder, resume, tick)
    except KeyboardInterrupt:
        err_console.print(
            f"interrupted; the finished items are in {folder}/ (add --resume to run the rest)",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(130) from None
    summary = pd.DataFrame(
        {
            "item": [o.item.label for o in outcomes],
            "rows": [o.rows for o in outcomes],
            "status": ["ok" if o.status == "done before" else o.status for o in outcomes],
            "outcome": [o.status for o in outcomes],
            "seconds": [o.seconds if o.status != "done before" else None for o in outcomes],
        }
    )
    columns = [("item", "item", text), ("rows", "rows", integer), ("outcome", "outcome", text),
               ("seconds", "s", fixed(1))]  # fmt: skip
    console.print(table(summary, columns, title=f"Suite {suite.name}: {len(outcomes)} items"))
    err_console.print(f"wrote {len(rows)} rows to {folder}/", highlight=False, markup=False)
    if foreign:
        err_console.print(
            f"note: {foreign} of them belong to items that are not in {suite_file} as given "
            "(kept from the earlier run: an edited suite, or --only)",
            highlight=False,
            markup=False,
        )
    for note in condition_notes(outcomes):  # option names as a suite file spells them
        err_console.print(
            f"note: {MubenchError(note).render('suite')}", highlight=False, markup=False, soft_wrap=True
        )
    failed = rows[rows["status"] != "ok"] if not rows.empty else rows
    for _, row in failed.iterrows():
        err_console.print(
            f"{row['status']} ({row['model']}, {row['command']}): {row['message']}",
            highlight=False,
            markup=False,
        )
    if not failed.empty:
        raise typer.Exit(1)
