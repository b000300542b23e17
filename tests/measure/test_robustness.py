"""Built-in data and the robustness protocol: split by source, seeded noise, metrics, reference rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from mubench.cli.app import app
from mubench.data.builtin import load_builtin
from mubench.diffusion.schedules import NoiseSchedule
from mubench.errors import UsageError
from mubench.measure.robustness.conditions import RobustnessConditions
from mubench.measure.robustness.metrics import psnr_db, spread
from mubench.measure.robustness.noise import noisy_images
from mubench.measure.robustness.run import measure_robustness


@pytest.mark.parametrize("name", ["patches32", "patches64", "faces32"])
def test_train_and_test_share_no_source_image(name):
    train, test = load_builtin(name, "train"), load_builtin(name, "test")
    assert set(train.sources).isdisjoint(test.sources)
    assert len(train) > len(test) > 0
    size = int(name[-2:])
    assert train.images.shape[1:] == test.images.shape[1:] == (3, size, size)
    assert 0.0 <= float(test.images.min()) and float(test.images.max()) <= 1.0


def test_builtin_data_is_deterministic():
    load_builtin.cache_clear()
    first = load_builtin("patches32", "test").images.clone()
    load_builtin.cache_clear()
    assert torch.equal(first, load_builtin("patches32", "test").images)


def test_psnr_and_confidence_interval_by_hand():
    clean = np.zeros((3, 8, 8))
    assert psnr_db(clean + 0.1, clean) == pytest.approx(20.0)
    got = spread([1.0, 2.0, 3.0, 4.0], "x")
    assert got["x_mean"] == 2.5
    assert got["x_std"] == pytest.approx(math.sqrt(5 / 3))
    assert got["x_ci95"] == pytest.approx(3.182446305 * math.sqrt(5 / 3) / 2)


def test_noise_is_seeded_per_image():
    clean = torch.zeros(10, 3, 8, 8)
    a = noisy_images(clean, 0.1, seed=3)
    assert torch.equal(a[:5], noisy_images(clean[:5], 0.1, seed=3))  # image i's noise ignores the others
    assert not torch.equal(a, noisy_images(clean, 0.1, seed=4))
    assert not torch.equal(a[0], a[1])


@pytest.fixture(scope="module")
def reference_rows():
    conds = RobustnessConditions(sigmas=(0.1, 0.2), num_images=50)
    return pd.DataFrame(measure_robustness([], conds, "r"))


def test_identity_row_is_the_analytic_psnr(reference_rows):
    identity = reference_rows[reference_rows["model"] == "identity"].set_index("sigma")
    assert identity.loc[0.1, "psnr_db_mean"] == pytest.approx(20.0, abs=0.2)
    assert identity.loc[0.2, "psnr_db_mean"] == pytest.approx(20 - 20 * math.log10(2), abs=0.2)


def test_classical_denoisers_beat_the_noisy_input(reference_rows):
    for sigma, group in reference_rows.groupby("sigma"):
        psnr = group.set_index("model")["psnr_db_mean"]
        for name in ("tv", "wavelet", "nl-means"):
            assert psnr[name] > psnr["identity"] + 3, (sigma, name)
    assert set(reference_rows["n_images"]) == {50}


def test_models_start_at_their_schedules_matched_step():
    conds = RobustnessConditions(sigmas=(0.1,), num_images=4, steps=3, allow_untrained=True, references=())
    rows = measure_robustness(["ode-u-tiny", "ddpm-unet-tiny"], conds, "r")
    assert rows[0]["t_start"] == NoiseSchedule.create("sigmoid").step_for_sigma(0.1)
    assert rows[1]["t_start"] == NoiseSchedule.create("linear").step_for_sigma(0.1) == 57
    assert rows[0]["checkpoint"] == "shipped:ode-u-tiny.safetensors"
    assert rows[1]["checkpoint"] == "untrained" and rows[0]["denoiser_calls"] == 3
    assert rows[0]["nfe_total"] == 3 * 28


def test_steps_sweep_gives_one_row_per_step_count():
    conds = RobustnessConditions(num_images=3, allow_untrained=True, references=(), steps_sweep=(1, 4, 9))
    rows = measure_robustness(["lucid-unet-tiny"], conds, "r")
    assert [r["denoiser_calls"] for r in rows] == [1, 4, 9]
    assert len({r["t_start"] for r in rows}) == 1


def test_untrained_models_are_refused_without_the_flag():
    with pytest.raises(UsageError, match="allow_untrained"):
        measure_robustness(["ddpm-unet-tiny"], RobustnessConditions(), "r")  # nothing shipped for it


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-m", "ddpm-unet-tiny"], "--allow-untrained"),
        (["-m", "ode-u-tiny", "--checkpoint", "ode-u-tiny"], "NAME=PATH"),
        (["-m", "ode-u-tiny", "--checkpoint", "lucid-unet-tiny=x.safetensors"], "not among the --model"),
        (["-m", "ode-u-tiny", "--checkpoint", "ode-u-tiny=missing.safetensors"], "does not exist"),
        (["--sigma", "0"], "--sigma"),
        (["--sigma", "1.5"], "--sigma"),
        (["--dataset", "cifar"], "unknown dataset"),
        (["--num-images", "0"], "--num-images"),
        (["--reference", "bm3d"], "reference"),
        (["--sampler", "ddpm", "--steps", "3"], "ddpm"),
        (["--steps-sweep", "1,x"], "--steps-sweep"),
        (["--steps-sweep", "0,2"], "--steps-sweep"),
        (["--steps", "3", "--steps-sweep", "1,2"], "not both"),
    ],
)
def test_robustness_bad_input_is_one_line_exit_2(runner, clean_exit, tmp_path, args, needle):
    out = tmp_path / "rob.csv"
    result = runner.invoke(app, ["robustness", "-q", "--csv", str(out), *args])
    clean_exit(result, 2)
    assert needle in result.output
    assert not out.exists()


def test_robustness_cli_writes_rows(runner, tmp_path):
    out = tmp_path / "rob.csv"
    result = runner.invoke(
        app,
        ["robustness", "-q", "-m", "lucid-unet-tiny", "--allow-untrained", "--num-images", "4",
         "--steps", "2", "--sigma", "0.05", "--sigma", "0.1", "--reference", "identity", "--csv", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame["model"]) == ["identity", "lucid-unet-tiny"] * 2
    expected = (
        "sigma",
        "dataset",
        "checkpoint",
        "n_images",
        "n_sources",
        "t_start",
        "nfe_total",
        "denoise_s_per_image",
    )
    for column in (*expected, *(f"{m}_{s}" for m in ("psnr_db", "ssim") for s in ("mean", "std", "ci95"))):
        assert column in frame.columns
    model_rows = frame[frame["model"] == "lucid-unet-tiny"]
    assert (model_rows["batch_size"] == 4).all()  # the model denoises all test images in one batch
    assert (frame["num_threads"] >= 1).all() and frame["torch_version"].notna().all()


def test_a_model_that_fails_at_one_sigma_gets_an_error_row_and_the_rest_run(runner, tmp_path, monkeypatch):
    import mubench.measure.robustness.run as robustness

    real = robustness._denoise

    second = robustness.sampler_seeds(robustness.noise_seed(0, 0.1), 3)

    def fails_at_second_sigma(spec, model, sampler, trained, noisy, clean, t_star, seeds, *rest):
        if spec.name == "ode-u-tiny" and list(seeds) == list(second):
            raise RuntimeError("boom")
        return real(spec, model, sampler, trained, noisy, clean, t_star, seeds, *rest)

    monkeypatch.setattr(robustness, "_denoise", fails_at_second_sigma)
    out = tmp_path / "rob.csv"
    result = runner.invoke(
        app,
        ["robustness", "-q", "--num-images", "3", "--steps", "1", "--sigma", "0.05", "--sigma", "0.1",
         "--reference", "identity", "--csv", str(out)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output  # a failed measurement, not bad input
    frame = pd.read_csv(out, keep_default_na=False)
    failed = frame[frame["status"] == "error"]
    assert failed[["model", "sigma"]].values.tolist() == [["ode-u-tiny", 0.1]]
    assert "RuntimeError: boom" in failed["message"].iloc[0]
    keys = ["batch_size", "steps", "checkpoint"]  # those of the ok row it replaces (compare joins on them)
    got = pd.read_csv(out).loc[failed.index, keys].values.tolist()
    assert got == [[3, 1.0, "shipped:ode-u-tiny.safetensors"]]
    assert len(frame[frame["status"] == "ok"]) == 5  # identity, lucid-unet-tiny at both; ode-u-tiny at 0.05
    assert not (tmp_path / "rob.partial.csv").exists()


def test_an_interrupted_robustness_run_keeps_the_finished_sigmas(runner, tmp_path, monkeypatch, clean_exit):
    import mubench.measure.robustness.run as robustness

    second = robustness.sampler_seeds(robustness.noise_seed(0, 0.1), 3)

    def interrupted_at_second_sigma(spec, model, sampler, trained, noisy, clean, t_star, seeds, *rest):
        if list(seeds) == list(second):
            raise KeyboardInterrupt
        return real(spec, model, sampler, trained, noisy, clean, t_star, seeds, *rest)

    real = robustness._denoise
    monkeypatch.setattr(robustness, "_denoise", interrupted_at_second_sigma)
    out = tmp_path / "rob.csv"
    result = runner.invoke(
        app,
        ["robustness", "-q", "-m", "ode-u-tiny", "--num-images", "3", "--steps", "1", "--sigma", "0.05",
         "--sigma", "0.1", "--reference", "identity", "--csv", str(out)],
    )  # fmt: skip
    clean_exit(result, 130)
    assert not out.exists()
    kept = pd.read_csv(tmp_path / "rob.partial.csv")
    assert kept[["model", "sigma"]].values.tolist() == [["identity", 0.05], ["ode-u-tiny", 0.05]]


def test_a_folder_of_images_is_a_dataset(tmp_path):
    from skimage.io import imsave

    from mubench.data import load_dataset

    rng = np.random.default_rng(0)
    for name, shape in (("b.png", (40, 60, 3)), ("a.png", (32, 32)), ("c.jpg", (100, 80, 3))):
        imsave(tmp_path / name, (rng.random(shape) * 255).astype(np.uint8), check_contrast=False)
    (tmp_path / "notes.txt").write_text("not an image")
    images = load_dataset(f"folder:{tmp_path}", "test")
    assert images.images.shape == (3, 3, 32, 32) and images.sources == ("a.png", "b.png", "c.jpg")
    assert 0 <= float(images.images.min()) and float(images.images.max()) <= 1


@pytest.mark.parametrize(
    ("name", "root", "needle"),
    [("folder:/no/such/dir", None, "no such directory"), ("mnist", None, "needs data_root"),
     ("cifar10", "EMPTY", "not found under data_root"), ("imagenet", None, "unknown dataset")],
)  # fmt: skip
def test_missing_datasets_say_what_is_expected(tmp_path, name, root, needle):
    from mubench.data import load_dataset

    with pytest.raises(UsageError, match=needle):
        load_dataset(name, "test", tmp_path if root else None)


@pytest.mark.parametrize("name", ["lucid-unet-tiny", "ode-u-tiny"])
def test_shipped_tiny_models_beat_the_noisy_input(name):
    conds = RobustnessConditions(sigmas=(0.1,), num_images=24, steps=5, references=("identity",))
    identity, model = measure_robustness([name], conds, "r")
    assert model["training_steps"] == 1200 and model["checkpoint"] == f"shipped:{name}.safetensors"
    assert model["psnr_db_mean"] - model["psnr_db_ci95"] > identity["psnr_db_mean"] + identity["psnr_db_ci95"]


def _write_idx(path, magic: int, array: np.ndarray) -> None:
    import struct

    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_torchvision_datasets_are_read_from_the_root(tmp_path):
    """A miniature MNIST in torchvision's raw layout: read, split by torchvision's files, no download."""
    from mubench.data import load_dataset

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 6), ("t10k", 4)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", 0x803, rng.integers(0, 256, (count, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", 0x801, rng.integers(0, 10, (count,)))
    test = load_dataset("mnist", "test", tmp_path, limit=3)
    train = load_dataset("mnist", "train", tmp_path)
    assert test.images.shape == (3, 3, 32, 32) and train.images.shape == (6, 3, 32, 32)
    assert set(test.sources).isdisjoint(train.sources)


def test_a_limited_test_set_draws_on_every_source_photograph():
    from mubench.data import load_dataset

    whole = load_dataset("patches32", "test")
    for limit in (12, 50, 100):
        some = load_dataset("patches32", "test", limit=limit)
        assert len(some.images) == limit and set(some.sources) == set(whole.sources)
        assert some.sources == tuple(whole.sources[i * len(whole.images) // limit] for i in range(limit))
