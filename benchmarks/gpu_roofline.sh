#!/usr/bin/env bash
# One prepared run on a GPU machine for the roofline and the profile (issue 16): the GPU tests, the
# roofline benchmark on CUDA (fp32 and bf16, batch 1 and 64; eager, compiled, compiled + CUDA graphs),
# and `mubench profile` of lucid-unet and ode-u in eager and compiled bf16 at batch 1 and 64. Writes
# everything under $OUT (default results/gpu/roofline) and prints a short table last. About 8-10 minutes
# on an H200; the compiled parts are time-boxed (COMPILE_BUDGET_S each, default 240 s).
set -u
OUT=${OUT:-results/gpu/roofline}
. benchmarks/gpu_env.sh
BUDGET=${COMPILE_BUDGET_S:-240}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

echo "== GPU tests (latency, profile)"
python3 -m pytest -q -m gpu -p no:cacheprovider tests/test_latency.py tests/test_profile.py

echo "== roofline, eager (fp32, bf16; batch 1, 64)"
python3 benchmarks/roofline.py --device cuda --modes eager --out "$OUT/eager"

echo "== roofline, compiled and compiled + CUDA graphs (time-boxed)"
timeout "$BUDGET" python3 benchmarks/roofline.py --device cuda --dtypes bf16 --modes compile compile+cuda_graphs \
  --out "$OUT/compile"

for batch in 1 64; do
  echo "== profile bf16 batch $batch, eager"
  python3 -m mubench profile -m lucid-unet -m ode-u --device cuda --dtype bf16 --batch-size "$batch" \
    --ode-backend fixed -q --csv "$OUT/profile_bf16_b${batch}_eager.csv"
  echo "== profile bf16 batch $batch, compiled (time-boxed)"
  timeout "$BUDGET" python3 -m mubench profile -m lucid-unet -m ode-u --device cuda --dtype bf16 \
    --batch-size "$batch" --compile --ode-backend fixed -q --csv "$OUT/profile_bf16_b${batch}_compile.csv"
done
echo "done"
python3 - "$OUT" <<'PY'
import sys, pathlib
import pandas as pd
out = pathlib.Path(sys.argv[1])
for path in sorted(out.rglob("roofline.csv")):
    rows = pd.read_csv(path)
    for _, r in rows[rows["status"] == "ok"].iterrows():
        print(f"{r['dtype']:5s} b{int(r['batch_size']):<3d} {r['bench_mode']:22s} {r['model']:11s} "
              f"{r['call_ms_median']:9.3f} ms  roofline {r['roofline_ms']:8.3f} ms  x{r['latency_over_roofline']:.2f}")
for path in sorted(out.glob("profile_*.csv")):
    rows = pd.read_csv(path)
    top = rows.sort_values("category_ms", ascending=False).groupby("model").head(3)
    for _, r in top.iterrows():
        print(f"{path.stem:28s} {r['model']:11s} {r['category']:30s} {r['category_ms']:8.3f} ms "
              f"{r['category_time_share']:5.1%} of time, {r['category_flops_share']:5.1%} of FLOPs")
PY
