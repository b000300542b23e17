"""Benchmark: sampling throughput of the tiny pair on the CPU, one process with 2 threads against 2
processes (torchrun, gloo) with 1 thread each.

Each run is a fresh `mubench sample` (the same seeds, steps and batch per call in both arms), the arms
alternating so that drift of the machine hits both alike. Its row gives the wall time of the reverse
process per image (`sample_s_per_image`: under torchrun, the slowest rank's time over all images) and
the wall time of the whole command (start, sampling, gathering, PNG files). Summary rows give each
arm's median and the speed-up of 2 processes over 1 (`ratio` = one process's time / two processes').
Writes ``results/cpu/sample_throughput.json`` in mubench's result schema (readable by ``mubench
compare``).

    python benchmarks/sample_throughput.py [--seeds 0-127] [--steps 20] [--batch-size 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from mubench.results import benchmark_row, new_run_id, write_benchmark

MODELS = ("lucid-unet-tiny", "ode-u-tiny")
ARMS = {"1 process x 2 threads": (1, 2), "2 processes x 1 thread": (2, 1)}  # (processes, threads each)


def one_run(model: str, processes: int, threads: int, args: argparse.Namespace) -> dict:
    """Wall seconds of the command and its row's seconds per image, in a fresh process (or two)."""
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "row.csv"
        sample = ["-m", "mubench", "sample", "-m", model, "--seeds", args.seeds, "--steps", str(args.steps),
                  "--batch-size", str(args.batch_size), "--out", str(Path(folder) / "s"), "--csv", str(csv),
                  "-q"]  # fmt: skip
        launcher = [] if processes == 1 else ["-m", "torch.distributed.run", "--standalone",
                                              "--nproc-per-node", str(processes)]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        begin = time.perf_counter()
        proc = subprocess.run([sys.executable, *launcher, *sample], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - begin
        if proc.returncode != 0:
            raise SystemExit(f"mubench sample failed:\n{proc.stderr}")
        row = pd.read_csv(csv).iloc[0]
    return {"wall_s": wall, "s_per_image": float(row["sample_s_per_image"]), "n": int(row["n_seeds"]),
            "world_size": int(row["world_size"])}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-127")
    parser.add_argument("--steps", type=int, default=20, help="DDIM denoiser calls per image")
    parser.add_argument("--batch-size", type=int, default=32, help="images per call, in both arms")
    parser.add_argument("--rounds", type=int, default=3, help="runs per model and arm")
    parser.add_argument("--out", type=Path, default=Path("results/cpu/sample_throughput.json"))
    args = parser.parse_args()

    run_id, rows = new_run_id(), []
    common = dict(steps=args.steps, sampler="ddim(eta=0)", batch_size=args.batch_size)
    runs: dict[tuple[str, str], list[dict]] = {}
    names = list(ARMS)
    for round_index in range(args.rounds):
        for model in MODELS:
            order = names if round_index % 2 == 0 else names[::-1]  # alternate which arm goes first
            for arm in order:
                processes, threads = ARMS[arm]
                r = one_run(model, processes, threads, args)
                runs.setdefault((model, arm), []).append(r)
                print(f"{model:16s} {arm:24s} {r['s_per_image'] * 1e3:8.2f} ms/image  "
                      f"(command {r['wall_s']:.1f} s)", flush=True)  # fmt: skip
                fields = dict(bench_run=round_index + 1, world_size=processes,
                              n_seeds=r["n"], sample_s_per_image=r["s_per_image"],
                              wall_s_median=r["wall_s"])  # fmt: skip
                rows.append(benchmark_row("sample_throughput", arm, run_id, **common, model=model, **fields))
                rows[-1]["num_threads"] = threads  # each process's, not this script's
    print()
    for model in MODELS:
        medians = {arm: statistics.median(r["s_per_image"] for r in runs[model, arm]) for arm in names}
        for arm in names:
            processes, threads = ARMS[arm]
            walls = [r["wall_s"] for r in runs[model, arm]]
            speedup = medians[names[0]] / medians[arm]
            rows.append(benchmark_row("sample_throughput", f"{arm}: median", run_id, **common, model=model,
                                      world_size=processes,
                                      sample_s_per_image=medians[arm], wall_s_median=statistics.median(walls),
                                      n_runs=len(walls), ratio=round(speedup, 3)))  # fmt: skip
            rows[-1]["num_threads"] = threads
            print(f"{model:16s} {arm:24s} median {medians[arm] * 1e3:8.2f} ms/image, "
                  f"{1 / medians[arm]:7.1f} images/s, x{speedup:.2f} of one process")  # fmt: skip
    write_benchmark(rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
