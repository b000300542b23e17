"""Measurements, in rooms by job: ``counting/`` (parameters, MACs, bytes), ``runtime/`` (devices, rates,
timing, the inference mode, preparing a model), ``latency/``, ``profile/`` and ``robustness/``.

The entry points and their conditions are importable from here (``from mubench.measure import
measure_latency, LatencyConditions``); each is imported on first use, so that this package costs
nothing to import.
"""

from __future__ import annotations

import importlib
from typing import Any

_ENTRY_POINTS = {
    "measure_params": "mubench.measure.counting.params",
    "FlopConditions": "mubench.measure.counting.flops",
    "measure_flops": "mubench.measure.counting.flops",
    "InferenceMode": "mubench.measure.runtime.mode",
    "LatencyConditions": "mubench.measure.latency.conditions",
    "default_steps": "mubench.measure.latency.conditions",
    "measure_latency": "mubench.measure.latency.run",
    "ProfileConditions": "mubench.measure.profile.conditions",
    "measure_profile": "mubench.measure.profile.run",
    "RobustnessConditions": "mubench.measure.robustness.conditions",
    "measure_robustness": "mubench.measure.robustness.run",
    "denoise_images": "mubench.measure.robustness.denoise",
}
__all__ = sorted(_ENTRY_POINTS)


def __getattr__(name: str) -> Any:
    if name not in _ENTRY_POINTS:
        raise AttributeError(f"module 'mubench.measure' has no attribute '{name}'")
    return getattr(importlib.import_module(_ENTRY_POINTS[name]), name)
