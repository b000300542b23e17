"""Benchmark (issue 6): how close does ode-u's speed come to what its MACs allow, against lucid-unet?

For each configuration (batch size x dtype) and inference mode, both models are timed side by side in
one `measure_latency` run (same conditions, round-robin). Reported per configuration:

- per mode: ode-u / lucid-unet per-call latency, their MACs ratio, and latency ratio / MACs ratio;
- best: each model's fastest mode, and ratio of those (target: at most 1.25 x the MACs ratio). The
  two best modes may come from different runs (each run interleaves its two models; runs follow one
  another), so the best-mode ratio is less drift-proof than the per-mode ones.

    python benchmarks/ode_speed.py                      # CPU: batch 1 and 8, fp32
    python benchmarks/ode_speed.py --device cuda        # GPU: batch 1 and 64, fp32 and bf16
    python benchmarks/ode_speed.py --models lucid-unet-tiny ode-u-tiny --resolution 32 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from mubench.measure.latency import LatencyConditions, measure_latency
from mubench.models.ode_block import SolverConfig
from mubench.results import full_environment, new_run_id, write_csv, write_text_atomic

TARGET = 1.25  # latency ratio may exceed the MACs ratio by at most this factor

# (label, LatencyConditions overrides, ODE solver backend)
CPU_MODES = (
    ("eager/torchdiffeq", {}, "torchdiffeq"),
    ("eager/fixed", {}, "fixed"),
    ("channels_last/fixed", {"channels_last": True}, "fixed"),
    ("compile/fixed", {"compile": True}, "fixed"),
    ("compile+channels_last/fixed", {"compile": True, "channels_last": True}, "fixed"),
)
GPU_MODES = (
    *CPU_MODES,
    ("cuda_graphs/fixed", {"cuda_graphs": True}, "fixed"),
    ("compile+cuda_graphs/fixed", {"compile": True, "cuda_graphs": True}, "fixed"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", nargs=2, default=["lucid-unet", "ode-u"], metavar=("BASELINE", "ODE"))
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--dtypes", nargs="+", default=None)
    parser.add_argument("--modes", nargs="+", default=None, help="subset of the mode labels")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None, help="folder (default results/<cpu|gpu>/)")
    args = parser.parse_args()

    gpu = args.device.startswith("cuda")
    batch_sizes = args.batch_sizes or ([1, 64] if gpu else [1, 8])
    dtypes = args.dtypes or (["fp32", "bf16"] if gpu else ["fp32"])
    modes = [m for m in (GPU_MODES if gpu else CPU_MODES) if args.modes is None or m[0] in args.modes]
    out = args.out or Path("results") / ("gpu" if gpu else "cpu")
    out.mkdir(parents=True, exist_ok=True)

    rows = []
    for dtype in dtypes:
        for batch in batch_sizes:
            for label, overrides, backend in modes:
                conds = LatencyConditions(
                    device=args.device,
                    dtype=dtype,
                    batch_size=batch,
                    resolution=args.resolution,
                    repeats=args.repeats,
                    trajectory_repeats=0,
                    warmup_max_s=120.0,
                    solver=SolverConfig(backend=backend),
                    **overrides,
                )
                found = measure_latency(list(args.models), conds, new_run_id())
                for row in found:
                    row["bench_mode"] = label
                rows += found
                print(_line(found, label, dtype, batch), flush=True)

    frame = pd.DataFrame(rows)
    write_csv(frame, out / "ode_speed.csv")
    summary = _summary(frame, args.models)
    write_text_atomic(
        out / "ode_speed.json",
        json.dumps(
            {"target": TARGET, "summary": summary, "environment": full_environment(args.device)}, indent=2
        )
        + "\n",
    )
    print("\nbest mode of each model, per configuration:")
    for s in summary:
        print(
            f"  {s['dtype']:5s} batch {s['batch_size']:3d}: latency ratio {s['latency_ratio']:.3f} "
            f"({s['ode_mode']} vs {s['baseline_mode']}), MACs ratio {s['macs_ratio']:.3f}, "
            f"latency/MACs {s['latency_over_macs']:.3f} (target <= {TARGET})"
        )
    return 0 if all(s["latency_over_macs"] <= TARGET for s in summary) else 1


def _line(found: list[dict], label: str, dtype: str, batch: int) -> str:
    base, ode = found
    if base["status"] != "ok" or ode["status"] != "ok":
        return f"{dtype} b{batch} {label}: failed: {base['message'] or ode['message']}"
    return (
        f"{dtype} b{batch:<3d} {label:26s} {base['model']} {base['call_ms_median']:9.3f} ms  "
        f"{ode['model']} {ode['call_ms_median']:9.3f} ms  latency ratio {ode['call_ms_vs_first']:.3f}  "
        f"MACs ratio {ode['macs_vs_first']:.3f}  latency/MACs {ode['latency_over_macs_ratio']:.3f}"
    )


def _summary(frame: pd.DataFrame, models: list[str]) -> list[dict]:
    ok = frame[frame["status"] == "ok"]
    summary = []
    for (dtype, batch), group in ok.groupby(["dtype", "batch_size"], sort=False):
        best = {m: group[group["model"] == m].nsmallest(1, "call_ms_median") for m in models}
        if any(b.empty for b in best.values()):
            continue
        base, ode = (best[m].iloc[0] for m in models)
        latency_ratio = ode["call_ms_median"] / base["call_ms_median"]
        macs_ratio = ode["macs_per_call"] / base["macs_per_call"]
        summary.append(
            {
                "dtype": dtype,
                "batch_size": int(batch),
                "baseline_mode": base["bench_mode"],
                "ode_mode": ode["bench_mode"],
                "baseline_call_ms": base["call_ms_median"],
                "ode_call_ms": ode["call_ms_median"],
                "latency_ratio": latency_ratio,
                "macs_ratio": macs_ratio,
                "latency_over_macs": latency_ratio / macs_ratio,
                "baseline_agrees_with_eager_fp32": bool(base["agrees_with_eager_fp32"]),
                "ode_agrees_with_eager_fp32": bool(ode["agrees_with_eager_fp32"]),
                "ode_max_rel_err": ode["max_rel_err_vs_eager_fp32"],
                "baseline_achieved_share": base["achieved_share"],
                "ode_achieved_share": ode["achieved_share"],
            }
        )
    return summary


if __name__ == "__main__":
    sys.exit(main())
