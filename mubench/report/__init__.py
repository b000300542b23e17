"""`mubench report`: a Markdown and a self-contained HTML report, with PNG plots, from a results folder.

It reads result rows (``results.csv`` + ``environment.json``) and never measures anything. This module
runs the steps in order: :mod:`~mubench.report.input` reads the folder, :mod:`~mubench.report.plots`
draws, :mod:`~mubench.report.sections` makes the document and :mod:`~mubench.report.output` writes it.
Each measurement's row selection, section, plots and claim live together in its module under
:mod:`mubench.report.measurements`; the rows, verdicts, tables and figures modules hold what they share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mubench.report import plots
from mubench.report.input import load_results
from mubench.report.output import prepare_out_dir, write_report
from mubench.report.sections import make_document

__all__ = ["load_results", "make_document", "prepare_out_dir", "render_report"]

STEPS = len(plots.PLOTS) + 1  # progress: one tick per plot, one for writing the documents


def render_report(
    rows: pd.DataFrame,
    env: Mapping[str, Any],
    out_dir: Path,
    source: Path,
    tick: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write report.md, report.html and plots/*.png for ``rows`` into ``out_dir`` (made ready by
    :func:`prepare_out_dir`); returns the files written. ``tick(label)`` after each of the STEPS steps."""
    images = {}
    for name, plot in plots.PLOTS.items():
        png = plot(rows)
        if png is not None:
            images[name] = png
        if tick:
            tick(name)
    title = f"mubench report: {source.resolve().name}"
    written = write_report(make_document(rows, env, images, title=title, source=source), out_dir)
    if tick:
        tick("documents")
    return written
