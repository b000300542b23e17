"""Benchmark: how close does ode-u's speed come to what its MACs allow, against lucid-unet?

For each configuration (batch size x dtype) and inference mode, both models are timed side by side in
one `measure_latency` run (same conditions, round-robin). Reported per configuration:

- per mode: ode-u / lucid-unet per-call latency, their MACs ratio, and latency ratio / MACs ratio;
- best: each model's fastest mode, and ratio of those (target: at most 1.25 x the MACs ratio). The
  two best modes may come from different measurements (each interleaves its two models; they follow
  one another), so the best-mode ratio is less drift-proof than the per-mode ones. Hence ``--runs``:
  every mode is measured once per run, runs follow one another, and the verdict is the run whose
  best-mode ratio is the median (its times and ratio reported), printed with the range over runs (this
  VM's speed drifts by several per cent between minutes, moving both models alike).

    python benchmarks/ode_speed.py                      # CPU: batch 1 and 8, fp32, 3 runs
    python benchmarks/ode_speed.py --device cuda        # GPU: batch 1 and 64, fp32 and bf16
    python benchmarks/ode_speed.py --models lucid-unet-tiny ode-u-tiny --resolution 32 --repeats 5
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import pandas as pd

from mubench.measure import LatencyConditions, measure_latency
from mubench.measure.runtime.compile_options import describe_compile_options
from mubench.models.solver_config import SolverConfig
from mubench.results import full_environment, new_run_id, write_csv, write_text_atomic

TARGET = 1.25  # latency ratio may exceed the MACs ratio by at most this factor

# (label, LatencyConditions overrides, ODE solver backend)
BASE_MODES = (
    ("eager/torchdiffeq", {}, "torchdiffeq"),
    ("eager/fixed", {}, "fixed"),
    ("channels_last/fixed", {"channels_last": True}, "fixed"),
    ("compile/fixed", {"compile": True}, "fixed"),
    ("compile+channels_last/fixed", {"compile": True, "channels_last": True}, "fixed"),
)
# Inductor settings that change the best time of one model or the other on a 2-core Xeon:
# C++ wrapper (both faster), layout optimisation off (lucid-unet faster, ode-u slower). (``freezing`` is
# left out: under torch.compile it prepacks nothing in PyTorch 2.14; --prepack does that instead.)
CPU_COMPILE_OPTIONS = (("cpp_wrapper", True),), (("layout_optimization", False),)
_CPU_COMPILED = tuple(
    (f"compile({describe_compile_options(o)})+channels_last/fixed",
     {"compile": True, "channels_last": True, "compile_options": o}, "fixed")
    for o in CPU_COMPILE_OPTIONS
)  # fmt: skip
# Prepacked oneDNN convolutions (fp32 only), with each channels-last mode above.
_CPU_PREPACKED = tuple(
    (label.replace("/fixed", "+prepack/fixed"), {**overrides, "prepack": True}, backend)
    for label, overrides, backend in (*BASE_MODES, *_CPU_COMPILED)
    if overrides.get("channels_last")
)
CPU_MODES = BASE_MODES + _CPU_COMPILED + _CPU_PREPACKED
GPU_MODES = (
    *BASE_MODES,  # the compile settings above were chosen on the CPU
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
    parser.add_argument("--runs", type=int, default=3, help="measure every mode this many times")
    parser.add_argument("--out", type=Path, default=None, help="folder (default results/<cpu|gpu>/)")
    args = parser.parse_args()
    if args.runs < 1 or args.repeats < 1:
        parser.error("--runs and --repeats must be at least 1")

    gpu = args.device.startswith("cuda")
    batch_sizes = args.batch_sizes or ([1, 64] if gpu else [1, 8])
    dtypes = args.dtypes or (["fp32", "bf16"] if gpu else ["fp32"])
    modes = [m for m in (GPU_MODES if gpu else CPU_MODES) if args.modes is None or m[0] in args.modes]
    out = args.out or Path("results") / ("gpu" if gpu else "cpu")
    out.mkdir(parents=True, exist_ok=True)

    rows = []
    for run, dtype, batch, (label, overrides, backend) in itertools.product(
        range(1, args.runs + 1), dtypes, batch_sizes, modes
    ):
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
            solver=SolverConfig(backend=backend),
            **overrides,
        )
        found = measure_latency(list(args.models), conds, new_run_id())
        for row in found:
            row.update(bench_mode=label, bench_run=run)
        rows += found
        print(f"run {run}: " + _line(found, label, dtype, batch), flush=True)
        write_csv(pd.DataFrame(rows), out / "ode_speed.csv")  # each measurement kept as it comes

    frame = pd.DataFrame(rows)
    summary = _summary(frame, args.models)
    write_text_atomic(
        out / "ode_speed.json",
        json.dumps(
            {"target": TARGET, "summary": summary, "environment": full_environment(args.device)}, indent=2
        )
        + "\n",
    )
    print("\nbest mode of each model per run; the run with the median ratio [range over runs]:")
    for s in summary:
        print(
            f"  {s['dtype']:5s} batch {s['batch_size']:3d}, {s['runs']} run(s): "
            f"{s['baseline_model']} {s['baseline_call_ms']:.1f} ms, "
            f"{s['ode_model']} {s['ode_call_ms']:.1f} ms; latency ratio {s['latency_ratio']:.3f}, "
            f"MACs ratio {s['macs_ratio']:.3f}, latency/MACs {s['latency_over_macs']:.3f} "
            f"[{min(s['latency_over_macs_by_run']):.3f}-{max(s['latency_over_macs_by_run']):.3f}] "
            f"(target <= {TARGET}); best modes {', '.join(sorted(set(s['ode_modes'])))} vs "
            f"{', '.join(sorted(set(s['baseline_modes'])))}"
        )
    return 0 if summary and all(s["latency_over_macs"] <= TARGET for s in summary) else 1


def _line(found: list[dict], label: str, dtype: str, batch: int) -> str:
    base, ode = found
    if base["status"] != "ok" or ode["status"] != "ok":
        return f"{dtype} b{batch} {label}: failed: {base['message'] or ode['message']}"
    return (
        f"{dtype} b{batch:<3d} {label:62s} {base['model']} {base['call_ms_median']:9.3f} ms  "
        f"{ode['model']} {ode['call_ms_median']:9.3f} ms  latency ratio {ode['call_ms_vs_first']:.3f}  "
        f"MACs ratio {ode['macs_vs_first']:.3f}  latency/MACs {ode['latency_over_macs_ratio']:.3f}"
    )


def _summary(frame: pd.DataFrame, models: list[str]) -> list[dict]:
    """Per configuration: each run's best mode of each model; figures of the run with the median ratio."""
    ok = frame[frame["status"] == "ok"]
    summary = []
    for (dtype, batch), config in ok.groupby(["dtype", "batch_size"], sort=False):
        runs = []
        for _, group in config.groupby("bench_run"):
            best = [group[group["model"] == m].nsmallest(1, "call_ms_median") for m in models]
            if not any(b.empty for b in best):
                runs.append((best[0].iloc[0], best[1].iloc[0]))
        if not runs:
            continue
        latency_ratios = [ode["call_ms_median"] / base["call_ms_median"] for base, ode in runs]
        # The run whose ratio is the median (the lower one for an even count): its times and ratio agree.
        base, ode = runs[sorted(range(len(runs)), key=latency_ratios.__getitem__)[(len(runs) - 1) // 2]]
        macs_ratio = ode["macs_per_call"] / base["macs_per_call"]
        latency_ratio = ode["call_ms_median"] / base["call_ms_median"]
        summary.append(
            {
                "dtype": dtype,
                "batch_size": int(batch),
                "runs": len(runs),
                "baseline_model": models[0],
                "ode_model": models[1],
                "baseline_modes": [b["bench_mode"] for b, _ in runs],
                "ode_modes": [o["bench_mode"] for _, o in runs],
                "baseline_call_ms": base["call_ms_median"],
                "ode_call_ms": ode["call_ms_median"],
                "latency_ratio": latency_ratio,
                "macs_ratio": macs_ratio,
                "latency_over_macs": latency_ratio / macs_ratio,
                "latency_over_macs_by_run": [r / macs_ratio for r in latency_ratios],
                "baseline_agrees_with_eager_fp32": all(bool(b["agrees_with_eager_fp32"]) for b, _ in runs),
                "ode_agrees_with_eager_fp32": all(bool(o["agrees_with_eager_fp32"]) for _, o in runs),
                "ode_max_rel_err": max(o["max_rel_err_vs_eager_fp32"] for _, o in runs),
                "baseline_achieved_share": base["achieved_share"],
                "ode_achieved_share": ode["achieved_share"],
            }
        )
    return summary


if __name__ == "__main__":
    sys.exit(main())
