"""Datasets: built-in ones (no download), a folder of images, torchvision datasets under a root."""

from __future__ import annotations

from pathlib import Path

from mubench.data.builtin import DATASETS, Images, evenly_spaced, load_builtin
from mubench.data.external import TORCHVISION, load_folder, load_torchvision
from mubench.errors import UsageError, opt

FOLDER_PREFIX = "folder:"


def check_dataset_name(name: str) -> None:
    """Raise :class:`UsageError` unless ``name`` is a dataset mubench can read."""
    if name in DATASETS or name in TORCHVISION or (name.startswith(FOLDER_PREFIX) and len(name) > 7):
        return
    raise UsageError(
        f"unknown dataset '{name}'; built-in: {', '.join(DATASETS)}; from {opt('data_root')}: "
        f"{', '.join(TORCHVISION)}; or folder:PATH"
    )


def load_dataset(
    name: str,
    split: str,
    data_root: Path | None = None,
    limit: int | None = None,
    resolution: int | None = None,
) -> Images:
    """The ``split`` ("train" or "test") of dataset ``name``; at most ``limit`` images (None: all), spread
    evenly over the split so that every source is represented in proportion. ``resolution``: the side of
    a folder's or a torchvision dataset's centre crops (None: the dataset's own); a built-in dataset has
    one resolution, named in its name."""
    check_dataset_name(name)
    if name in DATASETS:
        images = load_builtin(name, split)
        if resolution is not None and resolution != images.images.shape[-1]:
            same = [d for d, (_, side) in DATASETS.items() if side == resolution]
            other = f"; the built-in {same[0]} has it" if same else ""
            raise UsageError(
                f"{opt('resolution')} {resolution}: the built-in dataset {name} is "
                f"{images.images.shape[-1]} px{other}"
            )
    elif name in TORCHVISION:
        return load_torchvision(name, split, data_root, limit, resolution)
    else:
        images = load_folder(name[len(FOLDER_PREFIX) :], split, resolution)
    if limit is None or limit >= len(images):
        return images
    keep = evenly_spaced(len(images), limit)
    return Images(images.name, images.split, images.images[keep], tuple(images.sources[i] for i in keep))


__all__ = ["Images", "check_dataset_name", "load_dataset"]
