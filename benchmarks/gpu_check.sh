#!/usr/bin/env bash
# One prepared run on a GPU machine: the GPU tests, the GPU latency table and the ODE-U
# speed benchmark. Writes everything under $OUT (default results/gpu) and prints a short
# table last. Pure-Python wheels that the machine lacks (fvcore and its needs, mubench itself) are
# installed from .whl/ when that folder exists (see results/README.md, "Benchmarks").
set -u
OUT=${OUT:-results/gpu}
. benchmarks/gpu_env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"

echo "== GPU tests"
python3 -m pytest -q -m gpu -p no:cacheprovider tests/measure/test_latency.py

echo "== mubench latency --steps 1000 --device cuda (the default pair)"
python3 -m mubench latency --steps 1000 --device cuda --trajectory-repeats 2 -q \
  --csv "$OUT/latency_cuda.csv" --json "$OUT/latency_cuda.json"

echo "== ODE-U speed: eager, fixed backend, channels-last, CUDA graphs"
python3 benchmarks/ode_speed.py --device cuda --runs 1 --out "$OUT" \
  --modes eager/torchdiffeq eager/fixed channels_last/fixed cuda_graphs/fixed

echo "== ODE-U speed with torch.compile (time-boxed)"
timeout "${COMPILE_BUDGET_S:-150}" python3 benchmarks/ode_speed.py --device cuda --runs 1 --out "$OUT/compile" \
  --batch-sizes 64 --dtypes bf16 --modes compile/fixed compile+channels_last/fixed
echo "done"
python3 - "$OUT" <<'PY'
import json, sys, pathlib
for path in sorted(pathlib.Path(sys.argv[1]).rglob("ode_speed.json")):
    for s in json.loads(path.read_text())["summary"]:
        print(f"{s['dtype']:5s} b{s['batch_size']:<3d} best: ode-u {s['ode_call_ms']:.3f} ms ({','.join(sorted(set(s['ode_modes'])))}) "
              f"lucid-unet {s['baseline_call_ms']:.3f} ms ({','.join(sorted(set(s['baseline_modes'])))}) latency ratio {s['latency_ratio']:.3f} "
              f"MACs ratio {s['macs_ratio']:.3f} latency/MACs {s['latency_over_macs']:.3f} "
              f"peak share ode {s['ode_achieved_share']:.3f} lucid {s['baseline_achieved_share']:.3f}")
PY
