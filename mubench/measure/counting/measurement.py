"""The ``params`` and ``flops`` measurements: options -> conditions -> rows, one model at a time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mubench.errors import UsageError, opt
from mubench.measure.failures import run_item
from mubench.measure.from_options import checkpoint_pairs, shared_resolution, solver_config, with_checkpoints
from mubench.measure.measurement import KeepRows, Measured, Measurement, Progress, Rows
from mubench.options.catalog import FLOPS as FLOPS_OPTIONS

if TYPE_CHECKING:
    from mubench.measure.counting.flops import FlopConditions


def _no_conditions(models: Sequence[str], options: dict[str, Any], base: Path | None) -> None:
    return None


def _count_params(
    models: Sequence[str], conds: None, run_id: str, tick: Progress, keep: KeepRows
) -> Measured:
    from mubench.measure.counting.params import measure_params

    rows: Rows = []
    for name in models:
        rows += run_item("params", run_id, name, lambda name=name: [measure_params(name, run_id)])
        keep(rows)
        tick(name)
    return Measured(rows)


def _flop_conditions(models: Sequence[str], o: dict[str, Any], base: Path | None) -> FlopConditions:
    from mubench.measure.counting.flops import FlopConditions
    from mubench.registry import get_spec

    channels = o.get("channels")
    for name in models:
        spec = get_spec(name)
        if channels is not None and channels != spec.channels and not spec.channels_configurable:
            raise UsageError(f"{opt('channels')} cannot be changed for {spec.family} model '{spec.name}'")
    keys = ("batch_size", "channels", "steps", "seed", "tier", "depth", "weights")
    return FlopConditions(resolution=shared_resolution(models, o.get("resolution")),
                          solver=solver_config(o), checkpoints=checkpoint_pairs(models, o, base),
                          **{k: o[k] for k in keys if k in o})  # fmt: skip


def _flop_fields(conds: FlopConditions) -> dict[str, Any]:
    return {"resolution": conds.resolution, "batch_size": conds.batch_size, "steps": conds.steps}


def _count_flops(
    models: Sequence[str], conds: FlopConditions, run_id: str, tick: Progress, keep: KeepRows
) -> Measured:
    from mubench.measure.counting.flops import measure_flops

    rows: Rows = []
    breakdowns: list[Any] = []
    for name in models:

        def count(name: str = name) -> Rows:
            found, breakdown = measure_flops(name, conds, run_id)
            breakdowns.append(breakdown)
            return found

        rows += with_checkpoints(
            run_item("flops", run_id, name, count, **_flop_fields(conds)), conds.checkpoints
        )
        keep(rows)
        tick(name)
    return Measured(rows, breakdowns)


PARAMS = Measurement[None]("params", (), _no_conditions, _count_params)
FLOPS = Measurement["FlopConditions"](
    "flops", FLOPS_OPTIONS, _flop_conditions, _count_flops, failure_fields=_flop_fields
)
