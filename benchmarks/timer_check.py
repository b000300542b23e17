"""Benchmark: mubench's latency timer against torch.utils.benchmark's blocked_autorange, same workload.

Target: medians within 5% on CPU. For each workload (one denoiser call of a model), both
timers measure it alternately, ``--rounds`` times each, and the medians of their medians are compared.
One row per workload, in mubench's result schema (readable by ``mubench compare``).

    python benchmarks/timer_check.py [--device cpu] [--out results/cpu/timer_check.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
import torch.utils.benchmark as tbench

from mubench.measure import LatencyConditions
from mubench.measure.runtime.device import NumericFlags
from mubench.measure.runtime.prepare import prepare
from mubench.measure.runtime.timing import Timer
from mubench.results import benchmark_row, new_run_id, write_benchmark

TOLERANCE = 0.05
WORKLOADS = (("lucid-unet-tiny", 32), ("ode-u-tiny", 32), ("ode-u", 64), ("lucid-unet", 64))


def mubench_median_ms(call, calls_per_sample: int, timer: Timer, samples: int) -> float:
    return statistics.median(timer(call, calls_per_sample) for _ in range(samples))


def torch_median_ms(call, min_run_time: float) -> float:
    # torch's Timer runs on one thread unless told otherwise: give it the threads mubench uses.
    timer = tbench.Timer(stmt="call()", globals={"call": call}, num_threads=torch.get_num_threads())
    measurement = timer.blocked_autorange(min_run_time=min_run_time)
    return measurement.median * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("results/cpu/timer_check.json"))
    args = parser.parse_args()

    device = torch.device(args.device)
    NumericFlags().apply()
    run_id, rows = new_run_id(), []
    for name, resolution in WORKLOADS:
        c = prepare(name, LatencyConditions(device=args.device), device, torch.float32, resolution)
        timer = Timer(device)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(mubench_median_ms(c.call, c.calls_per_sample, timer, args.samples))
            theirs.append(torch_median_ms(c.call, min_run_time=max(1.0, ours[-1] * args.samples / 1e3)))
        ours_ms, theirs_ms = statistics.median(ours), statistics.median(theirs)
        ratio = ours_ms / theirs_ms
        rows.append(benchmark_row("timer_check", "mubench Timer / blocked_autorange", run_id, args.device,
                                  model=name, resolution=resolution, call_ms_median=round(ours_ms, 4),
                                  reference_ms_median=round(theirs_ms, 4), ratio=round(ratio, 4),
                                  n_runs=args.rounds, target=TOLERANCE,
                                  within_target=abs(ratio - 1) <= TOLERANCE))  # fmt: skip
        print(f"{name:16s} {resolution}px  mubench {ours_ms:9.3f} ms  blocked_autorange {theirs_ms:9.3f} ms  "
              f"ratio {ratio:.4f}")  # fmt: skip
    write_benchmark(rows, args.out, args.device)
    return 0 if all(r["within_target"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
