"""LPIPS in robustness: the lpips package's own distance, backbone weights from a file (never
downloaded), the note or refusal without them, the columns, and the claim that uses it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from writers import write_random_alexnet

from mubench.cli.app import app
from mubench.data import load_dataset
from mubench.data.builtin import load_builtin
from mubench.errors import UsageError
from mubench.measure.robustness.conditions import RobustnessConditions
from mubench.measure.robustness.lpips import BACKBONE_FILES, LpipsScorer
from mubench.measure.robustness.metrics import Scores, scored_fields
from mubench.measure.robustness.noise import noise_seed, noisy_images
from mubench.measure.robustness.run import measure_robustness
from mubench.report.measurements.robustness import HIGH_SIGMA, robustness_claim
from mubench.report.verdicts import FAILS, HOLDS, Claim
from mubench.results import read_results
from mubench.schema import BY_NAME, undeclared

LPIPS_COLUMNS = [f"lpips{diff}_{stat}" for diff in ("", "_diff") for stat in ("mean", "std", "ci95")]


@pytest.fixture(scope="module")
def alex_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("torch_home")
    write_random_alexnet(home / "hub" / "checkpoints" / BACKBONE_FILES["alex"])
    return home


@pytest.fixture
def with_alex(alex_home, monkeypatch, no_download) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(alex_home))
    return alex_home


@pytest.fixture
def empty_home(tmp_path, monkeypatch, no_download) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    return tmp_path / "empty"


def _pairs(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    clean = load_builtin("patches32", "test").images[:n]
    return noisy_images(clean, 0.2, seed=5).numpy(), clean.numpy()


def test_lpips_of_an_image_with_itself_is_zero(with_alex):
    _, clean = _pairs()
    assert LpipsScorer("alex")(clean, clean) == [0.0] * len(clean)


def test_per_image_lpips_is_the_lpips_packages_own(with_alex):
    """The package builds its AlexNet through torchvision, which reads the same cached file."""
    import warnings

    import lpips

    noisy, clean = _pairs()
    ours = LpipsScorer("alex")(noisy, clean)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", UserWarning)
        theirs = lpips.LPIPS(net="alex", verbose=False)(
            torch.from_numpy(noisy), torch.from_numpy(clean), normalize=True
        )
    assert ours == [float(v) for v in theirs.flatten()]
    assert len(set(ours)) == len(ours) and min(ours) > 0  # six different, non-trivial distances


def test_too_small_images_are_refused_by_alexnet(with_alex):
    with pytest.raises(UsageError, match="28x28"):
        LpipsScorer("alex").check_size(28)
    LpipsScorer("alex").check_size(32)


def test_images_too_small_for_the_backbone_leave_lpips_out_unless_asked_for(with_alex):
    from mubench.measure.robustness.conditions import LPIPS_LEFT_OUT
    from mubench.measure.robustness.run import _scores

    score, note = _scores(RobustnessConditions(), 28)
    assert score.metrics == ("psnr", "ssim") and note.startswith(LPIPS_LEFT_OUT) and "28x28" in note
    with pytest.raises(UsageError, match="28x28"):
        _scores(RobustnessConditions(metrics=("lpips",)), 28)
    score, note = _scores(RobustnessConditions(), 32)
    assert score.metrics == ("psnr", "ssim", "lpips") and note is None


def test_only_the_metrics_named_are_measured(with_alex):
    conds = RobustnessConditions(sigmas=(0.2,), num_images=3, references=("identity",), metrics=("lpips",),
                                 prefault=False)  # fmt: skip
    row = measure_robustness([], conds, "r")[0]
    assert {"lpips_mean", "lpips_std", "lpips_ci95"} <= set(row)
    assert not {"psnr_db_mean", "ssim_mean"} & set(row)


def test_a_nan_output_is_left_out_like_psnr_and_ssim(with_alex):
    noisy, clean = _pairs(4)
    noisy = noisy.clip(0, 1)
    noisy[1] = np.nan
    per_image = Scores(("psnr", "ssim", "lpips"), LpipsScorer("alex"))(list(noisy), clean)
    assert math.isnan(per_image["lpips"][1])
    fields = scored_fields(per_image)
    assert fields["n_nonfinite"] == 1
    others = [v for i, v in enumerate(per_image["lpips"]) if i != 1]
    assert fields["lpips_mean"] == pytest.approx(np.mean(others), rel=1e-12)
    assert "LPIPS" in fields["message"]


def test_robustness_rows_carry_lpips_beside_psnr_and_ssim(with_alex):
    conds = RobustnessConditions(sigmas=(0.2,), num_images=4, steps=2, references=("identity",),
                                 prefault=False)  # fmt: skip
    rows = pd.DataFrame(measure_robustness(["lucid-unet-tiny", "ode-u-tiny"], conds, "r"))
    assert undeclared(list(rows.columns)) == []
    assert {*LPIPS_COLUMNS, "lpips_net"} <= set(rows.columns) <= set(BY_NAME)
    assert (rows["status"] == "ok").all() and (rows["lpips_net"] == "alex").all()

    identity = rows[rows["model"] == "identity"].iloc[0]
    clean = load_dataset("patches32", "test", None, limit=4).images
    noisy = noisy_images(clean, 0.2, noise_seed(0, 0.2))
    expected = LpipsScorer("alex")(noisy.numpy(), clean.numpy())
    assert identity["lpips_mean"] == pytest.approx(np.mean(expected), rel=1e-12)
    assert identity["lpips_std"] == pytest.approx(np.std(expected, ddof=1), rel=1e-9)

    base, cand = (rows[rows["model"] == name].iloc[0] for name in ("lucid-unet-tiny", "ode-u-tiny"))
    assert cand["baseline"] == "lucid-unet-tiny"
    assert cand["lpips_diff_mean"] == pytest.approx(cand["lpips_mean"] - base["lpips_mean"], abs=1e-12)
    assert 0 < cand["lpips_diff_ci95"] and math.isnan(base["lpips_diff_mean"])


def test_a_plain_run_without_the_backbone_leaves_lpips_out_with_a_note(
    runner, empty_home, tmp_path, clean_exit
):
    out = tmp_path / "rob.csv"
    args = ["robustness", "--sigma", "0.2", "--num-images", "3", "--steps", "2", "--reference", "identity",
            "-q", "--csv", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    clean_exit(result, 0)
    expected = empty_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: LPIPS")]
    assert len(notes) == 1 and str(expected) in notes[0] and "--lpips-backbone PATH" in notes[0]
    rows, _ = read_results(out)
    assert not set(LPIPS_COLUMNS) & set(rows.columns)
    assert rows["psnr_db_mean"].notna().all()


@pytest.mark.parametrize(
    "extra",
    [
        ["--metric", "lpips"],
        ["--metric", "psnr", "--metric", "lpips"],
        ["--lpips-net", "vgg", "--metric", "lpips"],
    ],
)
def test_lpips_asked_for_without_the_backbone_is_refused_naming_the_path(
    runner, empty_home, clean_exit, extra
):
    result = runner.invoke(app, ["robustness", "-m", "ode-u-tiny", "--sigma", "0.2", *extra])
    clean_exit(result, 2)
    net = "vgg" if "vgg" in extra else "alex"
    expected = empty_home / "hub" / "checkpoints" / BACKBONE_FILES[net]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(expected) in lines[0] and "--lpips-backbone" in lines[0]


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--lpips-backbone", "nowhere.pth"], "'nowhere.pth' does not exist"),
        (["--metric", "psnr", "--lpips-backbone", "x.pth"], "no effect"),
        (["--metric", "fid"], "choose from psnr, ssim, lpips"),
        (["--lpips-net", "squeeze"], "choose one of alex, vgg"),
    ],
)
def test_bad_lpips_options_get_one_line(runner, empty_home, clean_exit, extra, says):
    result = runner.invoke(app, ["robustness", "-m", "ode-u-tiny", "--sigma", "0.2", *extra])
    clean_exit(result, 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0]


def test_a_backbone_that_is_not_alexnet_is_refused(with_alex, tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, bad)
    with pytest.raises(UsageError, match="not torchvision's alex weights"):
        LpipsScorer("alex", str(bad))
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError, match="cannot read LPIPS backbone") as caught:
        LpipsScorer("alex", str(bad))
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------- the claim

FIXTURE = Path(__file__).parents[1] / "fixtures" / "report"
QCAND = "ode-u-tiny"


def test_the_robustness_claim_uses_lpips_when_present():
    rows, _ = read_results(FIXTURE)
    rob = (rows["command"] == "robustness") & (rows["status"] == "ok")
    high = rows[rob & (rows["model"] == QCAND) & (rows["sigma"] >= HIGH_SIGMA)]
    high = high.sort_values("steps").groupby("sigma").tail(1).index
    rows.loc[high, "psnr_db_diff_mean"] = -5.0  # worse by PSNR
    rows.loc[high, "psnr_db_diff_ci95"] = 0.1
    assert _robustness(rows).verdict == FAILS

    rows.loc[rob, ["lpips_mean", "lpips_ci95"]] = [0.3, 0.01]
    rows.loc[high, ["lpips_diff_mean", "lpips_diff_ci95"]] = [-0.05, 0.01]  # lower: better by LPIPS
    claim = _robustness(rows)
    assert claim.verdict == HOLDS and "LPIPS -0.050 ± 0.010" in claim.measured and "PSNR" in claim.measured
    rows.loc[high, "lpips_diff_mean"] = 0.05
    assert _robustness(rows).verdict == FAILS


def _robustness(rows: pd.DataFrame) -> Claim:
    return robustness_claim(rows)
