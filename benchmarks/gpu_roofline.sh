#!/usr/bin/env bash
# One prepared run on a GPU machine for the roofline and the profile, most important first,
# each step time-boxed against one deadline (DEADLINE_S, default 480 s) so that the run ends in time:
#   1. the roofline benchmark on CUDA in eager mode (fp32 and bf16, batch 1 and 64);
#   2. `mubench profile` of lucid-unet and ode-u in eager mode (fp32 and bf16, batch 1 and 64);
#   2b. benchmarks/gpu_profile_attribution.py (the profile counts each kernel once);
#   3. the GPU tests (latency, profile);
#   4. `mubench latency --steps 1000 --device cuda` (the default pair, one 1000-step trajectory each);
#   5. the roofline compiled and compiled + CUDA graphs (bf16), and a compiled bf16 profile at batch 1.
# Writes everything under $OUT (default results/gpu/roofline) and prints a short table last.
set -u
OUT=${OUT:-results/gpu/roofline}
. benchmarks/gpu_env.sh
START=$(date +%s)
DEADLINE=${DEADLINE_S:-480}

# box SECONDS CMD...: run CMD for at most SECONDS, and never past the deadline (kept 15 s for the summary)
box() {
  local want=$1 left
  shift
  left=$((DEADLINE - 15 - ($(date +%s) - START)))
  if [ "$left" -lt 20 ]; then echo "-- skipped (deadline): $*"; return; fi
  [ "$want" -lt "$left" ] && left=$want
  timeout "$left" "$@" || echo "-- exit $? after at most ${left}s: $*"
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"

echo "== 1. roofline, eager (fp32, bf16; batch 1, 64)"
box 150 python3 benchmarks/roofline.py --device cuda --modes eager --out "$OUT/eager"

for dtype in bf16 fp32; do
  for batch in 1 64; do
    echo "== 2. profile $dtype batch $batch, eager"
    box 60 python3 -m mubench profile -m lucid-unet -m ode-u --device cuda --dtype "$dtype" \
      --batch-size "$batch" --ode-backend fixed -q --csv "$OUT/profile_${dtype}_b${batch}_eager.csv"
  done
done

echo "== 2b. profile attribution check (fp32 batch 64): kernels counted once?"
box 60 python3 benchmarks/gpu_profile_attribution.py --device cuda --batch-size 64

echo "== 3. GPU tests"
box 120 python3 -m pytest -q -m gpu -p no:cacheprovider tests/measure/test_latency.py tests/measure/test_profile.py

echo "== 4. mubench latency --steps 1000 --device cuda"
box 90 python3 -m mubench latency --steps 1000 --device cuda --trajectory-repeats 1 -q \
  --csv "$OUT/latency_cuda.csv"

echo "== 5. roofline compiled and compiled + CUDA graphs (bf16), compiled profile (bf16, batch 1)"
box 200 python3 benchmarks/roofline.py --device cuda --dtypes bf16 --modes compile compile+cuda_graphs \
  --out "$OUT/compile"
box 120 python3 -m mubench profile -m lucid-unet -m ode-u --device cuda --dtype bf16 --batch-size 1 \
  --compile --ode-backend fixed -q --csv "$OUT/profile_bf16_b1_compile.csv"
echo "done after $(($(date +%s) - START)) s"
python3 - "$OUT" <<'PY'
import sys, pathlib
import pandas as pd
out = pathlib.Path(sys.argv[1])
for path in sorted(out.rglob("roofline.csv")):
    rows = pd.read_csv(path)
    for _, r in rows[rows["status"] == "ok"].iterrows():
        print(f"{r['dtype']:5s} b{int(r['batch_size']):<3d} {r['bench_mode']:20s} {r['model']:10s} "
              f"{r['call_ms_median']:8.3f} ms  roofline {r['roofline_ms']:7.3f} ms  x{r['latency_over_roofline']:.1f}")
for path in sorted(out.glob("profile_*.csv")):
    rows = pd.read_csv(path)
    top = rows.sort_values("category_ms", ascending=False).groupby("model").head(3)
    for _, r in top.iterrows():
        print(f"{path.stem[8:]:16s} {r['model']:10s} {r['category'][:26]:26s} {r['category_ms']:7.3f} ms "
              f"{r['category_time_share']:4.0%} time {r['category_flops_share']:4.0%} FLOPs")
PY
