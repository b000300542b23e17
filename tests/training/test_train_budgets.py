"""Training budgets stop where they should and are recorded as reached; the curve rows hold their columns
and the scores `mubench robustness` gives the same checkpoint; device and precision are checked first."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mubench.checkpoints import read_meta
from mubench.cli.app import app
from mubench.training import TrainConfig, train
from mubench.training.batches import Slice, StepBatches

QUICK = dict(dataset="patches32", batch_size=4, lr=1e-3, save_every=1000)


def test_an_images_budget_stops_at_the_step_that_reaches_it(tmp_path):
    meta = train(TrainConfig("ode-u-tiny", images=10, **QUICK), tmp_path / "i.safetensors")
    assert meta["steps"] == 3  # 4 + 4 + 4 >= 10
    training = read_meta(tmp_path / "i.safetensors")["training"]
    assert training["stopped_by"] == "images" and training["reached"]["images"] == 12
    assert training["budgets"] == {"images": 10}


def test_a_compute_budget_counts_three_times_the_forward_macs_of_flops(tmp_path):
    first = train(TrainConfig("ode-u-tiny", steps=1, **QUICK), tmp_path / "one.safetensors")["training"]
    per_step_tmacs = 3 * first["forward_macs_per_image"] * QUICK["batch_size"] / 1e12
    assert first["train_macs_per_image"] == 3 * first["forward_macs_per_image"]
    cfg = TrainConfig("ode-u-tiny", train_tmacs=2.5 * per_step_tmacs, **QUICK)
    meta = train(cfg, tmp_path / "c.safetensors")
    assert meta["steps"] == 3 and meta["training"]["stopped_by"] == "train_tmacs"
    assert math.isclose(meta["training"]["reached"]["train_tmacs"], 3 * per_step_tmacs, rel_tol=1e-12)


def test_the_forward_macs_are_the_ones_mubench_flops_counts(runner, clean_exit, tmp_path):
    meta = train(TrainConfig("lucid-unet-tiny", steps=1, **QUICK), tmp_path / "l.safetensors")
    csv = tmp_path / "flops.csv"
    args = ["flops", "-m", "lucid-unet-tiny", "--resolution", "32", "-q", "--csv", str(csv)]
    clean_exit(runner.invoke(app, args), 0)
    flops = pd.read_csv(csv)
    assert meta["training"]["forward_macs_per_image"] == int(
        flops.loc[flops.counter == "fvcore", "macs"].iloc[0]
    )


def test_the_sidecar_records_time_throughput_and_mode(tmp_path):
    meta = train(TrainConfig("ode-u-tiny", steps=2, **QUICK), tmp_path / "t.safetensors")["training"]
    assert meta["device"] == "cpu" and meta["dtype"] == "fp32" and meta["mode"] == "eager"
    assert meta["world_size"] == 1 and meta["wall_s"] > 0 and meta["images_per_s"] > 0
    assert set(meta["reached"]) == {"steps", "images", "minutes", "train_tmacs"}


def test_a_batch_depends_on_seed_and_step_only():
    import torch

    images = torch.rand(20, 3, 8, 8)
    whole = StepBatches(images, 1000, 6, seed=3, flip=True, part=Slice())
    halves = [StepBatches(images, 1000, 6, seed=3, flip=True, part=Slice(rank, 2)) for rank in (0, 1)]
    for step in (0, 7):
        x0, t, noise = whole[step]
        parts = [half[step] for half in halves]
        for i, value in enumerate((x0, t, noise)):
            assert torch.equal(torch.cat([p[i] for p in parts]), value)
    assert not torch.equal(whole[0][0], whole[1][0])
    unflipped = StepBatches(images, 1000, 6, seed=3, flip=False, part=Slice())[0]
    assert torch.equal(unflipped[1], whole[0][1]) and torch.equal(unflipped[2], whole[0][2])  # same t, noise
    flipped = [not torch.equal(a, b) for a, b in zip(whole[0][0], unflipped[0])]
    assert any(flipped) and not all(flipped)


@pytest.mark.slow
def test_workers_do_not_change_the_weights(tmp_path):
    import torch
    from safetensors.torch import load_file

    train(TrainConfig("ode-u-tiny", steps=3, **QUICK), tmp_path / "w0.safetensors")
    train(TrainConfig("ode-u-tiny", steps=3, workers=2, **QUICK), tmp_path / "w2.safetensors")
    a, b = load_file(str(tmp_path / "w0.safetensors")), load_file(str(tmp_path / "w2.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_curve_rows_score_what_robustness_scores(runner, clean_exit, tmp_path):
    out, log = tmp_path / "c.safetensors", tmp_path / "curve.csv"
    cfg = TrainConfig("ode-u-tiny", steps=3, eval_every=2, eval_images=6, eval_sigmas=(0.1, 0.3), **QUICK)
    train(cfg, out, log=log)
    rows = pd.read_csv(log)
    assert list(rows.training_steps) == [0, 0, 2, 2, 3, 3] and list(rows.sigma) == [0.1, 0.3] * 3
    assert set(rows.command) == {"train"} and (rows.images_seen == rows.training_steps * 4).all()
    for column in ("train_tmacs", "wall_s", "loss_mean", "lr", "images_per_s", "psnr_db_mean", "ssim_mean"):
        assert rows[column].iloc[2:].notna().all(), column
    csv = tmp_path / "robustness.csv"
    clean_exit(runner.invoke(app, ["robustness", "-m", "ode-u-tiny", "--checkpoint", f"ode-u-tiny={out}",
                                   "--num-images", "6", "--steps", "10", "--sigma", "0.1", "--sigma", "0.3",
                                   "--reference", "identity", "-q", "--csv", str(csv)]), 0)  # fmt: skip
    scored = pd.read_csv(csv).query("model == 'ode-u-tiny'").set_index("sigma")
    last = rows[rows.training_steps == 3].set_index("sigma")
    for sigma in (0.1, 0.3):
        assert last.psnr_db_mean[sigma] == pytest.approx(scored.psnr_db_mean[sigma], abs=1e-4)
        assert last.ssim_mean[sigma] == pytest.approx(scored.ssim_mean[sigma], abs=1e-5)


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--device", "cuda"], "--device cuda: CUDA is not available"),
     (["--dtype", "fp8"], "--dtype 'fp8'"),
     (["--log", "x.csv"], "--eval-every"),
     (["--resolution", "64"], "the built-in dataset patches32 is 32 px; the built-in patches64 has it")],
)  # fmt: skip
def test_bad_device_precision_and_curve_settings_are_one_line(runner, clean_exit, tmp_path, monkeypatch,
                                                               args, needle):  # fmt: skip
    import torch

    if args[:2] == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "-q", "-m", "ode-u-tiny", "--out", "o.safetensors", "--steps", "1",
                                 *args])  # fmt: skip
    clean_exit(result, 2)
    assert needle in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_run_keeps_the_curve_rows_it_resumes_from(tmp_path):
    out, log = tmp_path / "r.safetensors", tmp_path / "curve.csv"
    settings = dict(eval_every=2, eval_images=2, eval_steps=1, eval_sigmas=(0.2,), **QUICK)
    train(TrainConfig("ode-u-tiny", steps=3, **settings), out, log=log)  # rows at 0, 2, 3
    train(TrainConfig("ode-u-tiny", steps=5, **settings), out, resume=True, log=log)  # 4, 5
    assert list(pd.read_csv(log).training_steps) == [0, 2, 3, 4, 5]
