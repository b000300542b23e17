"""Robustness on any device, in any precision, in batches: an image's score does not depend on the batch it
is denoised in, rows say where and how the models ran, and a device or dtype that cannot run is one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mubench.checkpoints import shipped_checkpoint
from mubench.cli.app import app
from mubench.data import load_dataset
from mubench.diffusion.samplers import Sampler
from mubench.errors import UsageError
from mubench.measure.robustness.conditions import RobustnessConditions
from mubench.measure.robustness.denoise import denoise_images
from mubench.measure.robustness.metrics import psnr_db, ssim
from mubench.measure.robustness.noise import noise_seed, noisy_images, sampler_seeds
from mubench.measure.robustness.run import measure_robustness
from mubench.measure.robustness.weights import trained_as, trained_schedule
from mubench.measure.runtime.build import build_model
from mubench.registry import get_spec
from mubench.sources import load_weights

CPU = torch.device("cpu")
SIGMA = 0.1
TINY = ("ode-u-tiny", "lucid-unet-tiny")
QUICK = ["robustness", "-q", "--num-images", "4", "--steps", "2", "--reference", "identity"]


def _shipped(name: str, device: torch.device = CPU) -> dict:
    """The shipped tiny model and what denoise_images needs of it, on ``device``."""
    spec = get_spec(name)
    model = build_model(spec)
    trained = {name: load_weights(shipped_checkpoint(name), model, name)}
    schedule = trained_schedule(spec, trained)
    return dict(denoiser_model=model.to(device), name=name, schedule=schedule,
                prediction=trained_as(spec, trained, "prediction"),
                t_star=schedule.step_for_sigma(SIGMA))  # fmt: skip


def _images(n: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    clean = load_dataset("patches32", "test", limit=n).images
    seed = noise_seed(0, SIGMA)
    return clean, noisy_images(clean, SIGMA, seed), sampler_seeds(seed, n)


def _scores(estimates: torch.Tensor, clean: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    pairs = list(zip(estimates.numpy(), clean.numpy()))
    return np.array([psnr_db(e, c) for e, c in pairs]), np.array([ssim(e, c) for e, c in pairs])


@pytest.mark.parametrize("name", TINY)
def test_an_images_score_does_not_depend_on_the_batch_size(name):
    """Batches of 1, 3 (the last one smaller) and 8 give every image the same estimate; eta 1 makes the
    steps stochastic, so each image's own generator is exercised too."""
    model, (clean, noisy, seeds) = _shipped(name), _images(8)
    sampler = Sampler("ddim", 3, eta=1.0)
    got = {}
    for batch_size in (1, 3, 8):
        estimates, calls = denoise_images(
            **model, sampler=sampler, noisy=noisy, seeds=seeds, batch_size=batch_size, device=CPU,
            dtype=torch.float32,
        )  # fmt: skip
        assert estimates.shape == noisy.shape and estimates.dtype == torch.float32 and calls == 3
        assert estimates.device == CPU and 0 <= float(estimates.min()) and float(estimates.max()) <= 1
        got[batch_size] = _scores(estimates, clean)
    for batch_size in (3, 8):
        for metric, (alone, batched) in zip(("psnr", "ssim"), zip(got[1], got[batch_size])):
            assert np.abs(alone - batched).max() <= 1e-5, (metric, batch_size)
    assert got[1][0].mean() > 25  # trained weights: a real denoising, not a constant


def test_denoise_images_checks_its_arguments_and_takes_channels_last_inputs():
    model, (_, noisy, seeds) = _shipped("ode-u-tiny"), _images(3)
    sampler = Sampler("ddim", 2)
    with pytest.raises(ValueError, match="2 seeds for 3 images"):
        denoise_images(**model, sampler=sampler, noisy=noisy, seeds=seeds[:2], batch_size=2, device=CPU,
                       dtype=torch.float32)  # fmt: skip
    plain, _ = denoise_images(**model, sampler=sampler, noisy=noisy, seeds=seeds, batch_size=2, device=CPU,
                              dtype=torch.float32)  # fmt: skip
    model["denoiser_model"] = model["denoiser_model"].to(memory_format=torch.channels_last)
    last, _ = denoise_images(**model, sampler=sampler, noisy=noisy, seeds=seeds, batch_size=2, device=CPU,
                             dtype=torch.float32, channels_last=True)  # fmt: skip
    assert last.is_contiguous() and torch.allclose(last, plain, atol=1e-5)


def test_rows_record_device_dtype_mode_and_the_real_batch_size(runner, tmp_path):
    """--batch-size 3 on 4 images: calls of 3 and 1, the same scores as one call of all 4 (the default 32
    is more than the images: the row records the 4 of its one call)."""
    frames = {}
    for batch_size in ("3", None):
        out = tmp_path / f"rob{batch_size}.csv"
        given = ["--batch-size", batch_size] if batch_size else []
        result = runner.invoke(app, [*QUICK, "-m", "ode-u-tiny", *given, "--csv", str(out)])
        assert result.exit_code == 0, result.output
        frames[batch_size] = pd.read_csv(out).set_index("model")
    three, default = frames["3"], frames[None]
    assert three.loc["ode-u-tiny", "batch_size"] == 3 and default.loc["ode-u-tiny", "batch_size"] == 4
    for frame in (three, default):
        row = frame.loc["ode-u-tiny"]
        assert (row["device"], row["dtype"], row["mode"]) == ("cpu", "fp32", "eager")
        assert not row["compile"] and not row["channels_last"]
        assert row["nfe_total"] == 2 * 28  # one trajectory's evaluations, however many batches
        identity = frame.loc["identity"]  # numpy on the CPU, whatever the models ran on
        assert (identity["device"], identity["batch_size"]) == ("cpu", 1) and pd.isna(identity["mode"])
    for column in ("psnr_db_mean", "psnr_db_std", "ssim_mean", "ssim_std"):
        assert three.loc["ode-u-tiny", column] == pytest.approx(default.loc["ode-u-tiny", column], abs=1e-5)


def test_channels_last_and_bf16_autocast_run_on_the_cpu():
    base = dict(sigmas=(SIGMA,), num_images=3, steps=2, references=())
    (eager,) = measure_robustness(["lucid-unet-tiny"], RobustnessConditions(**base), "r")
    (last,) = measure_robustness(["lucid-unet-tiny"], RobustnessConditions(**base, channels_last=True), "r")
    (bf16,) = measure_robustness(["lucid-unet-tiny"], RobustnessConditions(**base, dtype="bfloat16"), "r")
    assert (last["mode"], last["channels_last"], last["dtype"]) == ("channels_last", True, "fp32")
    assert last["psnr_db_mean"] == pytest.approx(eager["psnr_db_mean"], abs=1e-4)
    assert (bf16["dtype"], bf16["mode"], bf16["status"]) == ("bf16", "eager", "ok")  # the alias, named
    assert bf16["psnr_db_mean"] == pytest.approx(eager["psnr_db_mean"], abs=0.5)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--device", "cuda"], "--device cuda: CUDA is not available on this machine"),
        (["--device", "cuda:1"], "--device cuda:1: CUDA is not available on this machine"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--device", "meta"], "device 'meta' is not supported"),
        (["--dtype", "fp8"], "unknown --dtype 'fp8'"),
        (["--batch-size", "0"], "--batch-size"),
    ],
)
def test_a_device_or_dtype_that_cannot_run_is_one_line_exit_2(runner, clean_exit, tmp_path, args, needle):
    if torch.cuda.is_available() and args[1].startswith("cuda"):
        pytest.skip("this machine has CUDA")
    out = tmp_path / "rob.csv"
    result = runner.invoke(app, [*QUICK, "-m", "ode-u-tiny", "--csv", str(out), *args])
    clean_exit(result, 2)
    assert needle in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists()


def test_the_conditions_refuse_a_bad_dtype_or_batch_size():
    with pytest.raises(UsageError, match="unknown dtype 'int8'"):  # option names as Python spells them
        RobustnessConditions(dtype="int8")
    with pytest.raises(UsageError, match="batch_size"):
        RobustnessConditions(batch_size=0)
    assert RobustnessConditions(compile=True, channels_last=True).mode() == "compile+channels_last"


def test_compiled_rows_say_so_and_count_no_nfe(monkeypatch):
    """The plumbing of --compile, without inductor's minutes of compiling: the compiled callable is
    what is called, and the rows record the mode; the ODE counters do not run in compiled code."""
    import mubench.measure.robustness.run as robustness

    called = []
    monkeypatch.setattr(robustness, "compiled", lambda model: called.append(model) or model)
    conds = RobustnessConditions(sigmas=(SIGMA,), num_images=2, steps=1, references=(), compile=True)
    rows = measure_robustness(list(TINY), conds, "r")
    assert len(called) == 2
    for row in rows:
        assert (row["status"], row["mode"], row["compile"]) == ("ok", "compile", True), row["message"]
        assert row["nfe_total"] is None


@pytest.mark.slow
def test_a_compiled_model_scores_as_the_eager_one(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))  # not a cache other runs may have left
    base = dict(sigmas=(SIGMA,), num_images=2, steps=1, references=())
    (eager,) = measure_robustness(["lucid-unet-tiny"], RobustnessConditions(**base), "r")
    (built,) = measure_robustness(["lucid-unet-tiny"], RobustnessConditions(**base, compile=True), "r")
    assert (built["status"], built["mode"], built["compile"]) == ("ok", "compile", True), built["message"]
    assert built["psnr_db_mean"] == pytest.approx(eager["psnr_db_mean"], abs=1e-3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", TINY)
def test_cuda_scores_match_the_cpus_and_bf16_runs(name):
    clean, noisy, seeds = _images(8)
    sampler = Sampler("ddim", 3, eta=1.0)
    cuda = torch.device("cuda")
    on_cpu, _ = denoise_images(**_shipped(name), sampler=sampler, noisy=noisy, seeds=seeds, batch_size=4,
                               device=CPU, dtype=torch.float32)  # fmt: skip
    scores = {}
    for dtype in (torch.float32, torch.bfloat16):
        estimates, _ = denoise_images(**_shipped(name, cuda), sampler=sampler, noisy=noisy, seeds=seeds,
                                      batch_size=4, device=cuda, dtype=dtype)  # fmt: skip
        assert estimates.device == CPU and estimates.dtype == torch.float32
        scores[dtype] = _scores(estimates, clean)
    reference = _scores(on_cpu, clean)
    assert np.abs(scores[torch.float32][0] - reference[0]).max() < 1e-2  # dB: TF32 off, kernels differ
    assert np.abs(scores[torch.float32][1] - reference[1]).max() < 1e-3
    assert np.isfinite(scores[torch.bfloat16][0]).all()
    assert abs(scores[torch.bfloat16][0].mean() - reference[0].mean()) < 0.5


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_rows_record_the_gpu(runner, tmp_path):
    out = tmp_path / "rob.csv"
    result = runner.invoke(app, [*QUICK, "--device", "cuda", "--dtype", "bf16", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out).set_index("model")
    for name in TINY:
        assert frame.loc[name, "device"].startswith("cuda:") and frame.loc[name, "dtype"] == "bf16"
        assert frame.loc[name, "status"] == "ok" and frame.loc[name, "cuda_version"]
    assert frame.loc["identity", "device"] == "cpu"
