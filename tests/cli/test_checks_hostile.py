"""Values checked before they are used or saved: schedules, FID statistics, result files holding
infinities, NaN given for an option, an exact copy's PSNR; and the smaller classes of bad input (a user's
factory that raises or declares a bad resolution, a file given as a folder)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from mubench.checks import check_betas, check_statistics
from mubench.cli.app import app
from mubench.diffusion.schedules import NoiseSchedule
from mubench.errors import UsageError
from mubench.measure.robustness.metrics import scored_fields

TINY = ["-m", "ode-u-tiny"]


@pytest.mark.parametrize(
    "betas",
    [[], [0.1], [0.1, math.nan], [0.1, math.inf], [0.1, 1.0], [0.1, 1.5], [0.0, 0.1], [-0.1, 0.1], "linear",
     [0.1, "0.2"], [True, 0.1]],
    ids=repr,
)  # fmt: skip
def test_a_schedule_that_is_not_one_is_refused_wherever_it_is_built(betas):
    with pytest.raises(UsageError):
        check_betas(betas, "test")
    if isinstance(betas, list) and all(isinstance(b, float) for b in betas):
        with pytest.raises(UsageError):
            NoiseSchedule("custom", torch.tensor(betas, dtype=torch.float64))


def test_every_built_in_schedule_passes_the_check():
    for name in ("linear", "cosine", "sigmoid"):
        assert NoiseSchedule.create(name).num_steps == 1000


def _gaussian(d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).normal(size=(4 * d, d))
    return x.mean(0), np.cov(x, rowvar=False)


STATISTICS = {
    "sigma with NaN": lambda mu, s: (mu, np.where(np.eye(len(mu)) > 0, np.nan, s)),
    "mu with inf": lambda mu, s: (np.full_like(mu, np.inf), s),
    "sigma not symmetric": lambda mu, s: (mu, s + np.triu(np.ones_like(s), 1)),
    "sigma negative definite": lambda mu, s: (mu, -s),
    "sigma of another size": lambda mu, s: (mu, s[:-1, :-1]),
    "empty": lambda mu, s: (mu[:0], s[:0, :0]),
}


@pytest.mark.parametrize("case", list(STATISTICS))
def test_statistics_that_are_not_a_mean_and_a_covariance_are_refused(case):
    with pytest.raises(UsageError):
        check_statistics(*STATISTICS[case](*_gaussian(6, 0)), "test")
    check_statistics(*_gaussian(6, 0), "test")  # the real thing passes


@pytest.mark.parametrize("case", ["sigma not symmetric", "sigma negative definite", "sigma with NaN"])
def test_fid_of_a_sigma_that_is_not_a_covariance_is_one_line_and_saves_nothing(case, tmp_path, runner):
    mu, sigma = STATISTICS[case](*_gaussian(8, 1))
    np.savez(tmp_path / "bad.npz", mu=mu, sigma=sigma)
    np.savez(tmp_path / "good.npz", **dict(zip(("mu", "sigma"), _gaussian(8, 2))))
    csv = tmp_path / "fid.csv"
    result = runner.invoke(
        app, ["fid", str(tmp_path / "bad.npz"), str(tmp_path / "good.npz"), "--csv", str(csv)]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert not csv.exists()


def test_an_exact_copy_scores_psnr_inf_and_is_not_a_failure():
    fields = scored_fields({"psnr_db": [math.inf, math.inf], "ssim": [1.0, 1.0]})
    assert fields.get("status", "ok") == "ok" and "exact copies" in fields["message"]
    assert "non-finite" not in fields["message"]
    failed = scored_fields({"psnr_db": [math.nan, math.inf], "ssim": [math.nan, 1.0]})
    assert failed["status"] == "error" and "1 of 2 images scored non-finite" in failed["message"]


@pytest.mark.parametrize("command", ["compare", "report"])
@pytest.mark.parametrize(("column", "value"), [("params_total", "inf"), ("psnr_db_mean", "-inf")])
def test_a_result_file_holding_an_infinity_is_one_line(command, column, value, tmp_path, runner):
    base = tmp_path / "base.csv"
    assert runner.invoke(app, ["params", *TINY, "--csv", str(base), "-q"]).exit_code == 0
    damaged = tmp_path / "damaged.csv"
    pd.read_csv(base).assign(**{column: value}).to_csv(damaged, index=False)
    args = ["compare", str(damaged), str(base)] if command == "compare" else ["report", str(damaged), "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert f"{column} is" in result.output and "damaged or edited" in result.output


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "+Infinity"])
@pytest.mark.parametrize(
    ("args", "flag"),
    [(["sample", *TINY, "--out", "s"], "--eta"), (["robustness", *TINY], "--sigma"),
     (["compare", "a.csv", "b.csv"], "--threshold"), (["latency", *TINY], "--rtol")],
)  # fmt: skip
def test_nan_or_infinity_for_an_option_is_named_as_such(args, flag, value, runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*args, f"{flag}={value}"])
    assert result.exit_code == 2 and "finite number" in result.output, result.output
    assert "should be" not in result.output


def test_a_factory_that_raises_is_one_line_in_sample(user_module, runner, tmp_path):
    result = runner.invoke(app, ["sample", "-m", f"{user_module}:raises", "--allow-untrained", "--seeds", "0",
                                 "--out", str(tmp_path / "s"), "-q"])  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "could not be built: RuntimeError: boom in the factory" in result.output


@pytest.mark.parametrize("value", ["'32'", "0", "-16", "16.5", "True", "None"])
def test_a_bad_declared_resolution_is_refused_not_ignored(value, user_module, runner, tmp_path, monkeypatch):
    import importlib

    module = importlib.import_module(user_module)
    monkeypatch.setattr(module.good, "mubench_resolution", eval(value))
    result = runner.invoke(app, ["params", "-m", f"{user_module}:good"])
    assert result.exit_code == 2 and "mubench_resolution" in result.output, result.output


def test_a_file_given_as_a_folder_dataset_says_it_is_a_file(tmp_path, runner):
    (tmp_path / "image.png").write_bytes(b"")
    result = runner.invoke(app, ["robustness", *TINY, "--dataset", f"folder:{tmp_path / 'image.png'}"])
    assert result.exit_code == 2 and "is a file" in result.output, result.output
