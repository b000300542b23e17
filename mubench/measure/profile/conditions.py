"""The conditions of a profile: the inference mode latency times, and how many warmed-up calls are
profiled."""

from __future__ import annotations

from dataclasses import dataclass

from mubench.errors import UsageError, opt
from mubench.measure.runtime.mode import InferenceMode


@dataclass(frozen=True)
class ProfileConditions(InferenceMode):
    """The inference mode and inputs every model is profiled in, and the calls profiled."""

    calls: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.calls <= 0:
            raise UsageError(f"{opt('repeats')} must be positive, got {self.calls}")
        if self.cuda_graphs:
            raise UsageError("a profile cannot see inside CUDA graph replays")
