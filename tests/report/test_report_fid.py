"""The report's sample quality: fid rows joined to the sample rows of the folders they scored, the section,
its two plots and the claims row in each direction; LPIPS in the denoising table; the note of `mubench
run` when LPIPS was left out. Rows are made with make_row, except in one test that runs `mubench sample`
and `mubench fid` (random Inception weights in a temporary TORCH_HOME: nothing is downloaded)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mubench.cli.app import app
from mubench.report import make_document, plots
from mubench.report.document import Details, Heading, Table
from mubench.report.measurements.fid import sample_quality_claim, sample_scores
from mubench.report.verdicts import FAILS, HOLDS, NOT_MEASURED, SOME_CONDITIONS, Claim
from mubench.results import make_row, read_results, write_csv

FIXTURE = Path(__file__).parents[1] / "fixtures" / "report"
CAND, BASE = "ode-u-tiny", "lucid-unet-tiny"  # the shipped trained pair (the paper's has no FIDs here)
WEIGHTS = "shipped:w.safetensors"
BETTER = {5: 300.0, 10: 152.0, 20: 150.0}  # within 5% of the baseline's best at 10 steps
BASELINE = {5: 300.0, 10: 200.0, 20: 150.0}


def sample_row(model: str, steps: int, folder: Path, seconds: float | None, **fields) -> dict:
    return make_row("sample", "s1", model=model, steps=steps, sampler="ddim(eta=0)", checkpoint=WEIGHTS,
                    out_dir=str(folder), sample_s_per_image=seconds, n_seeds=16,
                    nfe_per_trajectory=4 * steps if model == CAND else None, **fields)  # fmt: skip


def fid_row(model: str, steps: int, folder: Path | str, fid: float, reference: str = "ref.npz", **fields):
    fields = {"model": model, "steps": steps, "sampler": "ddim(eta=0)", "checkpoint": WEIGHTS, **fields}
    return make_row("fid", "f1", input_a=str(folder), input_b=reference, fid=fid, n_a=16, **fields)


def scored(root: Path, fids: dict[str, dict[int, float]], per_step: dict[str, float] | None = None,
           reference: str = "ref.npz", **fields) -> pd.DataFrame:  # fmt: skip
    """Sample and fid rows of each model at each step count; ``per_step``: seconds per image per step
    (None: no sample rows)."""
    rows = []
    for model, by_steps in fids.items():
        for steps, fid in by_steps.items():
            folder = root / f"{model}-{steps}"
            if per_step is not None:
                rows.append(sample_row(model, steps, folder, per_step[model] * steps))
            rows.append(fid_row(model, steps, folder, fid, reference=reference, **fields))
    return pd.DataFrame(rows)


def claim(rows: pd.DataFrame) -> Claim:
    return sample_quality_claim(rows)


# ---------------------------------------------------------------- the join


def test_fid_rows_join_their_sample_rows_through_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = pd.DataFrame(
        [
            sample_row(CAND, 10, tmp_path / "samples" / "a", 0.5),
            sample_row(BASE, 10, Path("samples/b"), 0.25),
            fid_row(CAND, 10, "samples/./a/", 40.0, timestamp="2025-01-01T00:00:00+00:00"),
            fid_row(CAND, 10, "samples/a", 30.0, timestamp="2025-01-02T00:00:00+00:00"),  # later: kept
            make_row(
                "fid", "f2", input_a="ref.npz", input_b=str(tmp_path / "samples" / "b"), fid=50.0, n_b=16
            ),  # fmt: skip  (the sample folder second, its model from the sample row)
            fid_row(CAND, 20, "samples/c", 20.0),  # no sample row names this folder
            make_row("fid", "f3", input_a="x", input_b="y", fid=1.0, n_a=3, n_b=3),  # no model: left out
        ]
    )
    scores = sample_scores(rows)
    got = scores[["model", "steps", "fid", "n_images", "sample_s_per_image", "nfe_per_trajectory"]]
    assert got.astype(object).where(got.notna(), None).values.tolist() == [
        [CAND, 10, 30.0, 16, 0.5, 40],
        [CAND, 20, 20.0, 16, None, None],
        [BASE, 10, 50.0, 16, 0.25, None],
    ]
    assert scores["reference"].tolist() == ["ref.npz"] * 3
    assert scores["reference_key"].nunique() == 1  # "ref.npz" on either side is one reference
    assert scores["checkpoint"].tolist() == [WEIGHTS] * 3


@pytest.mark.slow
def test_a_folder_of_csv_files_is_read_and_a_suites_own_copies_are_not(runner, tmp_path, clean_exit):
    folder = tmp_path / "results"
    shutil.copytree(FIXTURE, folder)
    suite_rows, _ = read_results(FIXTURE)
    write_csv(suite_rows[suite_rows["command"] == "params"], folder / "params.csv")  # the suite's split
    rows = scored(tmp_path / "samples", {CAND: BETTER, BASE: BASELINE}, {CAND: 0.1, BASE: 0.5})
    write_csv(rows[rows["command"] == "sample"].dropna(axis="columns", how="all"), folder / "sample.csv")
    write_csv(rows[rows["command"] == "fid"].dropna(axis="columns", how="all"), folder / "fid.csv")
    (folder / "compare.csv").write_text("label,metric,baseline\nx,macs,1\n")  # not a result file
    clean_exit(runner.invoke(app, ["report", str(folder), "-q"]), 0)
    md = (folder / "report.md").read_text()
    assert f"{len(suite_rows) + 12} rows" in md  # results.csv + sample.csv + fid.csv, nothing twice
    assert "## Sample quality" in md
    assert {"plots/fid_vs_steps.png", "plots/fid_vs_time.png"} <= set(re.findall(r"\((plots/[^)]+)\)", md))

    alone = tmp_path / "alone"  # no results.csv: the command CSVs are the folder's rows
    alone.mkdir()
    shutil.copy(folder / "fid.csv", alone)
    clean_exit(runner.invoke(app, ["report", str(alone), "-q"]), 0)
    md = (alone / "report.md").read_text()
    assert "6 rows: 6 fid." in md and "![FID against sampling steps](plots/fid_vs_steps.png)" in md
    assert "fid_vs_time" not in md  # no sample rows: no wall time to plot
    assert (alone / "plots" / "fid_vs_steps.png").read_bytes().startswith(b"\x89PNG")


def test_a_folder_of_another_schema_is_one_line_exit_2(runner, tmp_path, clean_exit):
    (tmp_path / "fid.csv").write_text("command,model,schema_version\nfid,x,99\n")
    result = runner.invoke(app, ["report", str(tmp_path)])
    clean_exit(result, 2)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "fid.csv' has schema_version 99" in lines[0]


# ---------------------------------------------------------------- the section and the plots


def _section(rows: pd.DataFrame) -> list:
    blocks = make_document(rows, {}, {}).blocks
    start = blocks.index(Heading("Sample quality"))
    return blocks[start : start + 2]


def test_the_sample_quality_table(tmp_path):
    rows = scored(tmp_path, {CAND: {5: 300.0, 10: 152.0}, BASE: {10: 200.0}}, {CAND: 0.1, BASE: 0.5})
    rows.loc[rows["command"] == "fid", ["kid_mean", "kid_std"]] = [0.0123, 0.0045]
    _, table = _section(rows)
    assert isinstance(table, Table) and table.table_id == "sample-quality"
    assert table.frame.columns.tolist() == [
        *("model", "weights", "sampler", "steps", "NFE", "FID", "KID ± std", "images", "s per image"),
    ]
    assert table.frame.values.tolist() == [
        [CAND, WEIGHTS, "ddim(eta=0)", "5", "20", "300.00", "0.0123 ± 0.0045", "16", "0.5000"],
        [CAND, WEIGHTS, "ddim(eta=0)", "10", "40", "152.00", "0.0123 ± 0.0045", "16", "1.0000"],
        [BASE, WEIGHTS, "ddim(eta=0)", "10", "-", "200.00", "0.0123 ± 0.0045", "16", "5.0000"],
    ]
    assert "against ref.npz" in table.caption
    assert not any(isinstance(b, Heading) and b.text == "Sample quality" for b in make_document(
        rows[rows["command"] == "sample"], {}, {}).blocks)  # fmt: skip


def test_the_fid_plots(tmp_path):
    rows = scored(tmp_path, {CAND: BETTER, BASE: BASELINE}, {CAND: 0.1, BASE: 0.5})
    for plot in (plots.fid_vs_steps, plots.fid_vs_time):
        assert plot(rows).startswith(b"\x89PNG"), plot.__name__
    unjoined = rows[rows["command"] == "fid"]
    assert plots.fid_vs_steps(unjoined).startswith(b"\x89PNG")
    assert plots.fid_vs_time(unjoined) is None
    assert plots.fid_vs_steps(rows[rows["command"] == "sample"]) is None


# ---------------------------------------------------------------- the claims row


@pytest.mark.parametrize(
    ("cand", "per_step", "measured", "verdict"),
    [
        (BETTER, 0.1, "FID 150.0 at 10 vs 20 steps (better), 1 vs 10 s/image (better)", HOLDS),
        (BETTER, 0.5, "FID 150.0 at 10 vs 20 steps (better), 5 vs 10 s/image (better)", HOLDS),
        (BETTER, 0.96, "FID 150.0 at 10 vs 20 steps (better), 9.6 vs 10 s/image (same)", FAILS),
        (BETTER, 1.5, "FID 150.0 at 10 vs 20 steps (better), 15 vs 10 s/image (worse)", FAILS),
        (
            {**BETTER, 10: 157.4},
            0.1,
            "FID 150.0 at 10 vs 20 steps (better), 1 vs 10 s/image (better)",
            HOLDS,
        ),
        (
            {**BETTER, 10: 157.6},
            0.1,
            "FID 150.0 at 20 vs 20 steps (same), 2 vs 10 s/image (better)",
            FAILS,
        ),
        (BASELINE, 0.5, "FID 150.0 at 20 vs 20 steps (same), 10 vs 10 s/image (same)", FAILS),
        ({5: 400.0, 10: 300.0, 20: 200.0}, 0.1, "never within 5% of FID 150.0 (worse)", FAILS),
    ],
)
def test_the_claim_in_each_direction(tmp_path, cand, per_step, measured, verdict):
    found = claim(scored(tmp_path, {CAND: cand, BASE: BASELINE}, {CAND: per_step, BASE: 0.5}))
    assert (found.measured, found.verdict) == (measured, verdict)
    assert found.conditions == (
        f"{CAND} vs {BASE} (paper's pair: no trained FIDs); ddim(eta=0), 16 images vs ref.npz, sampled on cpu"
    )
    assert "5%" in found.rule and "lowest FID" in found.rule


def test_the_claim_without_wall_time_says_so(tmp_path):
    found = claim(scored(tmp_path, {CAND: BETTER, BASE: BASELINE}))
    assert found.measured == "FID 150.0 at 10 vs 20 steps (better), ? vs ? s/image (not measured)"
    assert found.verdict == "fewer steps; wall time not measured"
    assert found.conditions.endswith("16 images vs ref.npz")  # no sample row: the device is unknown


def test_the_claim_is_not_measured_without_its_rows(tmp_path):
    rows = scored(tmp_path, {CAND: BETTER, BASE: BASELINE}, {CAND: 0.1, BASE: 0.5})
    for missing in (
        rows[rows["command"] != "fid"],  # no fid rows
        rows[rows["model"] != BASE],  # the baseline not scored
        rows.assign(checkpoint="untrained"),  # random weights: no claim
        scored(tmp_path, {CAND: {5: 1.0, 10: 1.0}, BASE: {20: 2.0, 40: 2.0}}),  # no step count in common
    ):
        assert claim(missing).verdict == NOT_MEASURED
        assert claim(missing).measured == "—"
    assert "at one step count" in claim(missing).conditions
    assert claim(rows.iloc[:0]).conditions.startswith("needs fid rows of samples of trained")


def test_the_claim_per_reference_lists_its_groups_under_the_table(tmp_path):
    first = scored(tmp_path / "a", {CAND: BETTER, BASE: BASELINE}, {CAND: 0.1, BASE: 0.5})
    second = scored(tmp_path / "b", {CAND: BASELINE, BASE: BASELINE}, {CAND: 0.1, BASE: 0.5}, "test.npz")
    found = claim(pd.concat([first, second], ignore_index=True))
    assert found.verdict == f"{SOME_CONDITIONS}: (1)"
    assert found.measured.startswith("(1) FID 150.0 at 10 vs 20 steps (better)")
    assert "; (2) FID 150.0 at 20 vs 20 steps (same)" in found.measured
    assert found.groups == ("ddim(eta=0), 16 images vs ref.npz, sampled on cpu",
                            "ddim(eta=0), 16 images vs test.npz, sampled on cpu")  # fmt: skip
    assert len(found.conditions) < 120 and "listed under the table" in found.conditions
    assert found.summary == "baseline's FID in fewer steps and less time in 1 of 2 condition groups"
    doc = make_document(pd.concat([first, second], ignore_index=True), {}, {})
    details = next(b for b in doc.blocks if isinstance(b, Details) and b.summary.startswith("6. "))
    groups = next(b for b in details.blocks if isinstance(b, Table)).frame
    assert groups["condition"].tolist() == list(found.groups)
    assert groups["outcome"].tolist() == ["steps better, time better", "steps same, time better"]


# ---------------------------------------------------------------- LPIPS beside PSNR and SSIM


def test_the_denoising_table_shows_lpips_where_rows_have_it():
    rows, _ = read_results(FIXTURE)
    blocks = make_document(rows, {}, {}).blocks
    quality = next(b for b in blocks if isinstance(b, Table) and b.table_id == "quality")
    assert not any("LPIPS" in c for c in quality.frame.columns)  # the fixture predates LPIPS

    robust = (rows["command"] == "robustness") & (rows["status"] == "ok")
    lpips = ["lpips_mean", "lpips_ci95", "lpips_diff_mean", "lpips_diff_ci95", "lpips_net"]
    rows = pd.concat([rows, pd.DataFrame(None, index=rows.index, columns=lpips, dtype=object)], axis=1)
    rows.loc[robust, ["lpips_mean", "lpips_ci95", "lpips_net"]] = [0.12345, 0.01, "alex"]
    rows.loc[robust & rows["baseline"].notna(), ["lpips_diff_mean", "lpips_diff_ci95"]] = [-0.02, 0.005]
    blocks = make_document(rows, {}, {}).blocks
    quality = next(b for b in blocks if isinstance(b, Table) and b.table_id == "quality")
    columns = quality.frame.columns.tolist()
    assert columns.index("LPIPS ± 95%") == columns.index("SSIM ± 95%") + 1
    assert set(quality.frame["LPIPS ± 95%"]) == {"0.1235 ± 0.0100"}
    assert "-0.0200 ± 0.0050" in set(quality.frame["LPIPS diff ± 95%"])
    assert "LPIPS (alex backbone): lower is better" in quality.caption


# ---------------------------------------------------------------- mubench run: the LPIPS note


def test_run_names_the_lpips_file_it_lacked_once(runner, tmp_path, clean_exit, monkeypatch, no_download):
    from mubench.measure.robustness.lpips import default_backbone_path

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    suite = tmp_path / "suite.toml"
    suite.write_text(
        '[suite]\nname = "lpips-note"\n'
        + "".join(
            f'[[robustness]]\nmodels = ["{CAND}"]\nsigma = {s}\nnum-images = 2\nsteps = 1\n'
            for s in (0.1, 0.2)
        )
    )
    result = runner.invoke(app, ["run", str(suite), "--out", str(tmp_path / "out"), "-q"])
    clean_exit(result, 0)
    notes = [line for line in result.stderr.splitlines() if "LPIPS" in line]
    path = default_backbone_path("alex")
    assert str(path).startswith(str(tmp_path / "torch"))
    assert notes == [
        f"note: LPIPS left out: LPIPS needs torchvision's ImageNet alex weights at {path} (put the file "
        "there, or give lpips-backbone PATH); nothing is downloaded"
    ]


# ---------------------------------------------------------------- end to end


def test_sample_and_fid_of_the_tiny_pair_make_the_section(runner, tmp_path, clean_exit, monkeypatch,
                                                          no_download):  # fmt: skip
    from writers import write_pngs, write_random_inception

    from mubench.fid.inception import WEIGHTS_FILE

    write_random_inception(tmp_path / "torch" / "hub" / "checkpoints" / WEIGHTS_FILE)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.chdir(tmp_path)
    reference = write_pngs(tmp_path / "reference", 4, seed=0)
    results = tmp_path / "results"
    results.mkdir()
    for model in (CAND, BASE):  # one step count each: every command run costs seconds here
        out = f"samples/{model}"
        sample = ["sample", "-m", model, "--seeds", "0-3", "--steps", "2", "--out", out, "-q"]
        clean_exit(runner.invoke(app, [*sample, "--csv", f"results/sample-{model}.csv"]), 0)
        fid = ["fid", out, str(reference), "--dims", "64", "-q", "--csv", f"results/fid-{model}.csv"]
        clean_exit(runner.invoke(app, fid), 0)
    clean_exit(runner.invoke(app, ["report", "results", "-q"]), 0)
    md = (results / "report.md").read_text()
    rows = pd.concat([read_results(p)[0] for p in sorted(results.glob("*.csv"))], ignore_index=True)
    scores = sample_scores(rows)
    assert sorted(scores[["model", "steps"]].values.tolist()) == [[BASE, 2], [CAND, 2]]
    assert scores["sample_s_per_image"].notna().all() and (scores["n_images"] == 4).all()
    assert (scores["nfe_per_trajectory"].notna() == (scores["model"] == CAND)).all()
    assert "## Sample quality" in md
    for name in ("fid_vs_steps", "fid_vs_time"):
        assert (results / "plots" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    found = sample_quality_claim(rows)
    assert found.verdict != NOT_MEASURED and found.measured in md
