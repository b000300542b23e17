"""diffusers folders with values of the wrong type, NaN weights or impossible schedules: `convert`,
`params`, `flops` and `sample` give one line (exit 2) and write nothing; a converted checkpoint, and a
diffusers folder itself, can be sampled with their own schedule."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import pytest

from mubench.cli.app import app

diffusers = pytest.importorskip("diffusers")
warnings.filterwarnings("ignore", category=FutureWarning)

TINY = dict(
    sample_size=32, block_out_channels=[32, 64, 64], layers_per_block=1,
    down_block_types=["DownBlock2D", "AttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
    attention_head_dim=None, norm_eps=1e-6, downsample_padding=0, freq_shift=1, flip_sin_to_cos=False,
)  # fmt: skip


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    diffusers.UNet2DModel(**TINY).save_pretrained(root / "unet")
    diffusers.DDPMScheduler(beta_schedule="linear").save_pretrained(root / "scheduler")
    return root


def _variant(pipeline: Path, tmp_path: Path, unet: dict | None = None, scheduler: dict | None = None) -> Path:
    folder = tmp_path / "variant"
    shutil.copytree(pipeline, folder)
    for name, change in (("unet/config.json", unet), ("scheduler/scheduler_config.json", scheduler)):
        if change:
            path = folder / name
            path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    return folder


UNET_VALUES = [
    ("in_channels", "3"), ("in_channels", -1), ("out_channels", 3.5), ("block_out_channels", []),
    ("block_out_channels", "32"), ("block_out_channels", [32, "64", 64]), ("layers_per_block", "1"),
    ("layers_per_block", 0), ("norm_num_groups", None), ("norm_eps", "1e-6"), ("sample_size", "32"),
    ("sample_size", [32]), ("sample_size", [32, 16]), ("sample_size", -32), ("down_block_types", []),
    ("down_block_types", "DownBlock2D"), ("attention_head_dim", "8"), ("flip_sin_to_cos", "false"),
]  # fmt: skip
SCHEDULER_VALUES = [
    ("num_train_timesteps", "1000"), ("num_train_timesteps", -5), ("num_train_timesteps", 1),
    ("beta_start", "0.0001"), ("beta_end", 1.5), ("beta_end", math.nan), ("trained_betas", []),
    ("trained_betas", [math.nan] * 4), ("trained_betas", [0.1, 2.0]), ("trained_betas", "linear"),
    ("beta_schedule", 3), ("prediction_type", ["epsilon"]),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), UNET_VALUES, ids=[f"{f}={v!r}" for f, v in UNET_VALUES])
@pytest.mark.parametrize("command", ["convert", "params"])
def test_a_unet_config_value_of_the_wrong_type_is_one_line(command, field, value, pipeline, tmp_path, runner):
    folder = _variant(pipeline, tmp_path, unet={field: value})
    out = tmp_path / "c.safetensors"
    args = (["convert", str(folder), "-m", "ddpm-unet-tiny", "--out", str(out)] if command == "convert"
            else ["params", "-m", f"diffusers:{folder}"])  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert field in result.output and not out.exists()


@pytest.mark.parametrize(
    ("field", "value"), SCHEDULER_VALUES, ids=[f"{f}={v!r}" for f, v in SCHEDULER_VALUES]
)
def test_a_scheduler_value_of_the_wrong_type_or_an_impossible_beta_is_one_line(
    field, value, pipeline, tmp_path, runner
):
    folder = _variant(pipeline, tmp_path, scheduler={field: value})
    out = tmp_path / "c.safetensors"
    result = runner.invoke(app, ["convert", str(folder), "-m", "ddpm-unet-tiny", "--out", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "scheduler config" in result.output and not out.exists() and not out.with_suffix(".json").exists()


def test_nan_weights_are_not_converted(pipeline, tmp_path, runner):
    from safetensors.torch import load_file, save_file

    folder = _variant(pipeline, tmp_path)
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(weights)
    first = sorted(tensors)[0]
    tensors[first] = tensors[first].fill_(math.nan)
    save_file(tensors, weights)
    out = tmp_path / "c.safetensors"
    result = runner.invoke(app, ["convert", str(folder), "-m", "ddpm-unet-tiny", "--out", str(out)])
    assert result.exit_code == 2 and "non-finite" in result.output, result.output
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_a_square_sample_size_pair_is_read_as_its_side(pipeline, tmp_path, runner):
    folder = _variant(pipeline, tmp_path, unet={"sample_size": [32, 32]})
    result = runner.invoke(app, ["params", "-m", f"diffusers:{folder}"])
    assert result.exit_code == 0, result.output


def test_a_converted_checkpoint_is_sampled_with_its_own_betas(pipeline, tmp_path, runner, monkeypatch):
    from mubench.diffusion import samplers

    out = tmp_path / "c.safetensors"
    assert (
        runner.invoke(app, ["convert", str(pipeline), "-m", "ddpm-unet-tiny", "--out", str(out)]).exit_code
        == 0
    )
    betas = json.loads(out.with_suffix(".json").read_text())["betas"]
    seen = []
    real = samplers.Sampler.sample

    def spy(self, denoiser, schedule, *args, **kwargs):
        seen.append(schedule.betas.tolist())
        return real(self, denoiser, schedule, *args, **kwargs)

    monkeypatch.setattr(samplers.Sampler, "sample", spy)
    for model, extra in (("ddpm-unet-tiny", ["--checkpoint", f"ddpm-unet-tiny={out}"]),
                         (f"diffusers:{pipeline}", [])):  # fmt: skip
        result = runner.invoke(app, ["sample", "-m", model, *extra, "--seeds", "0", "--steps", "2",
                                     "--out", str(tmp_path / f"s{len(seen)}"), "-q"])  # fmt: skip
        assert result.exit_code == 0, result.output
    assert len(seen) == 2 and all(s == pytest.approx(betas) for s in seen)
