"""Reading a results folder for the report: its rows and environment, checked, or one line saying why not.

A folder's rows are those of its ``results.csv`` (a suite's combined file, when it has one) and of every
other result CSV in it, such as the files of ``mubench sample --csv DIR/sample.csv`` and ``mubench fid
--csv DIR/fid.csv``. The per-measurement CSVs a suite writes beside its ``results.csv`` repeat its rows
and are not read again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mubench.errors import UsageError
from mubench.results import SUITE_RESULTS, read_environment, read_results

RESULT_HEADER = {"command", "schema_version"}  # a CSV whose header lacks these is not a result file


def load_results(results_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rows and environment of a results folder or file; UsageError (one line) when there is nothing to
    read."""
    if not results_dir.exists():
        raise UsageError(f"no results folder '{results_dir}': give a folder holding results.csv")
    if results_dir.is_dir():
        rows, env = _read_folder(results_dir)
    else:
        rows, env = read_results(results_dir)  # numeric columns checked against the schema there
    if rows.empty:
        raise UsageError(f"'{results_dir}' holds no result rows: nothing to report")
    if "command" not in rows or "model" not in rows:
        raise UsageError(f"'{results_dir}' has no command/model columns: not a mubench result file")
    return rows, env


def result_files(folder: Path) -> list[Path]:
    """The result files of ``folder`` the report reads: ``results.csv`` first, then every other CSV
    with mubench's header, by name, less a suite's per-measurement copies of ``results.csv``."""
    from mubench.suite.runner import OUTPUTS

    combined = folder / SUITE_RESULTS
    skip = set(OUTPUTS) if combined.is_file() else set()
    others = [p for p in sorted(folder.glob("*.csv")) if p.name not in skip and p.name != SUITE_RESULTS]
    return ([combined] if combined.is_file() else []) + [p for p in others if _is_result_csv(p)]


def _is_result_csv(path: Path) -> bool:
    """The file's header names mubench's command and schema columns (a comparison table does not)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            header = handle.readline()
    except OSError:
        return True  # read_results says why in one line
    names = {name.strip().strip('"') for name in header.split(",")}
    return RESULT_HEADER.issubset(names)


def _read_folder(folder: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    files = result_files(folder)
    if not files:
        raise UsageError(
            f"no {SUITE_RESULTS} or other result CSV in '{folder}': give a folder written by mubench run, "
            "or one holding the --csv files of mubench commands"
        )
    frames = [read_results(path)[0] for path in files]  # each checked against the schema there
    return pd.concat(frames, ignore_index=True), read_environment(folder)
