"""Hostile inputs to train: numbers out of range are refused before anything is written; a run whose loss
or weights stop being finite, or whose user model fails, stops with one line and leaves the files as they
were; --resume refuses other settings and fewer steps."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from mubench.checkpoints import read_meta
from mubench.errors import MeasurementError, UsageError
from mubench.training import TrainConfig, train

QUICK = dict(dataset="patches32", batch_size=2, lr=1e-3, save_every=1000)
HOSTILE_VALUES = ("nan", "inf", "-inf", "-1", "0", "123456789012345678901234567890")


def _numeric_options() -> list[str]:
    from mubench.cli.app import command

    params = command("train").params
    return sorted(p.opts[0] for p in params if p.type_descriptor.annotation in (int, float))


def test_the_numeric_options_are_the_ones_expected():  # a new one must be added to the checks below
    assert _numeric_options() == [
        "--batch-size", "--ema-decay", "--eval-every", "--eval-images", "--eval-steps", "--grad-clip",
        "--images", "--lr", "--minutes", "--resolution", "--save-every", "--seed", "--steps", "--train-tmacs",
        "--workers",
    ]  # fmt: skip


def _train(runner, tmp_path, tree_digest, *args, out="t.safetensors", model="ode-u-tiny"):
    """``mubench train`` into ``tmp_path``; the result and whether the files there are as they were."""
    from mubench.cli.app import app

    (tmp_path / "earlier.txt").write_text("kept as it was\n")
    before = tree_digest(tmp_path)
    result = runner.invoke(app, ["train", "-q", "-m", model, "--out", str(tmp_path / out), "--steps", "1",
                                 "--batch-size", "2", *args])  # fmt: skip
    assert "Traceback" not in result.output, result.output
    return result, tree_digest(tmp_path) == before


def _one_line_failure(result, clean_exit, code: int) -> None:
    clean_exit(result, code)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error:"), result.stderr


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("option", _numeric_options())
def test_every_numeric_option_is_accepted_or_refused_before_anything_is_written(
    runner, clean_exit, tmp_path, tree_digest, option, value
):
    result, unchanged = _train(runner, tmp_path, tree_digest, option, value)
    if result.exit_code == 0:  # accepted: a checkpoint of finite weights
        assert value not in ("nan", "inf", "-inf")
        weights = load_file(str(tmp_path / "t.safetensors"))
        assert all(torch.isfinite(w).all() for w in weights.values())
    else:  # refused, by the parser (not a number of its type, out of range) or by train's own checks
        _one_line_failure(result, clean_exit, 2)
        assert option in result.stderr, result.stderr
        assert unchanged


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [(dict(lr=float("nan")), "lr"), (dict(lr=2.0), "lr"), (dict(grad_clip=float("inf")), "grad_clip"),
     (dict(minutes=float("nan")), "minutes"), (dict(ema_decay=1.0), "ema_decay"),
     (dict(save_every=0), "save_every"), (dict(seed=2**63), "seed"), (dict(steps=10**7), "steps")],
)  # fmt: skip
def test_python_callers_get_the_same_checks(kwargs, needle):
    with pytest.raises(UsageError) as caught:
        TrainConfig("ode-u-tiny", **{**QUICK, **kwargs})
    assert caught.value.field == needle


def test_large_seeds_train(tmp_path):
    meta = train(TrainConfig("ode-u-tiny", steps=1, seed=2**63 - 1, **QUICK), tmp_path / "s.safetensors")
    assert meta["steps"] == 1


@pytest.mark.parametrize(
    ("factory", "needle"),
    [("nan", "loss"), ("inf", "loss"), ("nan_gradient", "weights"), ("forward_raises", "boom in forward"),
     ("forward_exits", "SystemExit"), ("forward_tuple", "tuple"), ("forward_none", "NoneType"),
     ("one_pixel", "shape"), ("one_channel", "shape"), ("factory_raises", "boom in the factory"),
     ("factory_exits", "SystemExit"), ("factory_returns_tuple", "tuple")],
)  # fmt: skip
def test_a_failing_model_stops_training_with_one_line_and_writes_nothing(
    runner, clean_exit, hostile_module, tmp_path, tree_digest, factory, needle
):
    result, unchanged = _train(runner, tmp_path, tree_digest, model=f"{hostile_module}:{factory}")
    assert result.exit_code in (1, 2)
    _one_line_failure(result, clean_exit, result.exit_code)
    assert needle in result.stderr
    if factory.startswith(("nan", "inf", "forward", "one")):  # it failed in the first step, and says so
        assert "step 1" in result.stderr
    assert unchanged


def test_a_budget_that_ends_before_the_first_step_writes_nothing(runner, clean_exit, tmp_path, tree_digest):
    result, unchanged = _train(runner, tmp_path, tree_digest, "--minutes", "1e-12")
    _one_line_failure(result, clean_exit, 1)
    assert "--minutes" in result.stderr and unchanged


def _files(out):
    return {
        p: p.read_bytes()
        for p in (out, out.with_suffix(".json"), out.with_name(out.stem + ".state.safetensors"))
    }


def test_a_run_that_fails_after_saving_removes_its_saves(hostile_module, tmp_path):
    (tmp_path / "run").mkdir()
    out = tmp_path / "run" / "f.safetensors"
    with pytest.raises(MeasurementError, match="step 3"):
        train(
            TrainConfig(f"{hostile_module}:nan_from_third_call", steps=4, **{**QUICK, "save_every": 1}), out
        )
    assert list(out.parent.iterdir()) == []


def test_a_resumed_run_that_fails_leaves_the_earlier_run_as_it_was(hostile_module, tmp_path):
    out, name = tmp_path / "f.safetensors", f"{hostile_module}:nan_from_third_call"
    train(TrainConfig(name, steps=2, **QUICK), out)  # two calls: finite
    before = _files(out)
    with pytest.raises(MeasurementError, match="step 5") as caught:  # steps 3 and 4 saved, then NaN
        train(TrainConfig(name, steps=6, **{**QUICK, "save_every": 1}), out, resume=True)
    assert "as it was" in str(caught.value)
    assert _files(out) == before


@pytest.fixture
def full_disk(monkeypatch):
    """``full_disk(n)``: the n-th atomic write of a file from now on fails as on a full disk."""
    import errno

    import mubench.checkpoints
    import mubench.results
    import mubench.training.files
    import mubench.training.state

    real, writes = mubench.results.write_bytes_atomic, []

    def arm(failing_write: int) -> None:
        def filling(path, data):
            writes.append(path)
            if len(writes) == failing_write:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            real(path, data)

        monkeypatch.setattr(mubench.training.files, "write_bytes_atomic", filling)
        monkeypatch.setattr(mubench.training.state, "write_bytes_atomic", filling)
        monkeypatch.setattr(mubench.checkpoints, "write_bytes_atomic", filling)

    return arm


# Each save writes the state, then the weights (then the sidecar, as text). With --steps 3 and a save
# after every step, writes 1-2 are step 1's save, 3-4 step 2's, 5-6 step 3's and 7-8 the final one.
@pytest.mark.parametrize(("failing_write", "step"), [(1, 1), (4, 2), (7, 3)])
def test_a_disk_that_fills_during_a_save_stops_training_and_writes_nothing(full_disk, tmp_path, failing_write,
                                                                            step):  # fmt: skip
    (tmp_path / "run").mkdir()
    out = tmp_path / "run" / "f.safetensors"
    full_disk(failing_write)
    with pytest.raises(MeasurementError, match=f"step {step}: could not save: No space left") as caught:
        train(TrainConfig("ode-u-tiny", steps=3, **{**QUICK, "save_every": 1}), out)
    assert "nothing was written" in str(caught.value)
    assert list(out.parent.iterdir()) == []


def test_a_full_disk_gets_one_line_from_the_command(runner, clean_exit, full_disk, tmp_path, tree_digest):
    full_disk(1)
    result, unchanged = _train(runner, tmp_path, tree_digest)
    _one_line_failure(result, clean_exit, 1)
    assert "No space left on device" in result.stderr and unchanged


# -- resume


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 2-step run of ode-u-tiny (batch 2, lr 0.001) written by the CLI: its folder."""
    from typer.testing import CliRunner

    from mubench.cli.app import app

    folder = tmp_path_factory.mktemp("trained")
    out = folder / "r.safetensors"
    result = CliRunner().invoke(app, ["train", "-q", "-m", "ode-u-tiny", "--out", str(out), "--steps", "2",
                                      "--batch-size", "2", "--lr", "0.001"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder


def _resume(runner, trained_run, tmp_path, tree_digest, *args):
    from mubench.cli.app import app

    for path in trained_run.iterdir():
        shutil.copy(path, tmp_path / path.name)
    before = tree_digest(tmp_path)
    result = runner.invoke(app, ["train", "-q", "-m", "ode-u-tiny", "--out", str(tmp_path / "r.safetensors"),
                                 "--resume", "--batch-size", "2", "--lr", "0.001", *args])  # fmt: skip
    assert "Traceback" not in result.output, result.output
    return result, tree_digest(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "needles"),
    [(["--steps", "3", "--prediction", "eps"], ["--prediction v (now eps)"]),
     (["--steps", "3", "--lr", "0.1"], ["--lr 0.001 (now 0.1)"]),
     (["--steps", "3", "--batch-size", "8"], ["--batch-size 2 (now 8)"]),
     (["--steps", "3", "--ema-decay", "0.5"], ["--ema-decay"]),
     (["--steps", "3", "--grad-clip", "2"], ["--grad-clip"]),
     (["--steps", "3", "--seed", "1"], ["--seed 0 (now 1)"]),
     (["--steps", "3", "--dataset", "faces32"], ["--dataset patches32 (now faces32)"]),
     (["--steps", "30", "--prediction", "eps", "--lr", "0.1", "--batch-size", "8"],
      ["--prediction", "--lr", "--batch-size"]),
     (["--steps", "1"], ["already trained 2 steps"]),
     (["--steps", "3", "-m", "lucid-unet-tiny"], ["lucid-unet-tiny"])],
)  # fmt: skip
def test_resuming_with_other_settings_or_fewer_steps_is_refused(
    runner, clean_exit, trained_run, tmp_path, tree_digest, args, needles
):
    result, unchanged = _resume(runner, trained_run, tmp_path, tree_digest, *args)
    _one_line_failure(result, clean_exit, 2)
    assert all(needle in result.stderr for needle in needles), result.stderr
    assert unchanged


@pytest.mark.parametrize("args", [["--steps", "3"], ["--steps", "3", "--prediction", "v"], ["--steps", "2"]])
def test_resuming_with_the_same_settings_trains_on(runner, trained_run, tmp_path, tree_digest, args):
    result, _ = _resume(runner, trained_run, tmp_path, tree_digest, *args)
    assert result.exit_code == 0, result.output
    meta = read_meta(tmp_path / "r.safetensors")
    assert meta["steps"] == int(args[1]) == meta["config"]["steps"] and meta["prediction"] == "v"


@pytest.mark.parametrize(
    ("edit", "needle"),
    [(lambda m: m.update(schedule="linear"), "schedule linear"),
     (lambda m: m.update(resolution=64), "resolution 64"),
     (lambda m: m["config"].pop("grad_clip"), "grad_clip not recorded")],
)  # fmt: skip
def test_what_the_options_cannot_change_must_match_too(trained_run, tmp_path, tree_digest, edit, needle):
    for path in trained_run.iterdir():
        shutil.copy(path, tmp_path / path.name)
    side = tmp_path / "r.json"
    meta = json.loads(side.read_text())
    edit(meta)
    side.write_text(json.dumps(meta))
    before = tree_digest(tmp_path)
    with pytest.raises(UsageError, match=needle):
        train(
            TrainConfig("ode-u-tiny", steps=3, **{**QUICK, "lr": 0.001}),
            tmp_path / "r.safetensors",
            resume=True,
        )
    assert tree_digest(tmp_path) == before
