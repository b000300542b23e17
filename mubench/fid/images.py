"""Images to score: the files of a folder (as pytorch-fid reads them) or a dataset, in batches of
float32 (N, 3, H, W) in [0, 1], all of one size."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mubench.errors import UsageError

# pytorch-fid's image extensions (it matches them in lower case; mubench in any case)
EXTENSIONS = (".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class ImageSet:
    """What ``batches`` reads: image files, or a dataset's images held in memory (uint8 NHWC)."""

    label: str
    files: tuple[Path, ...] = ()
    pixels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.files) if self.pixels is None else len(self.pixels)

    def subset(self, indices: Sequence[int]) -> ImageSet:
        """The images at ``indices``, in that order."""
        if self.pixels is not None:
            return ImageSet(self.label, pixels=self.pixels[list(indices)])
        return ImageSet(self.label, files=tuple(self.files[i] for i in indices))

    def batches(self, batch_size: int) -> Iterator:
        """float32 tensors (N, 3, H, W) in [0, 1]: pixel / 255, as torchvision's ToTensor gives."""
        import torch

        for start in range(0, len(self), batch_size):
            if self.pixels is not None:
                chunk = self.pixels[start : start + batch_size]
            else:
                chunk = np.stack([_rgb(f) for f in self.files[start : start + batch_size]])
            yield torch.from_numpy(chunk).permute(0, 3, 1, 2).contiguous().float().div(255)


def _rgb(file: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(file) as image:
            return np.asarray(image.convert("RGB"))
    except Exception as exc:  # a file whose header reads but whose pixels do not (truncated, corrupt)
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"cannot read '{file}' as an image ({detail})") from None


def folder_files(folder: Path) -> list[Path]:
    """The image files of ``folder``, sorted by name; hidden files left out, and the grid of a folder
    that ``mubench sample`` made (it is not a sample)."""
    from mubench.sampling.run import GRID, MARKER

    skip = {GRID} if (folder / MARKER).is_file() else set()
    return sorted(
        f for f in folder.iterdir()
        if f.suffix.lower() in EXTENSIONS and not f.name.startswith(".") and f.name not in skip
        and f.is_file()
    )  # fmt: skip


def check_count(n: int, what: str) -> None:
    if n < 2:
        raise UsageError(f"{what}: {n} image{'s' if n != 1 else ''}; statistics need at least 2")


def folder_images(folder: Path, limit: int | None = None) -> ImageSet:
    """A folder's images (``limit`` of them, evenly spaced), checked: readable, at least 2, one size."""
    from PIL import Image

    from mubench.data.builtin import evenly_spaced
    from mubench.sampling.run import unfinished

    if not folder.is_dir():
        raise UsageError(f"'{folder}' is not a folder")
    seeds = unfinished(folder)
    if seeds is not None:
        raise UsageError(
            f"'{folder}' holds an unfinished mubench sample run (seeds {seeds}): run that command again to "
            "finish it"
        )
    files = folder_files(folder)
    files = [files[i] for i in evenly_spaced(len(files), limit)]
    check_count(len(files), f"folder '{folder}'")
    sizes: dict[tuple[int, int], Path] = {}
    for file in files:
        try:
            with Image.open(file) as image:
                sizes.setdefault(image.size, file)
        except Exception as exc:  # each image plugin fails its own way
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UsageError(f"folder '{folder}': cannot read '{file.name}' as an image ({detail})") from None
        if len(sizes) > 1:
            (a, first), (b, other) = sizes.items()
            raise UsageError(
                f"folder '{folder}': images of mixed sizes ({first.name} is {a[0]}x{a[1]}, {other.name} is "
                f"{b[0]}x{b[1]}); FID compares images of one size"
            )
    return ImageSet(str(folder), files=tuple(files))


def dataset_images(name: str, split: str, data_root: Path | None, limit: int | None) -> ImageSet:
    """A dataset's split as 8-bit images (rounded as PNG files of it would hold them), so that its
    statistics equal those of a folder of its PNGs."""
    import torch

    from mubench.data import FOLDER_PREFIX, check_dataset_name, load_dataset

    check_dataset_name(name)
    if name.startswith(FOLDER_PREFIX):
        return folder_images(Path(name[len(FOLDER_PREFIX) :]), limit)
    if split not in ("train", "test"):
        raise UsageError(f"unknown split '{split}'; choose train or test")
    images = load_dataset(name, split, data_root, limit).images
    check_count(len(images), f"dataset {name} ({split})")
    pixels = (images.permute(0, 2, 3, 1) * 255).round().clamp(0, 255).to(torch.uint8)
    return ImageSet(f"{name}:{split}", pixels=pixels.numpy())
