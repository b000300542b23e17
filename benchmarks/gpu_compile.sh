#!/usr/bin/env bash
# Second, time-boxed GPU run: the torch.compile modes of the ODE-U speed benchmark (issue 6) for the
# configurations that gpu_check.sh left out. Writes under $OUT (default results/gpu/compile).
set -u
OUT=${OUT:-results/gpu/compile}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
budget=${COMPILE_BUDGET_S:-100}
timeout "$budget" python3 benchmarks/ode_speed.py --device cuda --out "$OUT/b1" --batch-sizes 1 \
  --dtypes fp32 bf16 --modes compile+cuda_graphs/fixed
timeout "$budget" python3 benchmarks/ode_speed.py --device cuda --out "$OUT/b64" --batch-sizes 64 \
  --dtypes fp32 --modes compile/fixed
echo done
