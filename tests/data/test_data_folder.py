"""A folder dataset with a file that is not an image: one line naming it, exit 2, no traceback."""

from __future__ import annotations

import numpy as np
import pytest

from mubench.errors import UsageError


@pytest.fixture
def folder_with_a_bad_image(tmp_path):
    from skimage.io import imsave

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "c.png"):
        imsave(folder / name, (rng.random((40, 40, 3)) * 255).astype(np.uint8), check_contrast=False)
    (folder / "bad.png").write_text("x\n")
    return folder


def test_an_unreadable_image_is_named(folder_with_a_bad_image):
    from mubench.data import load_dataset

    with pytest.raises(UsageError, match=r"cannot read 'bad\.png' as an image"):
        load_dataset(f"folder:{folder_with_a_bad_image}", "test")


@pytest.mark.parametrize(
    "args",
    [["robustness", "-m", "ode-u-tiny", "--sigma", "0.1", "--num-images", "2"],
     ["train", "-q", "-m", "ode-u-tiny", "--steps", "1", "--batch-size", "2"]],
)  # fmt: skip
def test_cli_names_the_unreadable_image(runner, clean_exit, tmp_path, folder_with_a_bad_image, args):
    from mubench.cli.app import app

    out = ["--out", str(tmp_path / "o.safetensors")] if args[0] == "train" else []
    result = runner.invoke(app, [*args, *out, "--dataset", f"folder:{folder_with_a_bad_image}"])
    clean_exit(result, 2)
    assert "bad.png" in result.output and "cannot read" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_the_help_names_the_builtin_datasets_that_exist():
    """`--dataset`'s help lists mubench.defaults.BUILTIN_DATASETS (light, for a fast --help): the same
    names, in the same order, as the loaders of mubench.data.builtin."""
    from mubench.data.builtin import DATASETS
    from mubench.defaults import BUILTIN_DATASETS

    assert tuple(DATASETS) == BUILTIN_DATASETS
