"""Benchmark: how far is each model from its roofline on this device, and what stands between?

For each configuration (dtype x batch size) every model is timed side by side in one ``measure_latency``
run per inference mode; each row carries the device's measured peak rate and bandwidth, the model's
``roofline_ms`` (sum over its aten operators of max(FLOPs / peak, bytes / bandwidth), unfused) and
``latency_over_roofline``. Per configuration and model the summary keeps the fastest mode, and names the
operators that make up most of the roofline (which of them are bound by memory, which by arithmetic).
Target: lucid-unet at batch 8 within 2x of its roofline on the CPU.

    python benchmarks/roofline.py                      # CPU: batch 1 and 8, fp32, 64x64
    python benchmarks/roofline.py --device cuda        # GPU: batch 1 and 64, fp32 and bf16
    python benchmarks/roofline.py --models lucid-unet-tiny ode-u-tiny --resolution 32 --repeats 3 \\
        --modes eager --out /tmp/roofline
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
import torch

from mubench.measure import LatencyConditions, measure_latency
from mubench.measure.counting.traffic import op_calls
from mubench.measure.runtime.build import build_model, example_inputs, inference_contexts
from mubench.measure.runtime.device import resolve_device, resolve_dtype
from mubench.measure.runtime.rates import device_rates
from mubench.models.solver_config import SolverConfig
from mubench.registry import get_spec
from mubench.results import full_environment, new_run_id, write_csv, write_text_atomic

TARGET = {"model": "lucid-unet", "batch_size": 8, "device": "cpu", "latency_over_roofline": 2.0}
TOP_OPS = 6

# (label, LatencyConditions overrides): eager, and the fastest CPU modes benchmarks/ode_speed.py found
CPU_MODES = (
    ("eager", {}),
    (
        "compile(cpp_wrapper=True)+channels_last+prepack",
        {
            "compile": True,
            "channels_last": True,
            "prepack": True,
            "compile_options": (("cpp_wrapper", True),),
        },
    ),
    (
        "compile(layout_optimization=False)+channels_last+prepack",
        {
            "compile": True,
            "channels_last": True,
            "prepack": True,
            "compile_options": (("layout_optimization", False),),
        },
    ),
)
GPU_MODES = (
    ("eager", {}),
    ("compile", {"compile": True}),
    ("compile+cuda_graphs", {"compile": True, "cuda_graphs": True}),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", nargs="+", default=["lucid-unet", "ode-u", "ddpm-unet"])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--dtypes", nargs="+", default=None)
    parser.add_argument("--modes", nargs="+", default=None, help="subset of the mode labels")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="folder (default results/<cpu|gpu>/)")
    args = parser.parse_args()

    gpu = args.device.startswith("cuda")
    batch_sizes = args.batch_sizes or ([1, 64] if gpu else [1, 8])
    dtypes = args.dtypes or (["fp32", "bf16"] if gpu else ["fp32"])
    modes = [m for m in (GPU_MODES if gpu else CPU_MODES) if args.modes is None or m[0] in args.modes]
    out = args.out or Path("results") / ("gpu" if gpu else "cpu")
    out.mkdir(parents=True, exist_ok=True)

    rows: list[dict] = []
    for dtype, batch, (label, overrides) in itertools.product(dtypes, batch_sizes, modes):
        if overrides.get("prepack") and dtype != "fp32":
            continue
        conds = LatencyConditions(
            device=args.device,
            dtype=dtype,
            batch_size=batch,
            resolution=args.resolution,
            repeats=args.repeats,
            trajectory_repeats=0,
            warmup_max_s=120.0,
            solver=SolverConfig(backend="fixed"),
            **overrides,
        )
        found = measure_latency(list(args.models), conds, new_run_id())
        for row in found:
            row.update(bench_mode=label)
            print(_line(row, dtype, batch, label), flush=True)
        rows += found
        write_csv(pd.DataFrame(rows), out / "roofline.csv")  # each measurement kept as it comes

    summary = _summary(pd.DataFrame(rows), args)
    write_text_atomic(
        out / "roofline.json",
        json.dumps(
            {"target": TARGET, "summary": summary, "environment": full_environment(args.device)}, indent=2
        )
        + "\n",
    )
    print("\nfastest mode of each model, against its roofline; the operators that make up most of it:")
    for s in summary:
        print(
            f"  {s['dtype']} batch {s['batch_size']:3d} {s['model']:12s} {s['call_ms']:9.2f} ms "
            f"in {s['mode']}, "
            f"roofline {s['roofline_ms']:8.2f} ms, x{s['latency_over_roofline']:.2f}, "
            f"{100 * s['achieved_share']:.0f}% of peak"
        )
        for op in s["roofline_top_ops"]:
            print(
                f"      {op['op']:40s} {100 * op['share_of_roofline']:5.1f}% of the roofline, "
                f"bound by {op['bound_by']}"
            )
    verdicts = [
        s for s in summary if all(s.get(k) == v for k, v in TARGET.items() if k != "latency_over_roofline")
    ]
    for s in verdicts:
        met = s["latency_over_roofline"] <= TARGET["latency_over_roofline"]
        print(
            f"\ntarget: {s['model']} batch {s['batch_size']} within {TARGET['latency_over_roofline']}x "
            f"of its roofline: {'met' if met else 'not met'} (x{s['latency_over_roofline']:.2f})"
        )
    return 0


def _line(row: dict, dtype: str, batch: int, label: str) -> str:
    if row["status"] != "ok":
        return f"{dtype} b{batch} {label}: {row['model']} failed: {row['message']}"
    return (
        f"{dtype} b{batch:<3d} {label:58s} {row['model']:12s} {row['call_ms_median']:9.2f} ms  "
        f"roofline {row['roofline_ms']:8.2f} ms  x{row['latency_over_roofline']:.2f}  "
        f"{100 * row['achieved_share']:.0f}% of {row['device_matmul_gflops']:.0f} GFLOP/s, "
        f"{row['device_bandwidth_gbps']:.1f} GB/s"
    )


def _roofline_by_op(
    model_name: str, device_name: str, dtype_name: str, batch: int, resolution: int
) -> list[dict]:
    """The operators of one eager call, grouped, by their share of the roofline, largest first."""
    device = resolve_device(device_name)
    dtype = resolve_dtype(dtype_name, device)
    rates = device_rates(device, dtype)  # the run's: cached in this process
    spec = get_spec(model_name)
    model = build_model(spec, spec.channels, SolverConfig(backend="fixed"), 0).to(device)
    x, t = example_inputs(batch, spec.channels, resolution, 0, str(device))
    with inference_contexts(device, dtype)():
        calls = op_calls(lambda: model(x, t))
    peak, bandwidth = rates.peak_gflops * 1e9, rates.bandwidth_gbps * 1e9
    seconds: dict[str, list[float]] = defaultdict(
        lambda: [0.0, 0.0]
    )  # op -> [compute-bound s, memory-bound s]
    for c in calls:
        compute, memory = c.flops / peak, c.bytes / bandwidth
        seconds[c.op][compute < memory] += max(compute, memory)
    whole = sum(sum(v) for v in seconds.values())
    ranked = sorted(seconds.items(), key=lambda kv: -sum(kv[1]))[:TOP_OPS]
    return [
        {"op": op, "share_of_roofline": sum(s) / whole, "bound_by": "memory" if s[1] > s[0] else "arithmetic"}
        for op, s in ranked
    ]


def _summary(frame: pd.DataFrame, args: argparse.Namespace) -> list[dict]:
    ok = frame[frame["status"] == "ok"]
    summary = []
    for (dtype, batch, model), group in ok.groupby(["dtype", "batch_size", "model"], sort=False):
        best = group.nsmallest(1, "call_ms_median").iloc[0]
        summary.append(
            {
                "device": args.device.split(":")[0],
                "dtype": dtype,
                "batch_size": int(batch),
                "model": model,
                "mode": best["bench_mode"],
                "call_ms": best["call_ms_median"],
                "roofline_ms": best["roofline_ms"],
                "latency_over_roofline": best["latency_over_roofline"],
                "achieved_share": best["achieved_share"],
                "device_matmul_gflops": best["device_matmul_gflops"],
                "device_peak_kernel": best["device_peak_kernel"],
                "device_bandwidth_gbps": best["device_bandwidth_gbps"],
                "bytes_unfused": int(best["bytes_unfused"]),
                "peak_activation_mib": best["peak_activation_mib"],
                "eager_call_ms": group[group["bench_mode"] == "eager"]["call_ms_median"].min(),
                "roofline_top_ops": _roofline_by_op(model, args.device, dtype, int(batch), args.resolution),
            }
        )
    return summary


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    sys.exit(main())
