"""`mubench latency`'s entry point: the measurement in this process, or in fresh worker processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mubench.measure.latency.conditions import LatencyConditions
from mubench.measure.latency.in_process import measure_here
from mubench.measure.latency.workers import measure_in_workers


def measure_latency(
    names: list[str],
    conds: LatencyConditions,
    run_id: str,
    on_progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Time every model of ``names`` under ``conds``; one row per model (failures included).

    With ``conds.processes`` > 1 the whole measurement runs in that many fresh worker processes, one
    after another, and each model's row summarises them (see :mod:`mubench.measure.latency.workers`).
    """
    if conds.processes > 1:
        return measure_in_workers(names, conds, run_id, on_progress)
    rows, _ = measure_here(names, conds, run_id, on_progress)
    return rows
