#!/usr/bin/env bash
# One prepared run on a GPU machine: the paper suite's cost and latency tables on the GPU,
# then its report. Robustness is left to the CPU reference run (it measures on the CPU either way).
# Writes $OUT/paper (default results/gpu/paper) and prints the claims table last. The suite run is
# time-boxed (PAPER_BUDGET_S, default 420 s on an H100/H200: the cost tables and the first latency tables
# take about 5 minutes; the later inductor-setting tables are what a timeout cuts, and every finished
# item is already written). Wheels a stock torch image lacks come from .whl/ (results/README.md, "Benchmarks").
set -u
OUT=${OUT:-results/gpu}
. benchmarks/gpu_env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
timeout "${PAPER_BUDGET_S:-420}" python3 -m mubench run benchmarks/paper.toml --device cuda --only params --only flops --only latency \
  --out "$OUT/paper" --quiet
python3 -m mubench report "$OUT/paper" --quiet
sed -n '/## Claims/,/## Parameters/p' "$OUT/paper/report.md" | cut -c1-400
