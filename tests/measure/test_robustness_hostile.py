"""Hostile inputs to robustness: a score that is not finite, or a user model that fails in any way, becomes
a row that says so; the statistics are over what is finite, and the other models are still measured."""

from __future__ import annotations

import math
import random

import pandas as pd
import pytest

from mubench.measure.robustness.metrics import paired_differences, scored_fields, spread, summary

# User models (tests/conftest.py, hostile_module) that cannot give a single finite result.
BROKEN = ("factory_raises", "factory_exits", "factory_returns_tuple", "forward_raises", "forward_exits",
          "forward_tuple", "forward_none", "one_pixel", "one_channel", "nan")  # fmt: skip
QUICK = ["--num-images", "3", "--reference", "identity", "--steps", "1", "-q"]
SPECIAL = (math.nan, math.inf, -math.inf)


def _spoiled(rng: random.Random, n: int, share: float) -> list[float]:
    return [rng.choice(SPECIAL) if rng.random() < share else rng.gauss(20, 3) for _ in range(n)]


@pytest.mark.parametrize("case", range(40))
def test_statistics_are_those_of_the_finite_values(case):
    rng = random.Random(case)
    values = _spoiled(rng, rng.randint(0, 12), rng.choice([0.0, 0.3, 0.7, 1.0]))
    finite = [v for v in values if math.isfinite(v)]
    got = spread(values, "x")
    if not finite:
        assert all(math.isnan(v) for v in got.values())
        return
    assert got == spread(finite, "x")
    assert got["x_mean"] == pytest.approx(sum(finite) / len(finite))
    assert math.isfinite(got["x_std"]) and (len(finite) == 1 or math.isfinite(got["x_ci95"]))


@pytest.mark.parametrize("case", range(40))
def test_a_row_counts_what_is_not_finite_and_describes_the_same_images(case):
    rng = random.Random(1000 + case)
    n = rng.randint(1, 10)
    share = rng.choice([0.0, 0.2, 0.5, 1.0])
    scores = {"psnr_db": _spoiled(rng, n, share), "ssim": _spoiled(rng, n, share)}
    kept = [i for i in range(n) if math.isfinite(scores["psnr_db"][i]) and math.isfinite(scores["ssim"][i])]
    row = scored_fields(scores)
    assert row["n_nonfinite"] == n - len(kept)
    if not kept:
        assert row["status"] == "error" and "non-finite" in row["message"]
        return
    assert row.get("status", "ok") == "ok"
    assert ("non-finite" in row.get("message", "")) == (len(kept) < n)
    assert row == {**row, **summary({k: [v[i] for i in kept] for k, v in scores.items()})}
    assert all(math.isfinite(row[f"{m}_mean"]) for m in scores)


@pytest.mark.parametrize("case", range(20))
def test_paired_differences_use_the_images_finite_in_both(case):
    rng = random.Random(2000 + case)
    n = rng.randint(2, 10)
    a = {"psnr_db": _spoiled(rng, n, 0.3), "ssim": [0.5] * n}
    b = {"psnr_db": _spoiled(rng, n, 0.3), "ssim": [0.4] * n}
    both = [i for i in range(n) if math.isfinite(a["psnr_db"][i]) and math.isfinite(b["psnr_db"][i])]
    diffs = [a["psnr_db"][i] - b["psnr_db"][i] for i in both]
    got = paired_differences(a, b)
    assert got == {**got, **spread(diffs, "psnr_db_diff")}
    if both:
        assert math.isfinite(got["psnr_db_diff_mean"]) and got["ssim_diff_mean"] == pytest.approx(0.1)


def _run(runner, tmp_path, tree_digest, *args):
    from mubench.cli.app import app

    (tmp_path / "earlier.csv").write_text("kept as it was\n")
    csv = tmp_path / "r.csv"
    before = tree_digest(tmp_path, skip=(csv,))
    result = runner.invoke(app, ["robustness", *args, "--csv", str(csv)])
    assert "Traceback" not in result.output, result.output
    assert tree_digest(tmp_path, skip=(csv,)) == before  # nothing but the rows asked for
    return result, pd.read_csv(csv)


def _no_unexplained_nan(frame: pd.DataFrame) -> None:
    """An ok row's statistics are numbers; a row without them says why."""
    for row in frame.to_dict("records"):
        if row["status"] == "ok" and not math.isfinite(row["psnr_db_mean"]):  # only exact copies: no PSNR
            assert "exact copies" in row["message"] and row["n_nonfinite"] > 0, row
        elif row["status"] == "ok":
            assert math.isfinite(row["psnr_db_mean"]) and math.isfinite(row["ssim_mean"]), row
        else:
            assert isinstance(row["message"], str) and row["message"], row


def test_an_exact_copy_is_not_a_failure_and_the_models_are_still_measured(
    runner, tmp_path, clean_exit, tree_digest
):
    # At sigma 1e-12 the noisy float32 images equal the clean ones: identity's PSNR is +inf for each, a
    # perfect score that has no finite value, not a failed measurement.
    result, frame = _run(runner, tmp_path, tree_digest, "-m", "ode-u-tiny", "--sigma", "1e-12",
                         "--sigma", "0.1", *QUICK)  # fmt: skip
    clean_exit(result, 0)
    rows = frame.set_index(["model", "sigma"])
    assert (rows["status"] == "ok").all()
    assert rows.loc[("identity", 1e-12), "n_nonfinite"] == 3
    message = rows.loc[("identity", 1e-12), "message"]
    assert "3 of 3 images are exact copies" in message and "non-finite" not in message
    assert "identity, sigma 1e-12" in result.stderr  # the CLI says why the row has no PSNR
    _no_unexplained_nan(frame)


def test_some_images_not_finite_keep_the_row_ok_and_say_how_many(
    runner, hostile_module, tmp_path, tree_digest
):
    result, frame = _run(runner, tmp_path, tree_digest, "-m", f"{hostile_module}:good", "-m",
                         f"{hostile_module}:nan_first_image", "--allow-untrained", *QUICK)  # fmt: skip
    assert result.exit_code == 0, result.output
    row = frame.set_index("model").loc[f"{hostile_module}:nan_first_image"]
    assert row["status"] == "ok" and row["n_nonfinite"] == 1 and "1 of 3" in row["message"]
    assert math.isfinite(row["psnr_db_diff_mean"])  # paired with the baseline over the 2 finite images
    _no_unexplained_nan(frame)


def test_a_baseline_with_nothing_finite_hands_over_to_the_next_model(
    runner, hostile_module, tmp_path, tree_digest
):
    result, frame = _run(runner, tmp_path, tree_digest, "-m", f"{hostile_module}:nan", "-m", "ode-u-tiny",
                         "-m", f"{hostile_module}:good", "--allow-untrained", *QUICK)  # fmt: skip
    assert result.exit_code == 1, result.output
    rows = frame.set_index("model")
    assert rows.loc[f"{hostile_module}:nan", "status"] == "error"
    assert rows.loc[f"{hostile_module}:good", "baseline"] == "ode-u-tiny"
    _no_unexplained_nan(frame)


@pytest.mark.parametrize("factory", [*BROKEN, "inf", "nan_gradient", "nan_from_third_call"])
def test_a_failing_user_model_is_an_error_row_and_the_others_are_measured(
    runner, hostile_module, tmp_path, clean_exit, tree_digest, factory
):
    name = f"{hostile_module}:{factory}"
    result, frame = _run(runner, tmp_path, tree_digest, "-m", "ode-u-tiny", "-m", name, "--allow-untrained",
                         *QUICK)  # fmt: skip
    rows = frame.set_index("model")
    assert set(rows.index) == {"identity", "ode-u-tiny", name}
    assert rows.loc["ode-u-tiny", "status"] == "ok"
    if factory in BROKEN:
        clean_exit(result, 1)
        assert rows.loc[name, "status"] == "error"
        assert f"error ({name}" in result.stderr
    else:  # a result may come out (inf clamps to white): then it is a finite one
        clean_exit(result, 0 if rows.loc[name, "status"] == "ok" else 1)
    _no_unexplained_nan(frame)
