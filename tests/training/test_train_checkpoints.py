"""Training lowers the loss, resumes exactly; checkpoints round-trip exactly and refuse code and misfits."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from mubench.checkpoints import load_checkpoint, read_meta, save_checkpoint
from mubench.errors import UsageError
from mubench.registry import get_model
from mubench.training import TrainConfig, train

QUICK = dict(dataset="patches32", batch_size=8, lr=1e-3, save_every=1000)


@pytest.mark.slow
def test_a_short_training_run_lowers_the_loss(tmp_path):
    losses = []
    out = tmp_path / "m.safetensors"
    meta = train(
        TrainConfig("lucid-unet-tiny", steps=40, **QUICK),
        out,
        on_progress=lambda s, loss, reached: losses.append(loss),
    )
    assert len(losses) == 40 and meta["steps"] == 40
    assert losses[-1] < 0.8 * losses[4]  # running means: the last 40 steps against the first 5
    side = read_meta(out)
    for key in ("model", "config", "schedule", "prediction", "dataset", "resolution", "steps", "seed",
                "final_loss", "mubench_version"):  # fmt: skip
        assert key in side
    assert side["prediction"] == "v" and side["schedule"] == "sigmoid" and side["resolution"] == 32


def assert_same_weights(first: Path, second: Path) -> None:
    """The two ode-u-tiny checkpoints hold the same weights (up to float32 rounding)."""
    a, b = get_model("ode-u-tiny"), get_model("ode-u-tiny")
    load_checkpoint(first, a, "ode-u-tiny")
    load_checkpoint(second, b, "ode-u-tiny")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6, msg=name)


def test_resumed_training_equals_an_uninterrupted_run(tmp_path):
    whole, split = tmp_path / "whole.safetensors", tmp_path / "split.safetensors"
    train(TrainConfig("ode-u-tiny", steps=6, **QUICK), whole)
    train(TrainConfig("ode-u-tiny", steps=3, **QUICK), split)
    train(TrainConfig("ode-u-tiny", steps=6, **QUICK), split, resume=True)
    assert_same_weights(whole, split)
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
    [(dict(steps=0), "steps"), (dict(images=0), "images"), (dict(eval_sigmas=()), "eval_sigma"),
     (dict(dtype="fp8"), "dtype"), (dict(dataset="imagenet"), "dataset"),
     (dict(prediction="x0"), "prediction"), (dict(batch_size=0), "batch_size")],
)  # fmt: skip
def test_bad_training_config(kwargs, needle):
    with pytest.raises(UsageError, match=needle):
        TrainConfig("ode-u-tiny", **kwargs)


def test_without_a_budget_a_run_trains_2000_steps():
    assert TrainConfig("ode-u-tiny").budgets() == {"steps": 2000}
    assert TrainConfig("ode-u-tiny", images=640).budgets() == {"images": 640}


def test_ema_decay_warms_up_to_its_ceiling():
    from mubench.training import ema_decay_at

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


def _cli_train(runner, out, *args):
    from mubench.cli.app import app

    return runner.invoke(
        app, ["train", "-q", "-m", "ode-u-tiny", "--out", str(out), "--batch-size", "4", *args]
    )


def _state(out):
    return out.with_name(out.stem + ".state.safetensors")


def test_train_cli_refuses_to_overwrite_a_checkpoint_without_resume(runner, clean_exit, tmp_path):
    out = tmp_path / "a.safetensors"
    assert _cli_train(runner, out, "--steps", "2").exit_code == 0
    files = (out, _state(out), out.with_suffix(".json"))
    before = [f.read_bytes() for f in files]
    result = _cli_train(runner, out, "--steps", "1")
    clean_exit(result, 2)
    assert "already exists" in result.output and "--resume" in result.output and "--out" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert [f.read_bytes() for f in files] == before
    with pytest.raises(UsageError, match="already exists"):
        train(TrainConfig("ode-u-tiny", steps=1, **QUICK), out)


def test_the_state_holds_the_step_and_the_ema_weights(tmp_path):
    from safetensors import safe_open

    out = tmp_path / "s.safetensors"
    train(TrainConfig("ode-u-tiny", steps=3, **QUICK), out)
    ema = get_model("ode-u-tiny")
    load_checkpoint(out, ema, "ode-u-tiny")
    with safe_open(str(_state(out)), framework="pt") as state:
        assert state.metadata()["step"] == "3"
        for name, value in ema.state_dict().items():
            assert torch.equal(state.get_tensor(f"ema/{name}"), value), name
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("interrupted", ["save_state", "save_checkpoint"])
def test_a_run_interrupted_while_saving_resumes_where_it_was(tmp_path, monkeypatch, interrupted):
    import mubench.training.files

    cfg = dict(QUICK, save_every=2)
    whole, split = tmp_path / "whole.safetensors", tmp_path / "split.safetensors"
    train(TrainConfig("ode-u-tiny", steps=6, **cfg), whole)
    real, calls = getattr(mubench.training.files, interrupted), []

    def interrupt_the_second_save(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(mubench.training.files, interrupted, interrupt_the_second_save)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig("ode-u-tiny", steps=6, **cfg), split)
    monkeypatch.undo()
    train(TrainConfig("ode-u-tiny", steps=6, **cfg), split, resume=True)
    assert_same_weights(whole, split)


def test_a_state_without_step_and_ema_still_resumes(tmp_path):
    from safetensors.torch import load_file, save_file

    whole, split = tmp_path / "whole.safetensors", tmp_path / "split.safetensors"
    train(TrainConfig("ode-u-tiny", steps=6, **QUICK), whole)
    train(TrainConfig("ode-u-tiny", steps=3, **QUICK), split)
    older = {k: v for k, v in load_file(str(_state(split))).items() if not k.startswith("ema/")}
    save_file(older, str(_state(split)))  # as written before the state kept the EMA and the step
    train(TrainConfig("ode-u-tiny", steps=6, **QUICK), split, resume=True)
    assert_same_weights(whole, split)


@pytest.mark.parametrize(
    ("damage", "needle"), [("truncate", "cannot be read"), ("other-model", "does not match")]
)
def test_train_cli_a_damaged_state_is_one_line(runner, clean_exit, tmp_path, damage, needle):
    out = tmp_path / "a.safetensors"
    assert _cli_train(runner, out, "--steps", "2").exit_code == 0
    if damage == "truncate":
        with open(_state(out), "r+b") as handle:
            handle.truncate(64)
    else:
        other = tmp_path / "l.safetensors"
        train(TrainConfig("lucid-unet-tiny", steps=1, **QUICK), other)
        _state(other).replace(_state(out))
    result = _cli_train(runner, out, "--steps", "3", "--resume")
    clean_exit(result, 2)
    assert needle in result.output and "a.state.safetensors" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
