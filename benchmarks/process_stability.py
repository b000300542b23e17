"""Benchmark: how much the ode-u / lucid-unet latency ratio depends on the process that measures it.

Runs `mubench latency -m lucid-unet -m ode-u` (batch 1, 64x64, eager fp32, per call only) in
``--processes`` fresh processes with the libraries pre-faulted and as many without (``--no-prefault``),
alternating, so that drift of the machine hits both alike. Gives each process's ratio and, per arm, the
between-process spread of the ratio, (max - min) / median. Target: at most 3% with pre-faulting.
Writes ``results/cpu/process_stability.json`` in mubench's result schema (readable by ``mubench
compare``): a row per process and a summary row per arm, with the environment.

    python benchmarks/process_stability.py [--processes 5] [--repeats 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mubench.results import benchmark_row, new_run_id, write_benchmark

TARGET_SPREAD = 0.03
MODELS = ("lucid-unet", "ode-u")


def _one_process(prefault: bool, repeats: int, threads: int | None) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "rows.json"
        command = [sys.executable, "-m", "mubench", "latency", "--resolution", "64", "--batch-size", "1",
                   "--repeats", str(repeats), "--trajectory-repeats", "0", "--quiet", "--json", str(out),
                   "--prefault" if prefault else "--no-prefault"]  # fmt: skip
        for name in MODELS:
            command += ["-m", name]
        if threads is not None:
            command += ["--threads", str(threads)]
        begin = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"mubench latency failed:\n{proc.stderr}")
        rows = {r["model"]: r for r in json.loads(out.read_text())["rows"]}
    base, cand = rows[MODELS[0]], rows[MODELS[1]]
    return {
        "prefault": prefault,
        "wall_s": round(time.perf_counter() - begin, 1),
        f"{MODELS[0]}_ms": base["call_ms_median"],
        f"{MODELS[1]}_ms": cand["call_ms_median"],
        "ratio": cand["call_ms_median"] / base["call_ms_median"],
        "prefault_s": cand.get("prefault_s"),
        "prefault_mib": cand.get("prefault_mib"),
        "cpu_busy_other_cores": cand.get("cpu_busy_other_cores"),
        "unstable": bool(base["call_ms_unstable"] or cand["call_ms_unstable"]),
    }


def _arm(runs: list[dict], prefault: bool) -> dict:
    ratios = [r["ratio"] for r in runs if r["prefault"] == prefault]
    middle = statistics.median(ratios)
    return {"ratio": round(middle, 4), "ratio_spread": round((max(ratios) - min(ratios)) / middle, 4),
            "n_runs": len(ratios)}  # fmt: skip


def _arm_name(prefault: bool) -> str:
    return "prefault" if prefault else "no-prefault"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=5, help="fresh processes per arm")
    parser.add_argument("--repeats", type=int, default=60, help="per-call samples per model and process")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("results/cpu/process_stability.json"))
    args = parser.parse_args()

    runs = []
    for index in range(args.processes):
        for prefault in (index % 2 == 0, index % 2 != 0):  # alternate which arm goes first
            runs.append(_one_process(prefault, args.repeats, args.threads))
            r = runs[-1]
            cand_ms, base_ms = r[MODELS[1] + "_ms"], r[MODELS[0] + "_ms"]
            print(f"process {len(runs):2d} prefault={prefault!s:5s} {MODELS[1]} {cand_ms:.2f} ms / "
                  f"{MODELS[0]} {base_ms:.2f} ms = {r['ratio']:.4f}", flush=True)  # fmt: skip
    run_id, rows = new_run_id(), []
    common = dict(model=MODELS[1], resolution=64, bench_mode="eager fp32 batch 1, per call")
    for i, r in enumerate(runs):
        rows.append(benchmark_row("process_stability", f"{_arm_name(r['prefault'])} process {i + 1}", run_id,
                                  **common, bench_run=i + 1, ratio=round(r["ratio"], 4),
                                  call_ms_median=r[MODELS[1] + "_ms"], wall_s_median=r["wall_s"],
                                  prefault=r["prefault"], prefault_s=r["prefault_s"],
                                  prefault_mib=r["prefault_mib"],
                                  cpu_busy_other_cores=r["cpu_busy_other_cores"],
                                  call_ms_unstable=r["unstable"]))  # fmt: skip
    arms = {prefault: _arm(runs, prefault) for prefault in (True, False)}
    for prefault, arm in arms.items():
        target = TARGET_SPREAD if prefault else None  # the other arm shows what pre-faulting changes
        within = arm["ratio_spread"] <= TARGET_SPREAD if prefault else None
        rows.append(benchmark_row("process_stability", _arm_name(prefault), run_id, **common, **arm,
                                  prefault=prefault, target=target, within_target=within))  # fmt: skip
    write_benchmark(rows, args.out)
    for prefault, arm in arms.items():
        print(f"{_arm_name(prefault):12s}: ratio median {arm['ratio']:.4f}, spread {arm['ratio_spread']:.1%} "
              f"over {arm['n_runs']} processes")  # fmt: skip
    verdict = "met" if arms[True]["ratio_spread"] <= TARGET_SPREAD else "missed"
    print(f"target: spread <= {TARGET_SPREAD:.0%} with pre-faulting: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
