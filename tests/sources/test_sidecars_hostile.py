"""Checkpoint sidecars of every wrong shape, and the weights and schedules written beside them: each
command that reads a checkpoint refuses a damaged sidecar in one line (exit 2), and nothing with NaN, an
impossible beta or a field of the wrong type is ever written."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from mubench.checkpoints import save_checkpoint, shipped_checkpoint
from mubench.cli.app import app
from mubench.errors import UsageError
from mubench.registry import get_model
from mubench.sidecar import read_sidecar

TINY = "ode-u-tiny"
VALID = json.loads(shipped_checkpoint(TINY).with_suffix(".json").read_text())

# (what is wrong, the sidecar's bytes, a word the one line must hold)
SHAPES = [
    ("a list", b"[1, 2]", "not a JSON object"),
    ("a number", b"3", "not a JSON object"),
    ("a string", b'"ode-u-tiny"', "not a JSON object"),
    ("null", b"null", "not a JSON object"),
    ("not UTF-8", b'{"model": "\xff\xfe"}', "UTF-8"),
    ("not JSON", b"{model: ode-u-tiny", "not valid JSON"),
    ("a bare NaN", json.dumps({**VALID, "final_loss": "X"}).replace('"X"', "NaN").encode(), "NaN"),
    ("an Infinity", json.dumps({**VALID, "final_loss": "X"}).replace('"X"', "Infinity").encode(), "Infinity"),
    ("steps as text", json.dumps({**VALID, "steps": "1200"}).encode(), "'steps'"),
    ("negative steps", json.dumps({**VALID, "steps": -1}).encode(), "'steps'"),
    ("steps as a bool", json.dumps({**VALID, "steps": True}).encode(), "'steps'"),
    ("model as a list", json.dumps({**VALID, "model": [TINY]}).encode(), "'model'"),
    ("schedule as a number", json.dumps({**VALID, "schedule": 3}).encode(), "'schedule'"),
    ("unknown prediction", json.dumps({**VALID, "prediction": "noise"}).encode(), "'prediction'"),
    ("resolution zero", json.dumps({**VALID, "resolution": 0}).encode(), "'resolution'"),
    ("config as a list", json.dumps({**VALID, "config": []}).encode(), "'config'"),
    ("betas as text", json.dumps({**VALID, "betas": "linear"}).encode(), "betas"),
    ("empty betas", json.dumps({**VALID, "betas": []}).encode(), "betas"),
    ("a beta above 1", json.dumps({**VALID, "betas": [0.1, 1.5]}).encode(), "beta at step 1"),
    ("a zero beta", json.dumps({**VALID, "betas": [0.0, 0.1]}).encode(), "beta at step 0"),
    ("a beta as text", json.dumps({**VALID, "betas": [0.1, "x"]}).encode(), "betas must be numbers"),
]


def _checkpoint(folder: Path, sidecar: bytes | None) -> Path:
    path = folder / "weights.safetensors"
    shutil.copy(shipped_checkpoint(TINY), path)
    if sidecar is not None:
        path.with_suffix(".json").write_bytes(sidecar)
    return path


@pytest.mark.parametrize(("case", "data", "word"), SHAPES, ids=[s[0] for s in SHAPES])
def test_every_wrong_sidecar_shape_is_one_line(case, data, word, tmp_path):
    with pytest.raises(UsageError) as info:
        read_sidecar(_checkpoint(tmp_path, data))
    assert word in str(info.value) and "\n" not in str(info.value)


def test_a_folder_where_the_sidecar_should_be_is_refused(tmp_path):
    path = _checkpoint(tmp_path, None)
    path.with_suffix(".json").mkdir()
    with pytest.raises(UsageError, match="is not a file"):
        read_sidecar(path)


def test_a_valid_sidecar_reads_as_its_record(tmp_path):
    meta = read_sidecar(_checkpoint(tmp_path, json.dumps({**VALID, "betas": [0.1, 0.2]}).encode()))
    assert meta["steps"] == VALID["steps"] and meta["betas"] == [0.1, 0.2]
    assert read_sidecar(tmp_path / "none.safetensors") == {}


COMMANDS = {
    "robustness": ["robustness", "-m", TINY, "--num-images", "2", "--sigma", "0.2"],
    "sample": ["sample", "-m", TINY, "--seeds", "0", "--steps", "2", "--out", "{tmp}/s"],
    "flops": ["flops", "-m", TINY],
    "latency": ["latency", "-m", TINY, "--warmup", "1", "--repeats", "2"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", ["a list", "not UTF-8", "steps as text", "a beta above 1"])
def test_each_command_that_reads_a_checkpoint_refuses_a_damaged_sidecar(command, case, runner, tmp_path):
    data = dict((s[0], s[1]) for s in SHAPES)[case]
    path = _checkpoint(tmp_path, data)
    args = [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[command]]
    result = runner.invoke(app, [*args, "--checkpoint", f"{TINY}={path}", "-q"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "sidecar" in result.output
    assert not (tmp_path / "s").exists()  # refused before any folder was made


def test_train_resume_refuses_a_damaged_sidecar(runner, tmp_path):
    out = tmp_path / "run.safetensors"
    args = ["train", "-m", TINY, "--steps", "2", "--batch-size", "2", "--out", str(out), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    before = out.read_bytes()
    out.with_suffix(".json").write_text("[1, 2]")
    result = runner.invoke(app, [*args[:4], "4", *args[5:], "--resume"])
    assert result.exit_code == 2 and "not a JSON object" in result.output, result.output
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    ("change", "word"),
    [({"final_loss": math.nan}, "final_loss"), ({"betas": [0.1, math.nan]}, "beta at step 1"),
     ({"betas": []}, "betas"), ({"steps": "3"}, "'steps'"), ({"extra": {"x": math.inf}}, "extra.x")],
)  # fmt: skip
def test_a_sidecar_with_nan_or_a_wrong_type_is_never_written(change, word, tmp_path):
    path = tmp_path / "w.safetensors"
    with pytest.raises(UsageError, match=word):
        save_checkpoint(path, get_model(TINY), {**VALID, **change})
    assert list(tmp_path.iterdir()) == []


def test_weights_holding_nan_are_never_written(tmp_path):
    model = get_model(TINY)
    with torch.no_grad():
        next(model.parameters()).fill_(math.nan)
    with pytest.raises(UsageError, match="non-finite"):
        save_checkpoint(tmp_path / "w.safetensors", model, {"model": TINY})
    assert list(tmp_path.iterdir()) == []
