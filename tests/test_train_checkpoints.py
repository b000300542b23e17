"""Training lowers the loss, resumes exactly; checkpoints round-trip exactly and refuse code and misfits."""

from __future__ import annotations

import pickle

import pytest
import torch

from mubench.checkpoints import load_checkpoint, read_meta, save_checkpoint
from mubench.errors import UsageError
from mubench.registry import get_model
from mubench.train import TrainConfig, train

QUICK = dict(dataset="patches32", batch_size=8, lr=1e-3, save_every=1000)


def test_a_short_training_run_lowers_the_loss(tmp_path):
    losses = []
    out = tmp_path / "m.safetensors"
    meta = train(
        TrainConfig("lucid-unet-tiny", steps=40, **QUICK),
        out,
        on_progress=lambda s, loss: losses.append(loss),
    )
    assert len(losses) == 40 and meta["steps"] == 40
    assert losses[-1] < 0.8 * losses[4]  # running means: the last 40 steps against the first 5
    side = read_meta(out)
    for key in ("model", "config", "schedule", "prediction", "dataset", "resolution", "steps", "seed",
                "final_loss", "mubench_version"):  # fmt: skip
        assert key in side
    assert side["prediction"] == "v" and side["schedule"] == "sigmoid" and side["resolution"] == 32


def test_resumed_training_equals_an_uninterrupted_run(tmp_path):
    whole, split = tmp_path / "whole.safetensors", tmp_path / "split.safetensors"
    train(TrainConfig("ode-u-tiny", steps=6, **QUICK), whole)
    train(TrainConfig("ode-u-tiny", steps=3, **QUICK), split)
    train(TrainConfig("ode-u-tiny", steps=6, **QUICK), split, resume=True)
    a, b = get_model("ode-u-tiny"), get_model("ode-u-tiny")
    load_checkpoint(whole, a, "ode-u-tiny")
    load_checkpoint(split, b, "ode-u-tiny")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6, msg=name)
    assert read_meta(split)["steps"] == 6


def test_checkpoint_round_trip_is_exact(tmp_path):
    torch.manual_seed(3)
    model = get_model("ode-u-tiny")
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, {"model": "ode-u-tiny"})
    fresh = get_model("ode-u-tiny")
    load_checkpoint(path, fresh, "ode-u-tiny")
    for key, value in model.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([3, 500])
    with torch.no_grad():
        assert torch.equal(model(x, t), fresh(x, t))


class Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned-by-mubench-test",))


def test_a_pickle_that_runs_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"conv.weight": Exploit()}))
    with pytest.raises(UsageError, match="refused"):
        load_checkpoint(path, get_model("ode-u-tiny"), "ode-u-tiny")
    assert not (tmp_path / "pwned-by-mubench-test").exists()


def test_plain_tensor_pt_files_load(tmp_path):
    model = get_model("lucid-unet-tiny")
    path = tmp_path / "plain.pt"
    torch.save(model.state_dict(), path)
    load_checkpoint(path, get_model("lucid-unet-tiny"), "lucid-unet-tiny")


def test_misfits_are_named(tmp_path):
    path = tmp_path / "l.safetensors"
    save_checkpoint(path, get_model("lucid-unet-tiny"), {"model": "lucid-unet-tiny"})
    with pytest.raises(UsageError, match="is for model 'lucid-unet-tiny', not 'ode-u-tiny'"):
        load_checkpoint(path, get_model("ode-u-tiny"), "ode-u-tiny")
    other = tmp_path / "nometa.safetensors"
    save_checkpoint(other, get_model("ode-u-tiny", base_width=16), {})
    with pytest.raises(UsageError, match="shape mismatches"):
        load_checkpoint(other, get_model("ode-u-tiny"), "ode-u-tiny")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [(dict(steps=None), "--steps or --minutes"), (dict(steps=0), "--steps"),
     (dict(dataset="imagenet"), "dataset"), (dict(prediction="x0"), "--prediction"),
     (dict(batch_size=0), "--batch-size")],
)  # fmt: skip
def test_bad_training_config(kwargs, needle):
    with pytest.raises(UsageError, match=needle):
        TrainConfig("ode-u-tiny", **kwargs)


def test_ema_decay_warms_up_to_its_ceiling():
    from mubench.train import ema_decay_at

    assert ema_decay_at(0, 0.999) == pytest.approx(0.1)
    assert ema_decay_at(90, 0.999) == pytest.approx(0.91)
    assert ema_decay_at(10**6, 0.999) == 0.999


def test_train_cli_writes_a_checkpoint(runner, tmp_path):
    from mubench.cli.app import app

    out = tmp_path / "o.safetensors"
    result = runner.invoke(app, ["train", "-q", "-m", "ode-u-tiny", "--out", str(out), "--steps", "2",
                                 "--batch-size", "4"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.exists() and read_meta(out)["steps"] == 2 and "final loss" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["-m", "ode-u-tiny", "--out", "o.pt"], ".safetensors"),
     (["-m", "nope", "--out", "o.safetensors"], "unknown"),
     (["-m", "ode-u-tiny", "--out", "o.safetensors", "--steps", "0"], "--steps"),
     (["-m", "ode-u-tiny", "--out", "missing/o.safetensors"], "does not exist"),
     (["-m", "ode-u-tiny", "--out", "o.safetensors", "--resume"], "--resume")],
)  # fmt: skip
def test_train_cli_bad_input(runner, clean_exit, tmp_path, monkeypatch, args, needle):
    from mubench.cli.app import app

    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "-q", *args])
    clean_exit(result, 2)
    assert needle in result.output
    assert not list(tmp_path.glob("*.safetensors"))
