"""Benchmark: `mubench flops` over the whole registry, as a user runs it, wall-clock seconds.

Target: under 60 s on a 2-core CPU. Runs the command ``--repeats`` times in a fresh process
(imports included) and writes a row of mubench's result schema (readable by ``mubench compare``) with the
environment to ``results/cpu/flops_registry.json``.

    python benchmarks/flops_registry.py [--repeats 3] [--out results/cpu/flops_registry.json]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mubench.registry import list_models
from mubench.results import benchmark_row, new_run_id, write_benchmark

TARGET_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/cpu/flops_registry.json"))
    args = parser.parse_args()

    models = list_models()
    command = [sys.executable, "-m", "mubench", "flops", "--quiet"]
    for name in models:
        command += ["--model", name]
    wall_s = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:
            print("mubench flops failed; see its output above", file=sys.stderr)
            return 2
        wall_s.append(time.perf_counter() - start)
    median_s = statistics.median(wall_s)
    row = benchmark_row("flops_registry", " ".join(["mubench", *command[3:]]), new_run_id(),
                        wall_s_median=round(median_s, 3), wall_s_min=round(min(wall_s), 3),
                        n_runs=args.repeats, target=TARGET_S, within_target=median_s <= TARGET_S)  # fmt: skip
    write_benchmark([row], args.out)
    print(f"mubench flops over {len(models)} models: median {median_s:.1f} s of {args.repeats} runs "
          f"({', '.join(f'{s:.1f}' for s in wall_s)}); target {TARGET_S:.0f} s")  # fmt: skip
    return 0 if median_s <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
