#!/usr/bin/env bash
# One prepared run on a GPU machine for the quality half, under one deadline (DEADLINE_S, default 540 s),
# most important first:
#   1. the GPU tests of training and robustness;
#   2. the training throughput benchmark: mubench (bf16 + compile) against denoising-diffusion-pytorch's
#      Trainer (amp), side by side;
#   3. ode-u and lucid-unet trained for equal minutes each (TRAIN_MINUTES, default 1.5) at 64 x 64 on
#      patches64, with curves;
#   4. robustness of both on cuda.
# Writes $OUT (default results/gpu/train) and prints a short table last. Wheels a stock torch image lacks
# come from .whl/ (results/README.md, "Benchmarks").
set -u
OUT=${OUT:-results/gpu/train}
. benchmarks/gpu_env.sh
end=$(( $(date +%s) + ${DEADLINE_S:-540} ))
left() { echo $(( end - $(date +%s) )); }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python3 -m mubench --version

timeout "$(left)" python3 -m pytest -q -p no:cacheprovider tests/training/test_train_gpu.py \
  tests/measure -k "cuda or gpu" 2>&1 | tail -5

timeout "$(left)" python3 benchmarks/train_throughput.py --device cuda --repeats 2 --out "$OUT/throughput"

minutes=${TRAIN_MINUTES:-1.5}
for model in lucid-unet ode-u; do
  timeout "$(left)" python3 -m mubench train -m "$model" --dataset patches64 --batch-size 64 --minutes "$minutes" \
    --device cuda --dtype bf16 --compile --workers 4 --eval-every 200 --eval-images 64 \
    --log "$OUT/$model.train.csv" --out "$OUT/$model.safetensors" --quiet
done

timeout "$(left)" python3 -m mubench robustness -m lucid-unet -m ode-u \
  --checkpoint "lucid-unet=$OUT/lucid-unet.safetensors" --checkpoint "ode-u=$OUT/ode-u.safetensors" \
  --dataset patches64 --num-images 100 --sigma 0.1 --sigma 0.2 --sigma 0.3 --device cuda --batch-size 50 \
  --csv "$OUT/robustness.csv" --quiet
rm -f "$OUT"/*.state.safetensors "$OUT"/*.safetensors  # the curves and sidecars are the result; weights stay off git

python3 - "$OUT" <<'PY'
import json, sys
from pathlib import Path
import pandas as pd
out = Path(sys.argv[1])
for model in ("lucid-unet", "ode-u"):
    side = out / f"{model}.json"
    if side.exists():
        t = json.loads(side.read_text())["training"]
        print(f"{model:11s} steps {t['reached']['steps']:>6} images/s {t['images_per_s']:>9.1f} TMACs {t['reached']['train_tmacs']:.1f}")
rob = out / "robustness.csv"
if rob.exists():
    f = pd.read_csv(rob)
    print(f[["model", "sigma", "psnr_db_mean", "psnr_db_ci95", "denoise_s_per_image"]].to_string(index=False))
PY
