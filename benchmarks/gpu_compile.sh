#!/usr/bin/env bash
# Second, time-boxed GPU run: the torch.compile modes of the ODE-U speed benchmark for the
# configurations that gpu_check.sh left out. Writes under $OUT (default results/gpu/compile).
set -u
OUT=${OUT:-results/gpu/compile}
. benchmarks/gpu_env.sh
timeout "${COMPILE_B1_S:-130}" python3 benchmarks/ode_speed.py --device cuda --runs 1 --out "$OUT/b1" --batch-sizes 1 \
  --dtypes fp32 bf16 --modes compile+cuda_graphs/fixed
timeout "${COMPILE_B64_S:-90}" python3 benchmarks/ode_speed.py --device cuda --runs 1 --out "$OUT/b64" --batch-sizes 64 \
  --dtypes fp32 --modes compile/fixed
echo done
