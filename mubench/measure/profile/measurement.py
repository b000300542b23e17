"""The ``profile`` measurement: options -> :class:`ProfileConditions` -> rows per operator category."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mubench.measure.from_options import inference_mode_fields
from mubench.measure.measurement import KeepRows, Measured, Measurement, Progress
from mubench.options.catalog import PROFILE as PROFILE_OPTIONS

if TYPE_CHECKING:
    from mubench.measure.profile.conditions import ProfileConditions


def _conditions(models: Sequence[str], o: dict[str, Any], base: Path | None) -> ProfileConditions:
    from mubench.measure.profile.conditions import ProfileConditions
    from mubench.measure.runtime.device import resolve_device

    calls = {"calls": o["repeats"]} if "repeats" in o else {}
    conds = ProfileConditions(**inference_mode_fields(models, o, base), **calls)
    resolve_device(conds.device)  # a missing GPU is found before anything runs
    return conds


def _profile(
    models: Sequence[str], conds: ProfileConditions, run_id: str, tick: Progress, keep: KeepRows
) -> Measured:
    from mubench.measure.profile.run import measure_profile

    rows = measure_profile(list(models), conds, run_id, tick)
    keep(rows)
    return Measured(rows)


PROFILE = Measurement["ProfileConditions"]("profile", PROFILE_OPTIONS, _conditions, _profile)
