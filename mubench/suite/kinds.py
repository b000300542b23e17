"""What each measurement of a suite accepts, and how one suite item turns into result rows.

A table's keys are the command's options without the dashes (``batch-size`` or ``batch_size``),
declared once in :mod:`mubench.measure.api` for both. A key marked as taking a list (``models``,
``reference``, ``steps-sweep``, ``checkpoint``, ``compile-option``, ``metric``) is passed as one value;
any other key given a list expands the table into one item per value (``batch-size = [1, 8]``: two
items).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mubench.measure.api import OPTIONS, TOGETHER, Measured, Option
from mubench.measure.api import conditions as api_conditions
from mubench.measure.api import measure as api_measure
from mubench.measure.runner import MODEL_FAILURES, failure_row

Rows = list[dict[str, Any]]
Progress = Callable[[str], None]
Key = Option  # a suite key is an option of the measurement

__all__ = ["KEYS", "SUITE_PROCESSES", "TOGETHER", "Key", "conditions", "measure"]

# Worker processes per latency item when a table does not say: suites give the verdicts of the claims
# table, so they measure the between-process spread those verdicts respect (the command's default is 1).
SUITE_PROCESSES = 3
MODELS = {"models": Option(str, is_list=True), "note": Option(str)}
KEYS: dict[str, dict[str, Option]] = {
    kind: {**MODELS, **{name.replace("_", "-"): option for name, option in options.items()}}
    for kind, options in OPTIONS.items()
}


def conditions(kind: str, opts: dict[str, Any], base: Path) -> Any:
    """The measurement's conditions object (validated: bad values raise UsageError); None for params."""
    options = {key.replace("-", "_"): value for key, value in opts.items() if key not in MODELS}
    if kind == "latency":
        options.setdefault("processes", SUITE_PROCESSES)
    return api_conditions(kind, opts["models"], options, base)


def measure(kind: str, models: list[str], conds: Any, run_id: str, tick: Progress) -> Measured:
    """The rows of one suite item (and flops' per-module breakdowns); if it fails as a whole, one error
    row per model (the suite goes on: in a suite even bad input found this late, such as a missing
    dataset, must not stop the rest)."""
    known: dict[str, Any] = {}
    if kind == "flops":
        known = {"resolution": conds.resolution, "batch_size": conds.batch_size, "steps": conds.steps}
    elif kind == "robustness":
        known = {"sigma": conds.sigmas[0], "dataset": conds.dataset}
    try:
        return api_measure(kind, models, conds, run_id, tick)
    except MODEL_FAILURES as exc:
        return Measured([failure_row(kind, run_id, name, exc, **known) for name in models], [])
