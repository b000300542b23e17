"""The ``latency`` measurement: options -> :class:`LatencyConditions` -> one row per model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mubench.measure.from_options import inference_mode_fields, with_checkpoints
from mubench.measure.measurement import KeepRows, Measured, Measurement, Progress
from mubench.options.catalog import LATENCY as LATENCY_OPTIONS

if TYPE_CHECKING:
    from mubench.measure.latency.conditions import LatencyConditions


def _conditions(models: Sequence[str], o: dict[str, Any], base: Path | None) -> LatencyConditions:
    from mubench.measure.latency.conditions import LatencyConditions, default_steps
    from mubench.measure.runtime.device import resolve_device

    timed = {k: o[k] for k in ("sampler", "eta", "repeats", "trajectory_repeats", "processes") if k in o}
    conds = LatencyConditions(
        **inference_mode_fields(models, o, base),
        **timed,
        steps=o.get("steps", default_steps(o.get("sampler", "ddim"))),
    )
    resolve_device(conds.device)  # a missing GPU is found before anything runs
    return conds


def _time(
    models: Sequence[str], conds: LatencyConditions, run_id: str, tick: Progress, keep: KeepRows
) -> Measured:
    from mubench.measure.latency.run import measure_latency

    rows = with_checkpoints(measure_latency(list(models), conds, run_id, tick), conds.checkpoints)
    keep(rows)
    return Measured(rows)


# rigorous: the verdicts of the claims table respect the between-process spread, so suites measure it.
PRESETS = {"default": {}, "rigorous": {"processes": 3}}
LATENCY = Measurement["LatencyConditions"](
    "latency", LATENCY_OPTIONS, _conditions, _time, together=True, presets=PRESETS
)
