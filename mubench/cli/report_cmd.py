"""`mubench report`: Markdown + HTML report with plots from a results folder (reads rows, never measures)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mubench.cli.common import QuietOpt, err_console, friendly_errors, progress

ResultsArg = Annotated[
    Path,
    typer.Argument(
        help="Results folder: results.csv (rows of every command), any other result CSV in it (e.g. "
        "sample.csv, fid.csv) and environment.json; or one result file (.csv, .json).",
        metavar="DIR",
        show_default=False,
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Folder for the report. Default: the results folder; for a file, FILE-report/ beside it.",
    ),
]


@friendly_errors
def report(results_dir: ResultsArg, out: OutOpt = None, quiet: QuietOpt = False) -> None:
    """Write report.md, report.html (self-contained) and plots/*.png from the rows of a results folder.

    The report opens with the paper's claims: the paper's figure, the authors' code's, what the rows
    measured, under which conditions, and a verdict computed from the rows by a stated rule. Then
    parameters and MACs, latency, denoising quality, convergence, sample quality (FID against steps
    and wall time), cost against quality, failed rows.
    It reads the rows only: nothing is measured again.

    Examples:

        mubench report results/cpu

        mubench report out --out out/report -q

        mubench report robustness.csv --out report
    """
    # Imported here: matplotlib would add a third of a second to every other command's start.
    from mubench.report import STEPS, load_results, prepare_out_dir, render_report

    rows, env = load_results(results_dir)
    # A single file's report goes beside it in <stem>-report/, never over a folder's own report.
    out_dir = (
        out
        if out is not None
        else results_dir
        if results_dir.is_dir()
        else (results_dir.parent / f"{results_dir.stem}-report")
    )
    prepare_out_dir(out_dir)
    with progress(STEPS, "report", quiet) as tick:
        written = render_report(rows, env, out_dir, source=results_dir, tick=tick)
    if not quiet:
        plots = sum(path.suffix == ".png" for path in written)
        err_console.print(
            f"wrote {out_dir / 'report.md'}, {out_dir / 'report.html'} and {plots} plots", highlight=False
        )
