"""Every measurement by name: the one table the CLI commands, suites and the Python API dispatch through.

from mubench.measure.measurements import measurement

latency = measurement("latency")
conds = latency.conditions(["lucid-unet", "ode-u"], {"batch_size": 8})
rows = latency.measure(["lucid-unet", "ode-u"], conds, run_id="r1").rows
"""

from __future__ import annotations

from mubench.errors import UsageError
from mubench.measure.counting.measurement import FLOPS, PARAMS
from mubench.measure.latency.measurement import LATENCY
from mubench.measure.measurement import Measured, Measurement
from mubench.measure.profile.measurement import PROFILE
from mubench.measure.robustness.measurement import ROBUSTNESS

__all__ = ["MEASUREMENTS", "Measured", "Measurement", "measurement"]

MEASUREMENTS: dict[str, Measurement] = {m.name: m for m in (PARAMS, FLOPS, LATENCY, PROFILE, ROBUSTNESS)}


def measurement(name: str) -> Measurement:
    """The measurement called ``name``."""
    try:
        return MEASUREMENTS[name]
    except KeyError:
        raise UsageError(f"unknown measurement '{name}'; choose one of {', '.join(MEASUREMENTS)}") from None
