"""`mubench report`: Markdown + HTML report with plots from a results folder (reads rows, never measures)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mubench.cli.common import QuietOpt, console, err_console, friendly_errors, progress

if TYPE_CHECKING:
    import pandas as pd

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
    and wall time), cost against quality, training curves (`mubench train --log` rows), failed rows.
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
    print_claims(rows, out_dir / "report.md")
    if not quiet:
        plots = sum(path.suffix == ".png" for path in written)
        err_console.print(
            f"wrote {out_dir / 'report.md'}, {out_dir / 'report.html'} and {plots} plots", highlight=False
        )


VERDICT_STYLES = {"holds": "bold green", "fails": "bold red", "partial": "bold yellow",
                  "inconclusive": "bold", "unmeasured": "dim"}  # fmt: skip


def print_claims(rows: pd.DataFrame, details: Path) -> None:
    """The claims at a glance on stdout: the summary line, then one row per claim, verdicts coloured."""
    from rich.markup import escape
    from rich.table import Table

    from mubench.cli.output import WholeTable
    from mubench.report.claims import evaluate_claims
    from mubench.report.glance import summary_line, verdict_kind

    claims = evaluate_claims(rows)
    caption = f"Conditions, figures per condition group and rules: {details}"
    out = Table(title="Claims of the paper", caption=escape(caption), caption_justify="left")
    out.add_column("#", justify="right", min_width=1)
    out.add_column("claim", overflow="fold", min_width=16)
    out.add_column("measured", overflow="fold", min_width=16)
    out.add_column("verdict", overflow="fold", min_width=13)  # "does not hold" on one line
    for i, claim in enumerate(claims, 1):
        style = VERDICT_STYLES[verdict_kind(claim.verdict)]
        verdict = f"[{style}]{escape(claim.verdict)}[/]"
        out.add_row(str(i), escape(claim.claim), escape(claim.summary), verdict)
    console.print(summary_line(claims), markup=False, highlight=False)
    console.print(WholeTable(out))
