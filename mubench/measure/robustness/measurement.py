"""The ``robustness`` measurement: options -> :class:`RobustnessConditions` -> rows per model, reference
and noise level."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mubench.errors import UsageError, opt
from mubench.measure.from_options import checkpoint_pairs, relative_to, step_counts
from mubench.measure.measurement import KeepRows, Measured, Measurement, Progress
from mubench.options.catalog import ROBUSTNESS as ROBUSTNESS_OPTIONS

# Options whose value the conditions take as they are.
_AS_GIVEN = ("dataset", "num_images", "sampler", "steps", "eta", "seed", "allow_untrained", "prefault",
             "weights", "prediction", "lpips_net", "device", "dtype", "batch_size", "compile",
             "channels_last")  # fmt: skip


if TYPE_CHECKING:
    from mubench.measure.robustness.conditions import RobustnessConditions


def _conditions(models: Sequence[str], o: dict[str, Any], base: Path | None) -> RobustnessConditions:
    from mubench.distributed import launched
    from mubench.measure.robustness.conditions import RobustnessConditions, metric_plan
    from mubench.measure.robustness.weights import checkpoint_paths
    from mubench.measure.runtime.device import resolve_device

    given = {k: o[k] for k in _AS_GIVEN if k in o}
    if "reference" in o:
        given["references"] = tuple(o["reference"])
    if "steps_sweep" in o:
        given["steps_sweep"] = step_counts(o["steps_sweep"])
    if "data_root" in o:
        given["data_root"] = relative_to(base, str(o["data_root"]))
    if "metric" in o:
        if not o["metric"]:
            raise UsageError(f"'{opt('metric')}' is an empty list; leave it out for every metric available")
        given["metrics"] = tuple(sorted(set(o["metric"])))
    if "lpips_backbone" in o:
        given["lpips_backbone"] = relative_to(base, str(o["lpips_backbone"]))
    sigma = o.get("sigma", (0.1,))
    conds = RobustnessConditions(
        sigmas=tuple(sigma) if isinstance(sigma, list | tuple) else (sigma,),
        checkpoints=checkpoint_pairs(models, o, base),
        **given,
    )
    resolve_device(launched().device(conds.device))  # a missing GPU is found before anything runs
    checkpoint_paths(list(models), conds)  # weights for every model, before anything runs
    metric_plan(conds)  # LPIPS asked for: its backbone file is there
    return conds


def _denoise(
    models: Sequence[str], conds: RobustnessConditions, run_id: str, tick: Progress, keep: KeepRows
) -> Measured:
    from mubench.measure.robustness.run import measure_robustness

    return Measured(measure_robustness(list(models), conds, run_id, tick, on_rows=keep))


def _failure_fields(conds: RobustnessConditions) -> dict[str, Any]:
    return {"sigma": conds.sigmas[0], "dataset": conds.dataset}


def _notes(conds: RobustnessConditions) -> list[str]:
    """LPIPS left out for want of its backbone file, naming the exact path to put it at."""
    from mubench.measure.robustness.conditions import metric_plan

    try:
        _, note = metric_plan(conds)
    except UsageError:  # LPIPS asked for without its file: the run's error rows say so
        return []
    return [note] if note else []


ROBUSTNESS = Measurement["RobustnessConditions"](
    "robustness",
    ROBUSTNESS_OPTIONS,
    _conditions,
    _denoise,
    together=True,
    failure_fields=_failure_fields,
    notes=_notes,
)
