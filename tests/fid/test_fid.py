"""fid-ref and fid: pytorch-fid's network and Frechet distance on features read as pytorch-fid reads
them, its .npz layout both ways, KID, and one line for each bad input. Nothing is downloaded: the
Inception weights are random, written into a temporary TORCH_HOME."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from writers import write_pngs, write_random_inception

from mubench.cli.app import app
from mubench.fid.images import folder_images
from mubench.fid.inception import WEIGHTS_FILE, load_inception
from mubench.fid.kid import kid, polynomial_mmd2
from mubench.fid.run import features
from mubench.fid.stats import statistics
from mubench.sampling.run import GRID
from mubench.sources.files import sha256_of

N = 12  # images per folder
DIMS = "64"  # most tests compare pytorch-fid's 64 first-block features: a 2048 x 2048 sqrtm takes ~20 s


@pytest.fixture(scope="module")
def inception_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("torch_home")
    write_random_inception(home / "hub" / "checkpoints" / WEIGHTS_FILE)
    return home


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("images")
    return write_pngs(root / "a", N, seed=0), write_pngs(root / "b", N, seed=1, bright=0.25)


@pytest.fixture
def with_inception(inception_home, monkeypatch, no_download) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(inception_home))
    return inception_home


def run_fid(runner, clean_exit, tmp_path, *args) -> dict:
    csv = tmp_path / "fid.csv"
    clean_exit(runner.invoke(app, ["fid", *map(str, args), "-q", "--csv", str(csv)]), 0)
    return pd.read_csv(csv).iloc[0].to_dict()


def pytorch_fid_statistics(folder: Path, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """pytorch-fid's own reading, network pass and statistics of a folder's files."""
    from pytorch_fid.fid_score import IMAGE_EXTENSIONS, calculate_activation_statistics

    files = sorted(f for ext in IMAGE_EXTENSIONS for f in folder.glob(f"*.{ext}"))
    net = load_inception(dims)
    return calculate_activation_statistics(files, net, batch_size=5, dims=dims, device="cpu", num_workers=0)


def test_fid_of_a_set_against_itself_is_zero(runner, clean_exit, tmp_path, with_inception, folders):
    a, _ = folders
    row = run_fid(runner, clean_exit, tmp_path, a, a, "--dims", DIMS)
    _, sigma = statistics(features(folder_images(a), load_inception(64), 5, "cpu"))
    assert abs(row["fid"]) < 1e-6 * np.trace(sigma)  # exact arithmetic gives 0; sqrtm rounds
    assert (row["n_a"], row["n_b"], row["fid_dims"], row["command"]) == (N, N, 64, "fid")
    weights = with_inception / "hub" / "checkpoints" / WEIGHTS_FILE
    assert row["inception_weights"] == f"{weights}@sha256:{sha256_of(weights)}"
    assert "not pytorch-fid's published file" in row["message"]  # random weights are told apart


@pytest.mark.slow
def test_fid_equals_pytorch_fids_own_function_on_its_own_features(
    runner, clean_exit, tmp_path, with_inception, folders
):
    from pytorch_fid.fid_score import calculate_frechet_distance

    a, b = folders
    row = run_fid(runner, clean_exit, tmp_path, a, b, "--dims", DIMS, "--batch-size", "5")
    theirs = calculate_frechet_distance(*pytorch_fid_statistics(a, 64), *pytorch_fid_statistics(b, 64))
    assert theirs > 1.0  # the two sets differ: the comparison is not of two zeros
    assert row["fid"] == pytest.approx(theirs, rel=1e-12)  # same images, batches, network: same numbers
    # another batch size rounds the convolutions differently (~1e-7 of a feature), nothing more
    other_batches = run_fid(runner, clean_exit, tmp_path, a, b, "--dims", DIMS, "--batch-size", "7")
    assert other_batches["fid"] == pytest.approx(theirs, rel=1e-6)


@pytest.mark.slow
def test_fid_ref_writes_pytorch_fids_layout_and_reads_it_back(
    runner, clean_exit, tmp_path, with_inception, folders
):
    from pytorch_fid.fid_score import compute_statistics_of_path

    a, _ = folders
    ref = tmp_path / "ref.npz"
    args = ["fid-ref", "--dataset", f"folder:{a}", "--out", str(ref), "--batch-size", "5", "-q"]
    clean_exit(runner.invoke(app, args), 0)
    with np.load(ref) as data:
        assert sorted(data.files) == ["mu", "sigma"]
        assert data["mu"].shape == (2048,) and data["sigma"].shape == (2048, 2048)
        assert data["mu"].dtype == data["sigma"].dtype == np.float64
    mu, sigma = compute_statistics_of_path(str(ref), None, 50, 2048, "cpu")  # pytorch-fid's loader
    their_mu, their_sigma = pytorch_fid_statistics(a, 2048)
    np.testing.assert_array_equal(mu, their_mu)  # the same files, batches and network: the same numbers
    np.testing.assert_array_equal(sigma, their_sigma)


def test_a_statistics_file_of_pytorch_fid_is_read_by_fid(
    runner, clean_exit, tmp_path, with_inception, folders
):
    a, b = folders
    theirs = tmp_path / "theirs.npz"
    mu, sigma = pytorch_fid_statistics(a, 64)
    np.savez_compressed(theirs, mu=mu, sigma=sigma)  # as pytorch-fid --save-stats writes it
    same = run_fid(runner, clean_exit, tmp_path, theirs, a)  # --dims comes from the file
    other = run_fid(runner, clean_exit, tmp_path, b, theirs)
    assert same["fid_dims"] == 64 and pd.isna(same["n_a"]) and same["n_b"] == N
    assert abs(same["fid"]) < 1e-6 * np.trace(sigma) and other["fid"] > 1.0


def test_a_built_in_dataset_counts_as_the_png_files_of_its_images(
    runner, clean_exit, tmp_path, with_inception
):
    from PIL import Image

    from mubench.data import load_dataset

    args = ["fid-ref", "--dataset", "patches32", "--split", "test", "--num-images", "6", "--dims", DIMS, "-q"]
    clean_exit(runner.invoke(app, [*args, "--out", str(tmp_path / "ref.npz")]), 0)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, image in enumerate(load_dataset("patches32", "test", limit=6).images):
        pixels = (image.permute(1, 2, 0) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(folder / f"{i}.png")
    row = run_fid(runner, clean_exit, tmp_path, tmp_path / "ref.npz", folder)
    with np.load(tmp_path / "ref.npz") as data:
        assert abs(row["fid"]) < 1e-6 * np.trace(data["sigma"])


def test_a_sample_folder_is_scored_without_its_grid_and_names_its_model(
    runner, clean_exit, tmp_path, with_inception, folders
):
    from PIL import Image

    a, _ = folders
    sampled = tmp_path / "sampled"
    args = ["sample", "-m", "ode-u-tiny", "--seeds", "0-3", "--steps", "2", "-q", "--out", str(sampled)]
    clean_exit(runner.invoke(app, args), 0)
    assert Image.open(sampled / GRID).size != Image.open(sampled / "000000.png").size  # read, it is refused
    Image.new("RGB", (32, 32)).save(sampled / ".000009.partial.png")  # an unfinished write: left out too
    row = run_fid(runner, clean_exit, tmp_path, sampled, a, "--dims", DIMS)
    assert row["n_a"] == 4 and row["fid"] > 0
    assert (row["model"], row["sampler"], row["steps"]) == ("ode-u-tiny", "ddim(eta=0)", 2)
    assert row["checkpoint"].startswith("shipped:")


def test_kid_of_a_set_against_itself_is_near_zero(runner, clean_exit, tmp_path, with_inception, folders):
    a, b = folders
    same = run_fid(runner, clean_exit, tmp_path, a, a, "--dims", DIMS, "--kid", "--kid-subsets", "20")
    other = run_fid(runner, clean_exit, tmp_path, a, b, "--dims", DIMS, "--kid", "--kid-subsets", "20")
    assert other["kid_mean"] > 0 and abs(same["kid_mean"]) < 0.05 * other["kid_mean"]
    assert (same["kid_subsets"], same["kid_subset_size"]) == (20, N)
    # subsets of all N images are the whole sets, in another order: every subset gives the same value
    assert same["kid_std"] == pytest.approx(0, abs=1e-9 * other["kid_mean"])


def test_polynomial_mmd_is_the_unbiased_estimate_written_out():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)) + 0.5

    def k(u, v):
        return (u @ v / 3 + 1) ** 3

    m = 5
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    assert polynomial_mmd2(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)
    assert polynomial_mmd2(x, y) == pytest.approx(polynomial_mmd2(y, x), rel=1e-12)


def test_kid_is_zero_and_symmetric_in_expectation():
    """Fresh samples of one distribution: the unbiased estimate averages to 0 (within 4 standard errors);
    KID(a, b) and KID(b, a) draw other subsets, so they agree in expectation only."""
    rng = np.random.default_rng(1)
    values = [polynomial_mmd2(rng.normal(size=(20, 8)), rng.normal(size=(20, 8))) for _ in range(400)]
    assert abs(np.mean(values)) < 4 * np.std(values) / np.sqrt(len(values))
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(300, 8)) + 0.3
    ab, ab_std, size = kid(a, b, subsets=200, subset_size=50)
    ba, _, _ = kid(b, a, subsets=200, subset_size=50)
    assert size == 50 and ab > 10 * ab_std / np.sqrt(200)  # a real difference is seen
    assert abs(ab - ba) < 4 * ab_std * np.sqrt(2 / 200)
    assert kid(a, b, 10, 50, seed=7) == kid(a, b, 10, 50, seed=7)  # the subsets come from the seed


def test_missing_weights_name_the_exact_path(runner, clean_exit, tmp_path, monkeypatch, no_download, folders):
    a, b = folders
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    csv = tmp_path / "fid.csv"
    result = runner.invoke(app, ["fid", str(a), str(b), "--csv", str(csv), "-q"])
    clean_exit(result, 2)
    expected = tmp_path / "empty" / "hub" / "checkpoints" / WEIGHTS_FILE
    assert str(expected) in result.output and len(result.output.strip().splitlines()) == 1
    given = tmp_path / "nowhere.pth"
    result = runner.invoke(app, ["fid-ref", "--dataset", f"folder:{a}", "--out", str(tmp_path / "r.npz"),
                                 "--inception-weights", str(given)])  # fmt: skip
    clean_exit(result, 2)
    assert f"--inception-weights '{given}' does not exist" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written


def _bad_inputs(root: Path, a: Path) -> dict[str, tuple[list[str], str]]:
    from PIL import Image

    np.savez(root / "nostats.npz", mean=np.zeros(3))
    (root / "garbage.npz").write_text("not a zip")
    mixed = write_pngs(root / "mixed", 2, seed=2)
    Image.new("RGB", (16, 16)).save(mixed / "odd.png")
    single = write_pngs(root / "single", 1, seed=3)
    (root / "exists.npz").write_text("mine")
    truncated = write_pngs(root / "truncated", 2, seed=4)
    data = (truncated / "000001.png").read_bytes()
    (truncated / "000001.png").write_bytes(data[: len(data) // 2])  # its header still reads
    torch.save({"conv.weight": torch.zeros(1)}, root / "other.pth")
    return {
        "no mu/sigma": (["fid", str(root / "nostats.npz"), str(a)], "has no 'mu' and 'sigma' arrays"),
        "not an npz": (["fid", str(root / "garbage.npz"), str(a)], "cannot read"),
        "mixed sizes": (["fid", str(mixed), str(a)], "images of mixed sizes"),
        "one image": (["fid", str(single), str(a)], "1 image; statistics need at least 2"),
        "truncated": (["fid", str(truncated), str(a), "--dims", "64"], "cannot read"),
        "other weights": (
            ["fid", str(a), str(a), "--inception-weights", str(root / "other.pth")],
            "are not pytorch-fid's network",
        ),
        "kid on npz": (["fid", str(root / "nostats.npz"), str(a), "--kid"], "has no 'mu'"),
        "missing side": (["fid", str(root / "nope"), str(a)], "does not exist"),
        "dims": (["fid", str(a), str(a), "--dims", "100"], "--dims 100"),
        "ref exists": (["fid-ref", "--dataset", f"folder:{a}", "--out", str(root / "exists.npz")], "exists"),
        "ref not npz": (
            ["fid-ref", "--dataset", f"folder:{a}", "--out", str(root / "r.txt")],
            "ending in .npz",
        ),
        "ref one image": (
            ["fid-ref", "--dataset", f"folder:{single}", "--out", str(root / "r.npz")],
            "1 image",
        ),
        "ref mixed": (
            ["fid-ref", "--dataset", f"folder:{mixed}", "--out", str(root / "r.npz")],
            "mixed sizes",
        ),
        "ref dataset": (["fid-ref", "--dataset", "nope", "--out", str(root / "r.npz")], "unknown dataset"),
    }


BAD_CASES = (
    "no mu/sigma", "not an npz", "mixed sizes", "one image", "truncated", "other weights", "kid on npz",
    "missing side", "dims", "ref exists", "ref not npz", "ref one image", "ref mixed", "ref dataset",
)  # fmt: skip


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_gets_one_line_and_writes_nothing(
    runner, clean_exit, tmp_path, with_inception, folders, tree_digest, case
):
    a, _ = folders
    cases = _bad_inputs(tmp_path, a)
    assert set(cases) == set(BAD_CASES)
    args, says = cases[case]
    before = tree_digest(tmp_path)
    csv = ["--csv", str(tmp_path / "out.csv")] if args[0] == "fid" else []
    result = runner.invoke(app, [*args, *csv, "-q"])
    clean_exit(result, 2)
    assert says in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert tree_digest(tmp_path) == before  # no file made, none changed


def test_kid_needs_image_folders(runner, clean_exit, tmp_path, with_inception, folders):
    a, _ = folders
    ref = tmp_path / "ref.npz"
    np.savez(ref, mu=np.zeros(64), sigma=np.eye(64))
    result = runner.invoke(app, ["fid", str(ref), str(a), "--kid", "-q"])
    clean_exit(result, 2)
    assert f"--kid needs the features of every image: '{ref}' holds only mu and sigma" in result.output


def test_two_statistics_files_need_no_network(runner, clean_exit, tmp_path, monkeypatch, no_download):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40, 8)), rng.normal(size=(40, 8)) + 1.0
    for name, f in (("x.npz", x), ("y.npz", y)):
        np.savez(tmp_path / name, mu=f.mean(0), sigma=np.cov(f, rowvar=False))
    row = run_fid(runner, clean_exit, tmp_path, tmp_path / "x.npz", tmp_path / "y.npz")
    from pytorch_fid.fid_score import calculate_frechet_distance

    expected = calculate_frechet_distance(
        x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)
    )
    assert row["fid"] == pytest.approx(expected, rel=1e-12) and row["fid_dims"] == 8
    assert pd.isna(row["n_a"]) and pd.isna(row["inception_weights"])
