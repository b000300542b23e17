"""Reading a results folder for the report: its rows and environment, checked, or one line saying why not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mubench.errors import UsageError
from mubench.results import SUITE_RESULTS, read_results


def load_results(results_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rows and environment of a results folder; UsageError (one line) when there is nothing to read."""
    if not results_dir.exists():
        raise UsageError(f"no results folder '{results_dir}': give a folder holding results.csv")
    if results_dir.is_dir() and not (results_dir / SUITE_RESULTS).is_file():
        raise UsageError(f"no {SUITE_RESULTS} in '{results_dir}': give a folder written by mubench run")
    rows, env = read_results(results_dir)  # numeric columns checked against the schema there
    if rows.empty:
        raise UsageError(f"'{results_dir}' holds no result rows: nothing to report")
    if "command" not in rows or "model" not in rows:
        raise UsageError(f"'{results_dir}' has no command/model columns: not a mubench result file")
    return rows, env
