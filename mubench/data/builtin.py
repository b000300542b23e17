"""Built-in datasets that need no download: patches of the photographs scikit-image ships, and its faces.

Every image comes from a named source photograph; train and test sets are split by source, so no test
patch comes from a photograph seen in training. Everything is deterministic (no random crops).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from mubench.errors import UsageError

# Source photographs (scikit-image's bundled data). Grayscale ones are repeated over three channels.
TRAIN_SOURCES = (
    "astronaut",
    "rocket",
    "hubble_deep_field",
    "retina",
    "immunohistochemistry",
    "moon",
    "coins",
    "grass",
    "gravel",
    "brick",
)
TEST_SOURCES = ("chelsea", "coffee", "camera")
SPLITS = ("train", "test")
FACES = 100  # lfw_subset: the first 100 of its 200 images are faces
TEST_FACES = 20  # the last 20 faces are the test split


@dataclass(frozen=True)
class Images:
    """A split of a dataset: images (N, 3, R, R) float32 in [0, 1], and the source of each."""

    name: str
    split: str
    images: torch.Tensor
    sources: tuple[str, ...]

    def __len__(self) -> int:
        return self.images.shape[0]


def evenly_spaced(total: int, limit: int | None) -> list[int]:
    """Indices of at most ``limit`` of ``total`` items, spread evenly (all when ``limit`` is None): a split
    is ordered by source, so its first items would all come from one."""
    if limit is None or limit >= total:
        return list(range(total))
    return [i * total // limit for i in range(limit)]


def _photo(name: str) -> np.ndarray:
    """A scikit-image photograph as float (H, W, 3) in [0, 1]."""
    from skimage import data
    from skimage.util import img_as_float

    image = img_as_float(getattr(data, name)())
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]


def _patches(image: np.ndarray, size: int, stride: int) -> list[np.ndarray]:
    height, width = image.shape[:2]
    return [
        image[top : top + size, left : left + size]
        for top in range(0, height - size + 1, stride)
        for left in range(0, width - size + 1, stride)
    ]


def _photo_patches(size: int, split: str) -> tuple[list[np.ndarray], list[str]]:
    """Patches of each source photograph, resized so its short side is 4 and 8 patches long.

    Test patches do not overlap; training patches overlap by half (more of them, same sources).
    """
    from skimage.transform import resize

    sources = TEST_SOURCES if split == "test" else TRAIN_SOURCES
    stride = size if split == "test" else size // 2
    patches, names = [], []
    for source in sources:
        photo = _photo(source)
        for short_side in (4 * size, 8 * size):
            scale = short_side / min(photo.shape[:2])
            shape = (round(photo.shape[0] * scale), round(photo.shape[1] * scale), 3)
            found = _patches(resize(photo, shape, anti_aliasing=True), size, stride)
            patches += found
            names += [source] * len(found)
    return patches, names


def _face_images(size: int, split: str) -> tuple[list[np.ndarray], list[str]]:
    from skimage import data
    from skimage.transform import resize

    faces = data.lfw_subset()[:FACES]
    indices = range(FACES - TEST_FACES, FACES) if split == "test" else range(FACES - TEST_FACES)
    images = [
        np.repeat(resize(faces[i], (size, size), anti_aliasing=True)[..., None], 3, axis=2) for i in indices
    ]
    return images, [f"lfw_subset[{i}]" for i in indices]


DATASETS: dict[str, tuple[Callable[[int, str], tuple[list[np.ndarray], list[str]]], int]] = {
    "patches32": (_photo_patches, 32),
    "patches64": (_photo_patches, 64),
    "faces32": (_face_images, 32),
}


@lru_cache(maxsize=8)
def load_builtin(name: str, split: str) -> Images:
    """The ``split`` ("train" or "test") of built-in dataset ``name``."""
    if name not in DATASETS:
        raise UsageError(f"unknown dataset '{name}'; built-in ones: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise UsageError(f"unknown split '{split}'; choose one of {', '.join(SPLITS)}")
    make, size = DATASETS[name]
    images, sources = make(size, split)
    array = np.clip(np.stack(images).transpose(0, 3, 1, 2), 0.0, 1.0).astype(np.float32)
    return Images(name, split, torch.from_numpy(array), tuple(sources))
