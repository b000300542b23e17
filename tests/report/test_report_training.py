"""The report's training curves: the section only where train rows are, its table of each run's last
evaluation, its three plots, NL-means and TV as reference lines only where the folder has their
robustness rows, and the other sections as they were. The train rows are real: two tiny 30-step runs of
`mubench train --eval-every 10 --log` (tests/fixtures/report/train/make_fixture.sh); the robustness rows
are the report fixture's."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mubench.cli.app import app
from mubench.report import load_results, make_document
from mubench.report.claims import evaluate_claims
from mubench.report.document import Heading, Note, Table
from mubench.report.measurements.training import (
    curves,
    last_row_table,
    last_rows,
    reference_lines,
    tmacs,
    training_loss,
    training_psnr_steps,
    training_psnr_tmacs,
    training_section,
    wall_times,
)
from mubench.results import read_results

FIXTURE = Path(__file__).parents[1] / "fixtures" / "report"
TRAIN = FIXTURE / "train"
MODELS = ("ode-u-tiny", "lucid-unet-tiny")
SIGMAS = (0.1, 0.2, 0.3)
PLOT_NAMES = ("training_psnr_steps", "training_psnr_tmacs", "training_loss")


@pytest.fixture(scope="module")
def train_only() -> pd.DataFrame:
    frames = [read_results(TRAIN / f"{model}.train.csv")[0] for model in MODELS]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def suite_rows() -> pd.DataFrame:
    return read_results(FIXTURE)[0]


@pytest.fixture(scope="module")
def both(train_only: pd.DataFrame, suite_rows: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([suite_rows, train_only], ignore_index=True)


def headings(rows: pd.DataFrame, images: dict[str, bytes] | None = None) -> list[str]:
    doc = make_document(rows, {}, images or {})
    return [block.text for block in doc.blocks if isinstance(block, Heading)]


# ---------------------------------------------------------------- the section


def test_the_section_appears_with_train_rows_and_not_without(train_only, suite_rows, both):
    assert "Training curves" not in headings(suite_rows)
    assert "Training curves" in headings(train_only)
    assert "Training curves" in headings(both)
    assert training_section(suite_rows, {}, {}) == []
    failed = train_only.assign(status="error", message="stopped")
    assert training_section(failed, {}, {}) == []  # failed rows are the failures section's


def test_train_rows_leave_the_claims_and_other_sections_as_they_were(suite_rows, both):
    assert evaluate_claims(both) == evaluate_claims(suite_rows)
    before = make_document(suite_rows, {}, {}).blocks
    after = make_document(both, {}, {}).blocks
    start = next(i for i, b in enumerate(after) if isinstance(b, Heading) and b.text == "Training curves")
    end = next(i for i, b in enumerate(after) if i > start and isinstance(b, Heading) and b.level == 2)
    rest = after[:start] + after[end:]
    # The summary counts the rows and the environment names the machines; every other block is the same.
    assert len(rest) == len(before)
    differ = [i for i, (a, b) in enumerate(zip(before, rest)) if repr(a) != repr(b)]
    assert differ == [0, len(before) - 1]
    assert isinstance(rest[-1], Table) and rest[-1].table_id == "environment"


def test_the_table_shows_each_runs_last_evaluation(train_only):
    last = last_rows(curves(train_only))
    table = last_row_table(last)
    assert len(table) == len(MODELS) * len(SIGMAS)
    for model in MODELS:
        for sigma in SIGMAS:
            rows = train_only[(train_only["model"] == model) & (train_only["sigma"] == sigma)]
            end = rows.loc[rows["training_steps"].idxmax()]
            cells = table[(table["model"] == model) & (table["sigma"] == f"{sigma:.2f}")]
            assert len(cells) == 1, (model, sigma)
            cell = cells.iloc[0]
            assert cell["step"] == "30" == str(int(end["training_steps"]))
            assert cell["images seen"] == f"{int(end['images_seen']):,}" == "240"
            assert cell["batch"] == "8" and cell["seed"] == "0"
            assert cell["TMACs"] == tmacs(end["train_tmacs"])
            assert cell["wall time"] == f"{end['wall_s'] / 60:.1f} min"  # one unit: the longest is 2 min
            assert cell["PSNR dB ± 95%"] == f"{end['psnr_db_mean']:.2f} ± {end['psnr_db_ci95']:.2f}"
            assert cell["SSIM ± 95%"] == f"{end['ssim_mean']:.4f} ± {end['ssim_ci95']:.4f}"
            assert cell["images/s"] == f"{end['images_per_s']:.1f}"
    assert "dataset" not in table and "LPIPS ± 95%" not in table  # one dataset; no LPIPS in these rows


def test_a_step_scored_again_is_shown_once_with_its_latest_scores(train_only):
    rows = train_only.copy()
    again = rows[rows["training_steps"] == rows["training_steps"].max()].assign(
        psnr_db_mean=99.0, timestamp="2100-01-01T00:00:00+00:00"
    )
    frame = curves(pd.concat([rows, again], ignore_index=True))
    assert len(frame) == len(rows)
    assert (last_rows(frame)["psnr_db_mean"] == 99.0).all()


def test_runs_of_several_seeds_are_told_apart(train_only):
    other = train_only[train_only["model"] == MODELS[0]].assign(seed=1, psnr_db_mean=1.0)
    frame = curves(pd.concat([train_only, other], ignore_index=True))
    assert set(frame["curve"]) == {f"{MODELS[0]}, seed 0", f"{MODELS[0]}, seed 1", f"{MODELS[1]}, seed 0"}
    assert len(last_row_table(last_rows(frame))) == 3 * len(SIGMAS)


def test_formatters():
    assert wall_times(pd.Series([float("nan"), 42.04, 119.0])) == ["-", "42.0 s", "119.0 s"]
    assert wall_times(pd.Series([42.0, 750.0])) == ["0.7 min", "12.5 min"]
    assert wall_times(pd.Series([3600.0, 3 * 3600.0])) == ["1.00 h", "3.00 h"]
    assert wall_times(pd.Series([float("nan")])) == ["-"]
    assert tmacs(0.0254907) == "0.0255" and tmacs(12345.678) == "12,345.68" and tmacs(None) == "-"


# ---------------------------------------------------------------- reference lines


def test_references_are_nl_means_and_tv_at_the_curves_dataset_and_sigma(train_only, suite_rows, both):
    assert reference_lines(train_only, curves(train_only)).empty  # no robustness rows
    assert reference_lines(suite_rows, curves(suite_rows)).empty  # no curves
    refs = reference_lines(both, curves(both))
    expected = [(model, sigma) for model in ("nl-means", "tv") for sigma in SIGMAS]
    assert sorted(zip(refs["model"], refs["sigma"])) == expected
    robust = suite_rows[suite_rows["command"] == "robustness"]
    for _, ref in refs.iterrows():
        same = robust[(robust["model"] == ref["model"]) & (robust["sigma"] == ref["sigma"])]
        assert ref["psnr_db_mean"] == same["psnr_db_mean"].iloc[-1]


def test_references_of_another_dataset_resolution_or_sigma_are_not_drawn(train_only, suite_rows):
    robust = suite_rows[suite_rows["command"] == "robustness"]
    for change in ({"dataset": "faces32"}, {"resolution": 64}, {"sigma": 0.25}):
        rows = pd.concat([train_only, robust.assign(**change)], ignore_index=True)
        assert reference_lines(rows, curves(rows)).empty, change
    others = robust[~robust["model"].isin(["nl-means", "tv"])]  # identity, wavelet, trained models
    rows = pd.concat([train_only, others], ignore_index=True)
    assert reference_lines(rows, curves(rows)).empty


def test_the_captions_say_whether_there_are_reference_lines(train_only, both):
    images = {name: b"\x89PNG" for name in PLOT_NAMES}
    without = " ".join(getattr(b, "caption", "") for b in training_section(train_only, {}, images))
    assert "No robustness rows of NL-means or TV" in without
    with_refs = " ".join(getattr(b, "caption", "") for b in training_section(both, {}, images))
    assert "Horizontal lines: tv, nl-means" in with_refs and "No robustness rows" not in with_refs


# ---------------------------------------------------------------- the plots


def test_the_plots_are_drawn_only_from_train_rows(train_only, suite_rows, both):
    for plot in (training_psnr_steps, training_psnr_tmacs, training_loss):
        assert plot(suite_rows) is None
        data = plot(train_only)
        assert data is not None and data.startswith(b"\x89PNG") and len(data) > 1000
    assert training_psnr_steps(both) != training_psnr_steps(train_only)  # the reference lines


def test_without_compute_the_section_says_so(train_only):
    rows = train_only.assign(train_tmacs=float("nan"))
    assert training_psnr_tmacs(rows) is None
    images = {"training_psnr_steps": b"\x89PNG", "training_loss": b"\x89PNG"}
    notes = [b.text for b in training_section(rows, {}, images) if isinstance(b, Note)]
    assert notes and "no plot against TMACs" in notes[0]


def test_report_of_a_folder_of_train_logs_writes_the_section_and_its_plots(runner, tmp_path, clean_exit):
    folder = tmp_path / "results"
    folder.mkdir()
    for model in MODELS:
        shutil.copy(TRAIN / f"{model}.train.csv", folder)
    result = runner.invoke(app, ["report", str(folder), "--out", str(tmp_path / "report"), "-q"])
    clean_exit(result, 0)
    md = (tmp_path / "report" / "report.md").read_text()
    page = (tmp_path / "report" / "report.html").read_text()
    assert "## Training curves" in md and re.search(r"<table[^>]* id=\"training\"", page)
    for name in PLOT_NAMES:
        assert f"](plots/{name}.png)" in md
        assert (tmp_path / "report" / "plots" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    assert "No robustness rows in this folder." in md  # the quality section, as without train rows
    rows, _ = load_results(folder)  # both logs read as result files
    assert rows["command"].tolist() == ["train"] * 2 * len(SIGMAS) * 4
