"""Timing primitives: synchronised timers, warm-up until stable, summary statistics, CUDA peak memory."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

UNSTABLE_IQR_RATIO = 0.10  # a sample is flagged unstable when IQR / median exceeds this


class Timer:
    """Times ``fn`` run ``n`` times back to back: CUDA events on GPU, perf_counter with sync on CPU."""

    def __init__(self, device: torch.device):
        self.device = device

    def __call__(self, fn: Callable[[], object], n: int = 1) -> float:
        """Milliseconds per run of ``fn``, averaged over ``n`` back-to-back runs."""
        if self.device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(n):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / n
        begin = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - begin) * 1e3 / n


@dataclass
class WarmupReport:
    iterations: int
    last_ms: float
    stable: bool


def warm_up(
    timer: Timer,
    fn: Callable[[], object],
    min_iterations: int = 3,
    max_seconds: float = 30.0,
    window: int = 3,
    tolerance: float = 0.05,
) -> WarmupReport:
    """Run ``fn`` at least ``min_iterations`` times, then until the last ``window`` timings lie within
    ``tolerance`` of their median, or ``max_seconds`` have passed (the first call, which may compile,
    does not count towards stability)."""
    times: list[float] = []
    begin = time.perf_counter()
    while True:
        times.append(timer(fn))
        recent = times[1:][-window:]
        if len(times) >= max(min_iterations, window + 1):
            mid = statistics.median(recent)
            if all(abs(t - mid) <= tolerance * mid for t in recent):
                return WarmupReport(len(times), times[-1], True)
        if time.perf_counter() - begin > max_seconds and len(times) >= min_iterations:
            return WarmupReport(len(times), times[-1], False)


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's default) of ``values``."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(values: list[float], prefix: str) -> dict[str, float]:
    """median, p10, p90, IQR, mean, std, min and whether the spread is unstable, of ``values``, as
    ``{prefix}_median`` ... columns."""
    median = statistics.median(values)
    iqr = quantile(values, 0.75) - quantile(values, 0.25)
    return {
        f"{prefix}_median": median,
        f"{prefix}_p10": quantile(values, 0.10),
        f"{prefix}_p90": quantile(values, 0.90),
        f"{prefix}_iqr": iqr,
        f"{prefix}_mean": statistics.fmean(values),
        f"{prefix}_std": statistics.stdev(values) if len(values) > 1 else 0.0,
        f"{prefix}_min": min(values),
        f"{prefix}_unstable": bool(median and iqr / median > UNSTABLE_IQR_RATIO),
    }


class PeakMemory:
    """Peak memory that torch's CUDA caching allocator held while the code inside ran, in MiB (reset on
    entry; weights and inputs included). Not measured on the CPU, whose allocator keeps what it freed:
    :mod:`mubench.measure.counting.live_memory` counts what a call's tensors need on any device."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_mib: float | None = None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mib = torch.cuda.max_memory_allocated(self.device) / 2**20
