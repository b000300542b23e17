"""``mubench fid-ref`` and ``mubench fid``: Inception features of image sets, their statistics, and the
distances between two sets (each an image folder or a statistics file)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mubench.distributed import World, join
from mubench.errors import UsageError, opt
from mubench.fid.images import ImageSet, dataset_images, folder_images
from mubench.fid.inception import (
    check_dims,
    load_inception,
    missing_weights_message,
    weights_note,
    weights_path,
)
from mubench.fid.kid import kid
from mubench.fid.stats import check_out, frechet_distance, read_npz, statistics, write_npz

Tick = Callable[[int], None]  # called with the number of images done so far


def features(
    images: ImageSet,
    net: Any,
    batch_size: int,
    device: str,
    tick: Tick | None = None,
    world: World | None = None,
) -> np.ndarray:
    """(n, d) float64 Inception features of ``images``, as pytorch-fid's ``get_activations`` gives them
    (feature maps larger than 1 x 1, for d < 2048, averaged over space). Under torchrun each rank reads
    its share of the images, and rank 0 gets every image's features in order (the others: none)."""
    import torch
    from torch.nn.functional import adaptive_avg_pool2d

    world = world or World()
    mine = images.subset(world.share(range(len(images))))
    out: list[np.ndarray] = []
    done = 0
    with torch.inference_mode():
        for batch in mine.batches(batch_size):
            pred = net(batch.to(device))[0]
            if pred.shape[2] != 1 or pred.shape[3] != 1:
                pred = adaptive_avg_pool2d(pred, output_size=(1, 1))
            out.append(pred.squeeze(3).squeeze(2).cpu().numpy())
            done += len(batch)
            if tick and world.is_main:  # rank 0's share stands for everyone's
                tick(min(done * world.world_size, len(images)))
    rows = world.gather([row for part in out for row in part])
    return np.stack(rows).astype(np.float64) if rows else np.empty((0, 0))


def fid_ref(
    dataset: str,
    out: Path,
    split: str = "train",
    data_root: Path | None = None,
    num_images: int | None = None,
    dims: int = 2048,
    inception_weights: str | None = None,
    batch_size: int = 50,
    device: str = "cpu",
    tick: Tick | None = None,
) -> dict[str, Any]:
    """Write the statistics of ``dataset``'s images to ``out`` (refused if it exists); say what was done.
    Under torchrun the ranks share the images and rank 0 writes the file."""
    from mubench.measure.runtime.device import resolve_device
    from mubench.ranges import check_numbers

    world = join(device)
    check_numbers({"num_images": num_images, "batch_size": batch_size})
    check_dims(dims)
    check_out(out)
    resolved = str(resolve_device(world.device(device)))
    missing = missing_weights_message(inception_weights)
    if missing:  # before reading a dataset, which may take a while
        raise UsageError(missing)
    images = dataset_images(dataset, split, data_root, num_images)
    net = load_inception(dims, inception_weights, resolved)
    feats = features(images, net, batch_size, resolved, tick, world)
    world.on_main(lambda: write_npz(out, *statistics(feats)))
    return {"images": images.label, "n": len(images), "dims": dims, "out": str(out)}


@dataclass(frozen=True)
class Side:
    """One side of ``fid``: an image folder, or the statistics read from an .npz file."""

    label: str
    images: ImageSet | None = None
    stats: tuple[np.ndarray, np.ndarray] | None = None


def read_side(text: str) -> Side:
    path = Path(text)
    if path.is_dir():
        return Side(text, images=folder_images(path))
    if path.suffix == ".npz":
        if not path.exists():
            raise UsageError(f"'{text}' does not exist")
        return Side(text, stats=read_npz(path))
    what = "does not exist" if not path.exists() else "is not a folder"
    raise UsageError(f"'{text}' {what}; give an image folder or an .npz statistics file")


def sampled_by(sides: list[Side]) -> dict[str, Any]:
    """``model``, ``checkpoint``, ``sampler`` and ``steps`` (DDIM's; empty for ddpm) of the first side that
    ``mubench sample`` made, from the record it leaves in the folder; nothing for other folders."""
    import json

    from mubench.sampling.run import MARKER

    for side in sides:
        marker = Path(side.label) / MARKER
        if side.images is None or not marker.is_file():
            continue
        try:
            made = json.loads(marker.read_text())["conditions"]
            sampler = made["sampler"] if made["sampler"] == "ddpm" else f"ddim(eta={float(made['eta']):g})"
            return {"model": str(made["model"]), "checkpoint": str(made["checkpoint"]), "sampler": sampler,
                    "steps": made["steps"] if made["sampler"] == "ddim" else None}  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a record it cannot read: the row just lacks these
    return {}


def _same_files(x: Side, y: Side) -> bool:
    if x.images is None or y.images is None or not x.images.files:
        return False
    return [f.resolve() for f in x.images.files] == [f.resolve() for f in y.images.files]


def _dims_of(sides: list[Side], dims: int | None) -> int:
    """The feature size: the statistics files', which must agree with each other and with --dims."""
    given = {len(s.stats[0]): s.label for s in sides if s.stats is not None}
    if dims is not None:
        check_dims(dims)
        given.setdefault(dims, f"{opt('dims')}")
    if len(given) > 1:
        (d1, w1), (d2, w2) = list(given.items())[:2]
        raise UsageError(f"features of different sizes: {d1} ({w1}) and {d2} ({w2})")
    return next(iter(given), 2048)


def fid(
    a: str,
    b: str,
    run_id: str,
    with_kid: bool = False,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    dims: int | None = None,
    inception_weights: str | None = None,
    batch_size: int = 50,
    device: str = "cpu",
    tick: Tick | None = None,
) -> dict[str, Any] | None:
    """The row of FID (and KID) between ``a`` and ``b``, each an image folder or an .npz file. Under
    torchrun the ranks share the images, and rank 0 alone returns the row (the others: None)."""
    from mubench.measure.runtime.device import resolve_device
    from mubench.ranges import check_numbers
    from mubench.results import environment, make_row
    from mubench.sources.files import sha256_of

    world = join(device)
    check_numbers({"batch_size": batch_size, "kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size,
                   "dims": dims})  # fmt: skip
    resolved = str(resolve_device(world.device(device)))
    sides = [read_side(a), read_side(b)]
    d = _dims_of(sides, dims)
    if with_kid:
        npz = [s.label for s in sides if s.images is None]
        if npz:
            raise UsageError(
                f"{opt('kid')} needs the features of every image: '{npz[0]}' holds only mu and sigma; give "
                "image folders"
            )
    label, message = None, ""
    feats: list[np.ndarray | None] = [None, None]
    if any(s.images is not None for s in sides):
        net = load_inception(d, inception_weights, resolved)
        path = weights_path(inception_weights)
        digest = sha256_of(path)
        label, message = f"{path}@sha256:{digest}", weights_note(path, digest)
        offset = 0
        for i, side in enumerate(sides):
            if i == 1 and _same_files(sides[0], side):
                feats[1] = feats[0]  # one folder against itself: its features once
            elif side.images is not None:
                step = (lambda done, o=offset: tick(o + done)) if tick else None
                feats[i] = features(side.images, net, batch_size, resolved, step, world)
                offset += len(side.images)
    if not world.is_main:
        return None
    stats = [s.stats if s.stats is not None else statistics(f) for s, f in zip(sides, feats)]
    row: dict[str, Any] = {"fid": frechet_distance(*stats[0], *stats[1])}
    if with_kid:
        mean, std, size = kid(feats[0], feats[1], kid_subsets, kid_subset_size)
        row |= {"kid_mean": mean, "kid_std": std, "kid_subsets": kid_subsets, "kid_subset_size": size}
    counts = [len(s.images) if s.images is not None else None for s in sides]
    return make_row(
        "fid", run_id, device=resolved, batch_size=batch_size, message=message, **sampled_by(sides),
        fid_dims=d, **row,
        n_a=counts[0], n_b=counts[1], input_a=a, input_b=b, inception_weights=label,
        world_size=world.world_size,
        **environment(resolved),
    )  # fmt: skip


def images_to_read(a: str, b: str) -> int:
    """How many images ``fid`` will run through the network (for a progress bar; 0 if unknown)."""
    from mubench.fid.images import folder_files

    folders = {Path(p).resolve() for p in (a, b) if Path(p).is_dir()}
    return sum(len(folder_files(folder)) for folder in folders)
