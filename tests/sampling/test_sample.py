"""`mubench sample`: one image per seed whatever the batch size, the row, and refused bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mubench.cli.app import app
from mubench.distributed import World
from mubench.errors import UsageError
from mubench.sampling.run import MARKER, SampleConditions, sample
from mubench.sampling.seeds import describe_seeds, parse_seeds
from mubench.schema import undeclared


def _images(out: Path, seeds: list[int]) -> list[np.ndarray]:
    return [np.asarray(Image.open(out / f"{seed:06d}.png")) for seed in seeds]


ELEMENTWISE_MODULE = '''
import torch
from torch import nn


class Elementwise(nn.Module):
    """Each output pixel from its own input pixel: the same bits whatever the batch."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.3))

    def forward(self, x, t):
        return self.scale * x + 1e-4 * t.float().view(-1, 1, 1, 1)


def elementwise():
    return Elementwise()


class Nan(Elementwise):
    def forward(self, x, t):
        return x * float("nan")


def nan():
    return Nan()


class Raises(Elementwise):
    def forward(self, x, t):
        raise RuntimeError("boom in forward")


def raises():
    return Raises()
'''


@pytest.fixture
def elementwise_model(tmp_path, monkeypatch) -> str:
    (tmp_path / "mubench_test_elementwise.py").write_text(ELEMENTWISE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "mubench_test_elementwise:elementwise"


def _sampled(out: Path, model: str, seeds: str, batch: int, **kw) -> list[np.ndarray]:
    sample(SampleConditions(model=model, seeds=seeds, batch_size=batch, **kw), out, "r")
    return _images(out, parse_seeds(seeds))


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_a_seed_draws_the_same_noise_whatever_the_batch(tmp_path, elementwise_model, eta):
    """With a denoiser whose arithmetic cannot depend on the batch, a seed's image is bit for bit the
    same in batches of 8, 3 and 1: its initial noise and (eta 1) every step's noise are its own."""
    kw = dict(steps=5, eta=eta, allow_untrained=True)
    by8 = _sampled(tmp_path / "8", elementwise_model, "0-7", 8, **kw)
    by3 = _sampled(tmp_path / "3", elementwise_model, "0-7", 3, **kw)
    assert all(np.array_equal(a, b) for a, b in zip(by8, by3))
    assert np.array_equal(by8[5], _sampled(tmp_path / "1", elementwise_model, "5", 1, **kw)[0])
    assert len({a.tobytes() for a in by8}) == 8  # each seed its own image
    other = _sampled(tmp_path / "o", elementwise_model, "0-7", 8, **{**kw, "eta": 1.0 - eta})
    assert not np.array_equal(by8[0], other[0])  # eta matters: the step noise is drawn (or not)


@pytest.mark.parametrize(("model", "eta"), [("lucid-unet-tiny", 1.0), ("ode-u-tiny", 0.0)])
def test_the_tiny_models_give_a_seed_the_same_image_in_batches_of_8_and_3(tmp_path, model, eta):
    """The real networks: CPU kernels may round differently at another batch size (about 1e-6 of the
    pixel range; measured: at most 1 of 24,576 pixel values off by one level, batch 1 against 8), so a
    PNG pixel may differ by one level, rarely; anything more would be noise that is not the seed's."""
    by8 = np.stack(_sampled(tmp_path / "8", model, "0-7", 8, steps=3, eta=eta)).astype(int)
    by3 = np.stack(_sampled(tmp_path / "3", model, "0-7", 3, steps=3, eta=eta)).astype(int)
    assert by8.shape == (8, 32, 32, 3)
    difference = np.abs(by8 - by3)
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3
    assert len({a.tobytes() for a in by8}) == 8


def test_the_row_records_model_sampler_steps_nfe_and_time(tmp_path):
    conds = SampleConditions(model="ode-u-tiny", seeds="0-2", steps=2, batch_size=2)
    row = sample(conds, tmp_path / "s", "r")
    assert undeclared(list(row)) == []
    assert (row["command"], row["model"], row["sampler"], row["steps"]) == (
        "sample",
        "ode-u-tiny",
        "ddim(eta=0)",
        2,
    )
    assert row["checkpoint"].startswith("shipped:") and row["training_steps"] > 0
    # rk4 with one step: 4 evaluations per ODE block per call, 2 calls
    from mubench.measure.runtime.build import build_model
    from mubench.models.ode_block import nfe_by_block
    from mubench.registry import get_spec

    blocks = len(nfe_by_block(build_model(get_spec("ode-u-tiny"))))
    assert row["nfe_per_trajectory"] == 2 * 4 * blocks
    assert row["sample_s_per_image"] > 0
    grid = np.asarray(Image.open(tmp_path / "s" / "grid.png"))
    assert grid.shape == (32, 3 * 32, 3)
    assert np.array_equal(grid[:, 32:64], _images(tmp_path / "s", [1])[0])


def test_seed_ranges():
    assert parse_seeds("0-3,7,9-10") == [0, 1, 2, 3, 7, 9, 10]
    assert describe_seeds([0, 1, 2, 3, 7, 9, 10]) == "0-3,7,9-10"
    assert World(1, 3).share(list(range(10))) == [1, 4, 7]
    assert sorted(s for r in range(3) for s in World(r, 3).share(list(range(10)))) == list(range(10))
    for bad in ["", "a", "3-1", "1-", "-1", "0-3,2", "1.5", "0 - 3", "0-99999999999"]:
        with pytest.raises(UsageError):
            parse_seeds(bad)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--seeds", "5-2"], "ends before it starts"),
        (["--seeds", "0-x"], "write seeds as A-B"),
        (["--batch-size", "0"], "'--batch-size'"),
        (["--sampler", "ddpm", "--steps", "5"], "ddpm sampler runs every step"),
        (["--checkpoint", "lucid-unet-tiny=x.safetensors"], "the model sampled is ode-u-tiny"),
        (["--checkpoint", "ode-u-tiny=nowhere.safetensors"], "does not exist"),
    ],
)
def test_bad_input_gets_one_line_and_makes_no_folder(runner, tmp_path, clean_exit, args, says):
    out = tmp_path / "new"
    result = runner.invoke(app, ["sample", "-m", "ode-u-tiny", "--out", str(out), *args])
    clean_exit(result, 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert not out.exists()


def test_a_folder_it_did_not_make_is_refused_and_left_alone(runner, tmp_path, clean_exit):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    args = ["sample", "-m", "ode-u-tiny", "--seeds", "0-1", "--steps", "2", "-q", "--out"]
    result = runner.invoke(app, [*args, str(out)])
    clean_exit(result, 2)
    assert "not empty and was not made by mubench sample" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]

    result = runner.invoke(app, [*args, str(out / "notes.txt")])
    clean_exit(result, 2)
    assert "is a file" in result.stderr


def test_its_own_folder_is_reused_for_the_same_conditions_only(runner, tmp_path, clean_exit):
    out, csv = tmp_path / "s", tmp_path / "rows.csv"
    args = ["sample", "-m", "ode-u-tiny", "--seeds", "0-1", "--steps", "2", "-q", "--out", str(out)]
    clean_exit(runner.invoke(app, [*args, "--csv", str(csv)]), 0)
    assert sorted(p.name for p in out.iterdir()) == ["000000.png", "000001.png", "grid.png", MARKER]
    assert json.loads((out / MARKER).read_text())["conditions"]["model"] == "ode-u-tiny"
    row = pd.read_csv(csv).iloc[0]
    assert (row["model"], row["steps"], row["n_seeds"]) == ("ode-u-tiny", 2, 2)

    clean_exit(runner.invoke(app, [*args, "--seeds", "2"]), 0)  # more seeds, same conditions
    assert (out / "000002.png").is_file()
    result = runner.invoke(app, [*args[:-5], "--steps", "3", "-q", "--out", str(out)])
    clean_exit(result, 2)
    assert "holds samples of other conditions" in result.stderr


FAILURES = [
    ("nan", "gave non-finite values for seeds 0-2"),
    ("raises", "failed on seeds 0-2: RuntimeError: boom"),
]


@pytest.mark.parametrize(("factory", "says"), FAILURES)
def test_a_model_that_fails_stops_the_run_with_one_line(
    runner, tmp_path, clean_exit, elementwise_model, factory, says
):
    model = elementwise_model.replace(":elementwise", f":{factory}")
    out = tmp_path / "s"
    args = [
        "sample",
        "-m",
        model,
        "--seeds",
        "0-2",
        "--steps",
        "2",
        "--allow-untrained",
        "-q",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    clean_exit(result, 1)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert not list(out.glob("*.png"))
