"""`mubench fid-ref` and `mubench fid`: reference statistics of a dataset, and FID/KID between two sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mubench.cli.common import (
    CsvOpt,
    JsonOpt,
    QuietOpt,
    check_outputs,
    console,
    err_console,
    finish,
    friendly_errors,
    progress,
)
from mubench.cli.declared import typer_annotation
from mubench.cli.render import Column, table
from mubench.formatting import fixed, integer
from mubench.options.catalog import DEVICE
from mubench.ranges import bounds

WeightsOpt = Annotated[
    str | None,
    typer.Option(
        help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth (default: in $TORCH_HOME/hub/checkpoints/).",
        show_default=False,
    ),
]
BatchOpt = Annotated[int, typer.Option(**bounds("batch_size"), help="Images per Inception call.")]
DeviceOpt = typer_annotation(DEVICE)


@friendly_errors
def fid_ref(
    dataset: Annotated[
        str, typer.Option(help="Built-in (patches32, ...), cifar10 etc. with --data-root, or folder:PATH.")
    ],
    out: Annotated[Path, typer.Option(help="New .npz file for mu and sigma (never overwritten).")],
    data_root: Annotated[
        Path | None, typer.Option(help="Folder holding a torchvision dataset (nothing is downloaded).")
    ] = None,
    split: Annotated[str, typer.Option(help="train or test (not used for folder:PATH).")] = "train",
    num_images: Annotated[
        int | None,
        typer.Option(**bounds("num_images"), help="Use this many images, evenly spaced (default all)."),
    ] = None,
    dims: Annotated[
        int,
        typer.Option(**bounds("dims"), help="Inception features: 2048 (pool3, standard), 768, 192 or 64."),
    ] = 2048,
    inception_weights: WeightsOpt = None,
    batch_size: BatchOpt = 50,
    device: DeviceOpt = "cpu",
    quiet: QuietOpt = False,
) -> None:
    """Write a dataset's Inception statistics (mu, sigma) in pytorch-fid's .npz layout.

    pytorch-fid's and EDM's statistics files have this layout too: each tool reads the others'. A
    dataset's images are rounded to 8 bits first, as PNG files of them would be; a folder's files are
    read as they are (all of one size).

    Examples:

        mubench fid-ref --dataset cifar10 --data-root ~/data --out cifar10-train.npz

        mubench fid-ref --dataset folder:photos --out photos.npz
    """
    from mubench.distributed import is_main
    from mubench.fid.run import fid_ref as write_reference

    with progress(num_images, f"fid-ref {dataset}", quiet or not is_main()) as tick:
        done = write_reference(
            dataset, out, split, data_root, num_images, dims, inception_weights, batch_size, device,
            lambda n: tick(f"{n} images", completed=n),
        )  # fmt: skip
    if not is_main():  # under torchrun, rank 0 reports
        return
    err_console.print(
        f"wrote the statistics of {done['n']} images of {done['images']} ({done['dims']} features) to {out}",
        highlight=False, markup=False, soft_wrap=True,
    )  # fmt: skip


@friendly_errors
def fid(
    a: Annotated[
        str,
        typer.Argument(metavar="A", help="An image folder (e.g. mubench sample's) or an .npz of mu, sigma."),
    ],
    b: Annotated[str, typer.Argument(metavar="B", help="The same, for the other side.")],
    kid: Annotated[bool, typer.Option("--kid", help="KID too (both sides must be image folders).")] = False,
    kid_subsets: Annotated[
        int, typer.Option(**bounds("kid_subsets"), help="KID: random subset pairs.")
    ] = 100,
    kid_subset_size: Annotated[
        int,
        typer.Option(**bounds("kid_subset_size"), help="KID: images per subset (at most the smaller set)."),
    ] = 1000,
    dims: Annotated[
        int | None,
        typer.Option(
            **bounds("dims"),
            help="Inception features (default 2048, or the .npz files').",
            show_default=False,
        ),
    ] = None,
    inception_weights: WeightsOpt = None,
    batch_size: BatchOpt = 50,
    device: DeviceOpt = "cpu",
    csv: CsvOpt = None,
    json: JsonOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """FID (and with --kid, KID) between A and B, on pytorch-fid's Inception features.

    Each side is a folder of images of one size (a folder made by mubench sample leaves its grid.png
    out) or an .npz statistics file (mubench fid-ref's, pytorch-fid's or EDM's). The Frechet distance
    is pytorch-fid's own function. Nothing is downloaded.

    Examples:

        mubench fid samples/ode-u-tiny cifar10-train.npz --csv fid.csv

        mubench fid samples/ode-u-tiny samples/lucid-unet-tiny --kid
    """
    from mubench.distributed import is_main
    from mubench.fid.run import fid as score
    from mubench.fid.run import images_to_read
    from mubench.results import new_run_id, to_frame

    check_outputs(csv, json, inputs=(a, b, *([inception_weights] if inception_weights else [])))
    with progress(images_to_read(a, b) or None, "Inception features", quiet or not is_main()) as tick:
        row = score(
            a, b, new_run_id(), kid, kid_subsets, kid_subset_size, dims, inception_weights, batch_size,
            device, lambda n: tick(f"{n} images", completed=n),
        )  # fmt: skip
    if row is None:  # another rank than 0 under torchrun: rank 0 writes and reports
        return
    frame = to_frame([row])
    columns: list[Column] = [
        ("fid", "FID", fixed(4)),
        ("kid_mean", "KID", fixed(6)),
        ("kid_std", "KID std", fixed(6)),
        ("n_a", "images A", integer),
        ("n_b", "images B", integer),
        ("fid_dims", "features", integer),
    ]
    columns = [c for c in columns if c[0] in frame and frame[c[0]].notna().any()]
    console.print(table(frame, columns, title="FID"))
    console.print(f"A: {a}\nB: {b}", markup=False, highlight=False, soft_wrap=True)
    if row["message"]:
        err_console.print(f"note: {row['message']}", highlight=False, markup=False, soft_wrap=True)
    finish(frame, csv, json, row["device"])
