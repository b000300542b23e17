"""Check (GPU): does `mubench profile` count each kernel's time once?

For each model, prepared as latency prepares it (mode flags applied: TF32 off by default), this times
calls without the profiler, then profiles ``--calls`` calls and prints per call: the wall time; the sum
of torch's per-event kernel lists (``FunctionEvent.kernels``, what mubench summed before), with how
many kernels they list; the raw device kernels from the profiler's own events, their summed durations
the streams; and what mubench's attribution (``mubench.measure.profile.profiler``) sums to, kernels alone
(each counting only the time no earlier kernel ran) and with the idle time. The attribution is right
when the latter equals the wall time and the kernels alone stay within the raw kernels' sum.

    python benchmarks/gpu_profile_attribution.py --device cuda --batch-size 64
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from mubench.measure import LatencyConditions
from mubench.measure.profile.profiler import CALL_ANNOTATION, DEVICE_IDLE, attribute_kernels, device_kernels
from mubench.measure.runtime.prepare import prepare
from mubench.models.solver_config import SolverConfig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", nargs="+", default=["lucid-unet", "ode-u"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type != "cuda":
        parser.error("this check reads CUDA kernels: give --device cuda")
    for name in args.models:
        conds = LatencyConditions(
            device=args.device, batch_size=args.batch_size, solver=SolverConfig(backend="fixed")
        )
        conds.flags.apply()
        prepared = prepare(name, conds, device, torch.float32, args.resolution)
        torch.cuda.synchronize(device)
        begin = time.perf_counter()
        for _ in range(5):
            prepared.call()
        torch.cuda.synchronize(device)
        plain_ms = (time.perf_counter() - begin) * 1e3 / 5

        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            torch.cuda.synchronize(device)
            begin = time.perf_counter()
            for _ in range(args.calls):
                with record_function(CALL_ANNOTATION):
                    prepared.call()
            torch.cuda.synchronize(device)
            wall_ms = (time.perf_counter() - begin) * 1e3 / args.calls
        per_call = 1e6 * args.calls  # ns -> ms per call
        listed = [k for e in prof.events() for k in getattr(e, "kernels", ())]
        kernels = device_kernels(prof)
        streams: dict[int, float] = defaultdict(float)
        for raw in prof.profiler.kineto_results.events():
            if raw.device_type() == torch.autograd.DeviceType.CUDA and raw.linked_correlation_id() > 0:
                streams[raw.device_resource_id()] += raw.duration_ns() / per_call
        ops = attribute_kernels(kernels, args.calls, wall_ms)
        busy = sum(op.ms for op in ops if op.name != DEVICE_IDLE)
        raw_ms = sum(k.end_ns - k.start_ns for k in kernels) / per_call
        print(
            f"{name} batch {args.batch_size}: {plain_ms:.2f} ms per call unprofiled, {wall_ms:.2f} profiled; "
            f"torch's kernel lists {sum(k.duration for k in listed) / 1e3 / args.calls:.2f} ms "
            f"({len(listed) / args.calls:.0f} kernels); raw kernels "
            f"{raw_ms:.2f} ms ({len(kernels) / args.calls:.0f}), "
            f"mubench's kernels (time no earlier kernel ran) {busy:.2f} ms, "
            f"with idle {sum(op.ms for op in ops):.2f} ms"
        )
        print("  ms per call by stream:", {s: round(ms, 2) for s, ms in streams.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
