"""What each measurement's suite table accepts, and how one suite item turns into result rows.

A table's keys are the command's options without the dashes (``batch-size`` or ``batch_size``), from
the measurement's own declarations. A key marked as taking a list (``models``, ``reference``,
``steps-sweep``, ``checkpoint``, ``compile-option``, ``metric``) is passed as one value; any other key
given a list expands the table into one item per value (``batch-size = [1, 8]``: two items).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mubench.measure.failures import MODEL_FAILURES, failure_row
from mubench.measure.measurements import MEASUREMENTS, Measured, Measurement
from mubench.options import Option

Progress = Callable[[str], None]

__all__ = ["KEYS", "SUITE_PRESET", "conditions", "measure"]

# A suite gives the verdicts of the claims table, so a measurement's preset of this name applies to its
# tables unless they name another (latency's: 3 worker processes, for the between-process spread those
# verdicts respect); a key the table gives wins over it.
SUITE_PRESET = "rigorous"
MODELS = {
    "models": Option("models", str, "The models measured together.", is_list=True),
    "note": Option("note", str, "A note carried into the item's rows."),
}
KEYS: dict[str, dict[str, Option]] = {
    name: {**MODELS, **{option.key: option for option in m.options}} for name, m in MEASUREMENTS.items()
}


def conditions(measurement: Measurement, opts: dict[str, Any], base: Path) -> Any:
    """The measurement's conditions object (validated: bad values raise UsageError)."""
    options = {key.replace("-", "_"): value for key, value in opts.items() if key not in MODELS}
    if SUITE_PRESET in measurement.presets:
        options.setdefault("preset", SUITE_PRESET)
    return measurement.conditions(opts["models"], options, base)


def measure(measurement: Measurement, models: list[str], conds: Any, run_id: str, tick: Progress) -> Measured:
    """The rows of one suite item (and flops' per-module breakdowns); if it fails as a whole, one error
    row per model (the suite goes on: in a suite even bad input found this late, such as a missing
    dataset, must not stop the rest)."""
    try:
        return measurement.measure(models, conds, run_id, tick)
    except MODEL_FAILURES as exc:
        known = measurement.failure_fields(conds)
        return Measured([failure_row(measurement.name, run_id, name, exc, **known) for name in models])
