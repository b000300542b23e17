"""Training on a GPU: fp32 on CUDA trains the weights the CPU does, and bf16 + compile + channels-last
trains to finite weights that resume; skipped without CUDA."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from mubench.checkpoints import read_meta
from mubench.training import TrainConfig, train

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
QUICK = dict(dataset="patches32", batch_size=8, lr=1e-3, save_every=1000)


def test_cuda_fp32_trains_the_weights_the_cpu_does(tmp_path):
    train(TrainConfig("lucid-unet-tiny", steps=3, **QUICK), tmp_path / "cpu.safetensors")
    train(TrainConfig("lucid-unet-tiny", steps=3, device="cuda", **QUICK), tmp_path / "gpu.safetensors")
    a, b = load_file(str(tmp_path / "cpu.safetensors")), load_file(str(tmp_path / "gpu.safetensors"))
    for name in a:
        scale = float(a[name].abs().max()) or 1.0
        assert float((a[name] - b[name]).abs().max()) <= 1e-3 * scale, name  # TF32 off; kernels differ
    assert read_meta(tmp_path / "gpu.safetensors")["training"]["device"].startswith("cuda")


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_mixed_precision_compiled_training_resumes(tmp_path, dtype):
    out = tmp_path / f"{dtype}.safetensors"
    settings = dict(device="cuda", dtype=dtype, compile=True, channels_last=True, workers=2, **QUICK)
    train(TrainConfig("ode-u-tiny", steps=2, **settings), out)
    meta = train(TrainConfig("ode-u-tiny", steps=4, **settings), out, resume=True)
    assert meta["steps"] == 4 and meta["training"]["dtype"] == dtype
    assert meta["training"]["mode"] == "compile+channels_last"
    assert all(torch.isfinite(w).all() for w in load_file(str(out)).values())
