"""Datasets the user already has: a folder of images, or torchvision datasets under --data-root.

Nothing is downloaded. A missing or wrong root gets one line saying what layout is expected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mubench.data.builtin import Images, evenly_spaced
from mubench.errors import UsageError, opt

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
FOLDER_RESOLUTION = 32  # side of the centre crops taken from a folder's images
# name -> (torchvision class, resolution, the layout torchvision expects under the root)
TORCHVISION = {
    "mnist": ("MNIST", 32, "ROOT/MNIST/raw/ (train-images-idx3-ubyte, ...)"),
    "fashion-mnist": ("FashionMNIST", 32, "ROOT/FashionMNIST/raw/"),
    "cifar10": ("CIFAR10", 32, "ROOT/cifar-10-batches-py/"),
    "celeba": ("CelebA", 64, "ROOT/celeba/ (img_align_celeba/, list_eval_partition.txt, ...)"),
}


def _square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre crop to a square, resize to size x size, three channels, float in [0, 1]."""
    from skimage.transform import resize
    from skimage.util import img_as_float

    image = img_as_float(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3] if image.shape[2] >= 3 else np.repeat(image[..., :1], 3, axis=2)
    side = min(image.shape[:2])
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    crop = image[top : top + side, left : left + side]
    return np.clip(resize(crop, (size, size), anti_aliasing=side > size), 0, 1)


def _to_images(name: str, split: str, arrays: list[np.ndarray], sources: list[str]) -> Images:
    stacked = np.stack(arrays).transpose(0, 3, 1, 2).astype(np.float32)
    return Images(name, split, torch.from_numpy(stacked), tuple(sources))


def _read_image(file: Path, folder: str) -> np.ndarray:
    """One image of a folder dataset as an array; a file that is not one image gets one line naming it."""
    from skimage.io import imread

    problem = f"{opt('dataset')} folder:{folder}: cannot read '{file.name}' as an image"
    try:
        image = imread(file)
    except Exception as exc:  # each image plugin fails its own way: OSError, ValueError, struct.error, ...
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"{problem} ({detail}); remove or convert it") from None
    if image.ndim not in (2, 3) or 0 in image.shape:
        raise UsageError(f"{problem} (array of shape {image.shape}, not one 2-D image); remove or convert it")
    return image


def load_folder(path: str, split: str, resolution: int | None = None) -> Images:
    """Every image file in ``path`` (sorted by name), centre-cropped to ``resolution`` (default 32) px
    square; the same for both splits."""
    folder = Path(path)
    if not folder.is_dir():
        what = "is a file; give the folder holding the images" if folder.exists() else "no such directory"
        raise UsageError(f"{opt('dataset')} folder:{path}: {what}")
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UsageError(
            f"{opt('dataset')} folder:{path}: no image files ({', '.join(IMAGE_SUFFIXES)}) in it"
        )
    arrays = [_square(_read_image(f, path), resolution or FOLDER_RESOLUTION) for f in files]
    return _to_images(f"folder:{path}", split, arrays, [f.name for f in files])


def load_torchvision(
    name: str, split: str, data_root: Path | None, limit: int | None = None, resolution: int | None = None
) -> Images:
    """A torchvision dataset read from ``data_root`` without downloading (``limit`` images evenly spaced),
    centre-cropped to ``resolution`` px (default: the dataset's own)."""
    import torchvision

    cls_name, size, layout = TORCHVISION[name]
    if data_root is None:
        raise UsageError(
            f"{opt('dataset')} {name} needs {opt('data_root')} ROOT holding {layout}; nothing is downloaded"
        )
    cls = getattr(torchvision.datasets, cls_name)
    kwargs = (
        {"split": "test" if split == "test" else "train"} if name == "celeba" else {"train": split == "train"}
    )
    try:
        dataset = cls(str(data_root), download=False, **kwargs)
    except (RuntimeError, FileNotFoundError, OSError) as exc:
        raise UsageError(
            f"{opt('dataset')} {name}: not found under {opt('data_root')} {data_root} (expected {layout}): "
            f"{str(exc).splitlines()[0]}"
        ) from None
    keep = evenly_spaced(len(dataset), limit)
    arrays = [_square(np.asarray(dataset[i][0]), resolution or size) for i in keep]
    return _to_images(name, split, arrays, [f"{name}[{split}][{i}]" for i in keep])
