"""Work shared over torchrun's processes: the same images, scores and statistics from 2 processes as from
one, rank 0 alone writing, a failing rank ending the job with its name, and the commands that must not
run under torchrun refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from writers import write_pngs, write_random_alexnet, write_random_inception

from mubench.cli.app import app
from mubench.distributed import World, interleave
from mubench.fid.inception import WEIGHTS_FILE
from mubench.measure.robustness.lpips import BACKBONE_FILES
from mubench.sampling.run import MARKER

pytestmark = pytest.mark.slow  # worker processes and torchrun: seconds each


def test_shares_cover_every_item_once_and_interleave_restores_the_order():
    for world_size in range(1, 6):
        for n in range(12):
            items = list(range(100, 100 + n))
            parts = [World(rank, world_size).share(items) for rank in range(world_size)]
            assert sorted(x for part in parts for x in part) == items
            assert interleave(parts) == items


def torchrun(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node 2 -m mubench ARGS`` (the torch.distributed.run module of
    this interpreter, so the test needs no script on PATH)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "mubench", *args]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def _pixels(folder: Path) -> dict[str, np.ndarray]:
    from PIL import Image

    return {f.name: np.asarray(Image.open(f)) for f in sorted(folder.glob("*.png"))}


def test_sample_on_two_processes_writes_the_same_images(runner, clean_exit, tmp_path):
    args = ["sample", "-m", "ode-u-tiny", "--seeds", "0-7", "--steps", "3", "--eta", "1", "-q"]
    clean_exit(runner.invoke(app, [*args, "--out", str(tmp_path / "one"), "--batch-size", "8"]), 0)
    proc = torchrun(
        *args, "--out", str(tmp_path / "two"), "--batch-size", "3", "--csv", str(tmp_path / "two.csv")
    )
    assert proc.returncode == 0, proc.stderr
    one, two = _pixels(tmp_path / "one"), _pixels(tmp_path / "two")
    assert sorted(two) == [f"{s:06d}.png" for s in range(8)] + ["grid.png"]
    # The same noise and steps per seed; CPU kernels for batches of other sizes may round a pixel of a
    # few to the next 8-bit level (seen: 1 pixel in 21,504), never more.
    diff = np.concatenate([np.abs(one[n].astype(int) - two[n].astype(int)).ravel() for n in one])
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    row = pd.read_csv(tmp_path / "two.csv").iloc[0]
    assert (row["world_size"], row["n_seeds"], row["seeds"]) == (2, 8, "0-7")
    assert json.loads((tmp_path / "two" / MARKER).read_text())["complete"] is True


SCORES = ["psnr_db_mean", "psnr_db_std", "psnr_db_ci95", "ssim_mean", "ssim_ci95", "lpips_mean", "lpips_ci95",
          "psnr_db_diff_mean", "psnr_db_diff_ci95", "ssim_diff_mean", "lpips_diff_mean"]  # fmt: skip


def test_robustness_on_two_processes_gives_the_scores_of_one(
    runner, clean_exit, tmp_path, monkeypatch, no_download
):
    home = tmp_path / "torch_home"
    write_random_alexnet(home / "hub" / "checkpoints" / BACKBONE_FILES["alex"])
    monkeypatch.setenv("TORCH_HOME", str(home))
    # eta 1: stochastic steps, whose noise must not depend on the split of the images either
    args = ["robustness", "-m", "lucid-unet-tiny", "-m", "ode-u-tiny", "--sigma", "0.2", "--num-images",
            "7", "--steps", "3", "--eta", "1", "--reference", "identity", "--reference", "tv",
            "--metric", "psnr", "--metric", "ssim", "--metric", "lpips", "-q"]  # fmt: skip
    clean_exit(runner.invoke(app, [*args, "--csv", str(tmp_path / "one.csv")]), 0)
    proc = torchrun(*args, "--csv", str(tmp_path / "two.csv"), env={"TORCH_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    one, two = pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "two.csv")
    assert list(two["model"]) == list(one["model"]) and (two["status"] == "ok").all()
    assert set(two["world_size"]) == {2} and set(one["world_size"]) == {1}
    # The reference rows agree exactly; a model's outputs agree to float32 precision only (a rank runs its
    # convolutions with other thread counts than the test process), and so do its scores.
    for column in SCORES:
        assert np.allclose(two[column], one[column], rtol=1e-5, atol=1e-7, equal_nan=True), column
    references = one["model"].isin(["identity", "tv"])
    assert two.loc[references, SCORES].equals(one.loc[references, SCORES])
    assert list(two["nfe_total"].fillna(-1)) == list(one["nfe_total"].fillna(-1))


@pytest.fixture
def inception_home(tmp_path) -> Path:
    home = tmp_path / "torch_home"
    write_random_inception(home / "hub" / "checkpoints" / WEIGHTS_FILE)
    return home


def test_fid_and_fid_ref_on_two_processes_give_the_figures_of_one(
    runner, clean_exit, tmp_path, inception_home, monkeypatch, no_download
):
    monkeypatch.setenv("TORCH_HOME", str(inception_home))
    a, b = write_pngs(tmp_path / "a", 9, seed=0), write_pngs(tmp_path / "b", 9, seed=1, bright=0.2)
    args = ["fid", str(a), str(b), "--dims", "64", "--kid", "--kid-subset-size", "5", "--batch-size", "4",
            "-q"]  # fmt: skip
    clean_exit(runner.invoke(app, [*args, "--csv", str(tmp_path / "one.csv")]), 0)
    ref = ["fid-ref", "--dataset", f"folder:{a}", "--dims", "64", "--batch-size", "4", "-q"]
    clean_exit(runner.invoke(app, [*ref, "--out", str(tmp_path / "one.npz")]), 0)
    env = {"TORCH_HOME": str(inception_home)}
    proc = torchrun(*args, "--csv", str(tmp_path / "two.csv"), env=env)
    assert proc.returncode == 0, proc.stderr
    proc = torchrun(*ref, "--out", str(tmp_path / "two.npz"), env=env)
    assert proc.returncode == 0, proc.stderr
    one, two = pd.read_csv(tmp_path / "one.csv").iloc[0], pd.read_csv(tmp_path / "two.csv").iloc[0]
    assert (two["world_size"], two["n_a"], two["n_b"]) == (2, 9, 9)
    for column in ("fid", "kid_mean", "kid_std"):
        assert two[column] == pytest.approx(one[column], rel=1e-6, abs=1e-9), column
    stats = [np.load(tmp_path / name) for name in ("one.npz", "two.npz")]
    for key in ("mu", "sigma"):
        assert np.allclose(stats[0][key], stats[1][key], rtol=1e-6, atol=1e-9), key


def test_a_failing_rank_ends_the_job_naming_it_and_writes_nothing(tmp_path, inception_home):
    a = write_pngs(tmp_path / "a", 6, seed=0)
    (a / "000003.png").write_bytes((a / "000003.png").read_bytes()[:200])  # rank 1's share: 1, 3, 5
    csv = tmp_path / "fid.csv"
    proc = torchrun("fid", str(a), str(a), "--dims", "64", "-q", "--csv", str(csv),
                    env={"TORCH_HOME": str(inception_home)})  # fmt: skip
    assert proc.returncode != 0
    assert "rank 1 of 2: error: cannot read" in proc.stderr and "000003.png" in proc.stderr
    assert not csv.exists() and not list(tmp_path.glob("*.partial.*"))


def test_fid_refuses_the_folder_of_an_unfinished_sample_run(runner, clean_exit, tmp_path):
    folder = write_pngs(tmp_path / "s", 4, seed=0)
    (folder / MARKER).write_text(json.dumps({"conditions": {}, "seeds": "0-9", "complete": False}))
    result = runner.invoke(app, ["fid", str(folder), str(folder), "-q"])
    clean_exit(result, 2)
    assert "unfinished mubench sample run (seeds 0-9)" in result.output


@pytest.mark.parametrize("command", ["latency", "profile", "flops", "run", "convert"])
def test_commands_that_time_or_write_shared_files_are_refused_under_torchrun(runner, command, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = runner.invoke(app, [command, "-m", "ode-u-tiny"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"mubench {command} does not run under torchrun" in lines[0]
