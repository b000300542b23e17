"""Benchmark: how long `mubench --version`, `mubench --help` and `mubench latency --help` take to start.

Target: each under 0.3 s wall on a 2-core CPU, that is, no torch, pandas or measurement
module imported until a command runs. Each command runs ``--repeats`` times in a fresh process
(``python -m mubench``, the interpreter running this script). One row per command (mubench's result
schema, readable by ``mubench compare``) gives the median wall seconds and the peak resident memory
(RSS, MiB), beside two floors: a bare interpreter and ``import typer``.

    python benchmarks/startup.py [--repeats 7] [--out results/cpu/startup.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.3
COMMANDS: dict[str, list[str]] = {
    "mubench --version": ["-m", "mubench", "--version"],
    "mubench --help": ["-m", "mubench", "--help"],
    "mubench latency --help": ["-m", "mubench", "latency", "--help"],
}
FLOORS: dict[str, list[str]] = {  # what any Python CLI pays: for reading the figures above
    "python -c pass": ["-c", "pass"],
    "python -c 'import typer'": ["-c", "import typer"],
}


def run_once(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh ``python ARGS`` process; fails if it fails."""
    env = {**os.environ, "COLUMNS": "100"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (ru_maxrss in KiB on Linux)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"python {' '.join(args)} exited {proc.returncode}: {stderr}")
    return wall, usage.ru_maxrss / 1024


def measure(args: list[str], repeats: int) -> dict[str, float | int]:
    run_once(args)  # warm the file cache; not counted
    runs = [run_once(args) for _ in range(repeats)]
    walls = [wall for wall, _ in runs]
    return {
        "wall_s_median": round(statistics.median(walls), 4),
        "wall_s_min": round(min(walls), 4),
        "n_runs": repeats,
        "peak_rss_mib": round(max(rss for _, rss in runs), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("results/cpu/startup.json"))
    args = parser.parse_args()

    measured = {label: measure(argv, args.repeats) for label, argv in {**COMMANDS, **FLOORS}.items()}
    # Imported only now: a child forked from a process holding torch inherits its resident set in
    # ru_maxrss, and the fork itself takes longer.
    from mubench.results import benchmark_row, new_run_id, write_benchmark

    run_id, rows = new_run_id(), []
    for label, figures in measured.items():
        target = TARGET_S if label in COMMANDS else None  # the floors have none
        within = figures["wall_s_median"] < TARGET_S if target else None
        rows.append(benchmark_row("startup", label, run_id, **figures, target=target, within_target=within))
        print(
            f"{label:28s} median {figures['wall_s_median']:.3f} s  peak RSS {figures['peak_rss_mib']:.0f} MiB"
        )
    print(f"every command under {TARGET_S} s: {all(r['within_target'] for r in rows if r['target'])}")
    write_benchmark(rows, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
