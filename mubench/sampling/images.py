"""Writing samples: 8-bit PNG files, written whole or not at all, and a grid of them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

GRID_IMAGES = 64  # the grid shows the first this many seeds
GRID_COLUMNS = 8


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Images (N, C, H, W) in the model's [-1, 1] range as (N, H, W, C) uint8 (rounded, clipped)."""
    pixels = ((x.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).numpy()


def seed_file(out: Path, seed: int) -> Path:
    return out / f"{seed:06d}.png"


def write_png(image: np.ndarray, path: Path) -> None:
    """Write an (H, W, C) uint8 image through a temporary file in the same folder, renamed at the end: a
    file named ``path`` is always a whole image."""
    from PIL import Image

    from mubench.results import write_bytes_atomic

    pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    write_bytes_atomic(path, buffer.getvalue())


def write_grid(out: Path, seeds: list[int], path: Path) -> None:
    """A grid of the first :data:`GRID_IMAGES` seeds' images, read back from their files (so that it
    needs nothing but the folder, whoever wrote them)."""
    from PIL import Image

    tiles = [np.asarray(Image.open(seed_file(out, s))) for s in seeds[:GRID_IMAGES]]
    tiles = [t[..., None] if t.ndim == 2 else t for t in tiles]
    height, width, channels = tiles[0].shape
    columns = min(GRID_COLUMNS, len(tiles))
    rows = -(-len(tiles) // columns)
    grid = np.zeros((rows * height, columns * width, channels), dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * height : (r + 1) * height, c * width : (c + 1) * width] = tile
    write_png(grid, path)
