"""Every numeric option's range, declared once: the CLI's parser gets it (``--help`` shows it) through
:func:`bounds`, and :func:`check_numbers` checks it for suites, Python callers and the conditions' own
constructors. Standard library only: every command's ``--help`` imports this."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mubench.errors import UsageError, opt


@dataclass(frozen=True)
class Range:
    """The values a numeric option accepts: the CLI's parser checks it (typer's min/max, from
    :meth:`parser_bounds`) and :func:`check_numbers` checks it for suites, Python callers and the
    conditions' own constructors."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is refused
    high_open: bool = False
    high_varies: bool = False  # the high bound depends on the machine: kept out of --help

    def parser_bounds(self) -> dict[str, Any]:
        """typer.Option's ``min``/``max``: closed bounds only (typer has no open ones; :func:`check_numbers`
        refuses an open bound's own value, and a high bound that varies by machine)."""
        high = None if self.high_open or self.high_varies else self.high
        return {"min": None if self.low_open else self.low, "max": high}

    def refusal(self, value: float) -> str | None:
        """Why ``value`` is refused, as "must be ..." ends (None: accepted)."""
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if not (below or above):
            return None
        counting = self.low in (0, 1) and not self.low_open and not isinstance(self.high, float)
        if self.high is None or counting:  # a count, or a number bounded below only
            if above:
                return f"at most {self.high:,}"
            if self.low == 0:
                return "positive" if self.low_open else "0 or more"
            return "positive" if self.low == 1 else f"at least {self.low:g}"
        low, high = (
            ("(" if self.low_open else "[") + f"{self.low:g}",
            f"{self.high:g}" + (")" if self.high_open else "]"),
        )
        return f"in {low}, {high}"


# Every numeric option's range, by name (an option means the same in every command). The largest whole
# numbers guard against typos and overflow: seeds are 64-bit, threads beyond a few per CPU only
# oversubscribe, worker processes are spawned one by one.
THREADS_PER_CPU = 4
RANGES: dict[str, Range] = {
    "batch_size": Range(1, 1 << 16), "resolution": Range(1, 1 << 14), "channels": Range(1, 1 << 12),
    "steps": Range(1, 1_000_000), "depth": Range(0, 64), "seed": Range(0, (1 << 63) - 1),
    "repeats": Range(1, 1_000_000), "trajectory_repeats": Range(0, 100_000), "warmup": Range(1, 100_000),
    "processes": Range(1, 64), "num_images": Range(1, 10_000_000), "ode_steps": Range(1, 1_000_000),
    "steps_sweep": Range(1, 1_000_000),
    "dims": Range(64, 2048), "kid_subsets": Range(1, 100_000), "kid_subset_size": Range(2, 1_000_000),
    "threads": Range(1, THREADS_PER_CPU * (os.cpu_count() or 1), high_varies=True),
    "sigma": Range(0.0, 1.0, low_open=True), "eta": Range(0), "ode_step_size": Range(0.0, 1.0, low_open=True),
    "rtol": Range(0, low_open=True), "atol": Range(0, low_open=True),
    # train
    "minutes": Range(0, low_open=True), "lr": Range(0, low_open=True),
    "grad_clip": Range(0, low_open=True), "ema_decay": Range(0.0, 1.0, high_open=True),
    "save_every": Range(1, 1_000_000),
    # compare
    "threshold": Range(0),  # a percentage
}  # fmt: skip


def bounds(name: str) -> dict[str, Any]:
    """The range of option ``name`` as typer.Option's keywords: the parser refuses values out of it."""
    return RANGES[name].parser_bounds()


def check_numbers(options: Mapping[str, Any]) -> None:
    """Numbers are finite and within their :data:`RANGES`: checked before anything is built, so that no
    value overflows or hangs later."""
    for name, value in options.items():
        values = value if isinstance(value, list | tuple) else [value]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
            raise UsageError(f"{opt(name)} must be a finite number, got {value}")
        if name not in RANGES:
            continue
        for v in numbers:
            why = RANGES[name].refusal(v)
            if why:
                raise UsageError(f"{opt(name)} must be {why}, got {v}")
