"""`mubench sample`: generate images from pure noise, one PNG per seed, and a grid."""

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
from mubench.cli.render import Column, table
from mubench.formatting import fixed, integer, text
from mubench.ranges import bounds


@friendly_errors
def sample(
    model: Annotated[str, typer.Option("--model", "-m", help="Registry name of the model to sample.")],
    out: Annotated[
        Path,
        typer.Option(help="Folder for <seed>.png files and grid.png: new, empty, or made by mubench sample."),
    ],
    seeds: Annotated[str, typer.Option(help="Seeds, one image each: A-B (inclusive) or A,B,C-D.")] = "0-63",
    steps: Annotated[
        int | None,
        typer.Option(**bounds("steps"), help="ddim: denoiser calls (default 50); ddpm runs every step."),
    ] = None,
    sampler: Annotated[str, typer.Option(help="ddim or ddpm, from pure noise at t = T - 1 to 0.")] = "ddim",
    eta: Annotated[float, typer.Option(**bounds("eta"), help="DDIM eta (0: deterministic).")] = 0.0,
    batch_size: Annotated[
        int,
        typer.Option(
            **bounds("batch_size"), help="Images per denoiser call (a seed's image does not depend on it)."
        ),
    ] = 64,
    checkpoint: Annotated[
        list[str] | None, typer.Option(help="NAME=PATH: weights for the model (.safetensors).")
    ] = None,
    allow_untrained: Annotated[
        bool, typer.Option("--allow-untrained", help="Sample a model without trained weights (row marked).")
    ] = False,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
    csv: CsvOpt = None,
    json: JsonOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Generate one image per seed with the reverse process from pure noise; PNG files and a grid.

    The image of a seed is the same whatever the batch size: its initial noise and every stochastic
    step's noise come from its own generator (batched CPU/GPU kernels may still round differently,
    which rarely moves a pixel by one level). The row records the model, sampler, steps, ODE
    evaluations and wall time per image. Without --checkpoint: the model's shipped weights.

    Under torchrun, the seeds are shared over the ranks (the images do not change) and rank 0 writes
    every file; the folder's record says the run is unfinished until the last image is written.

    Examples:

        mubench sample -m ode-u-tiny --seeds 0-63 --out samples/ode-u-tiny

        mubench sample -m lucid-unet-tiny --seeds 0-49999 --steps 50 --out samples/lucid

        torchrun --standalone --nproc-per-node 4 -m mubench sample -m ode-u-tiny --seeds 0-49999 --out s
    """
    from mubench.distributed import is_main
    from mubench.results import new_run_id, to_frame
    from mubench.sampling.run import SampleConditions, parse_checkpoint, sample, weights_path
    from mubench.sampling.seeds import parse_seeds

    conds = SampleConditions(
        model=model, seeds=seeds, steps=steps, sampler=sampler, eta=eta, batch_size=batch_size,
        checkpoint=parse_checkpoint(model, checkpoint or []), allow_untrained=allow_untrained, device=device,
    )  # fmt: skip
    weights_path(conds)  # refused before any folder is made
    check_outputs(csv, json)
    total = len(parse_seeds(seeds))
    with progress(total, f"sampling {model}", quiet or not is_main()) as tick:
        row = sample(conds, out, new_run_id(), lambda label, done: tick(label, completed=done))
    if row is None:  # another rank than 0 under torchrun: rank 0 writes and reports
        return
    frame = to_frame([row])
    columns: list[Column] = [
        ("model", "model", text),
        ("sampler", "sampler", text),
        ("steps", "steps", integer),
        ("nfe_per_trajectory", "ODE evals", integer),
        ("n_seeds", "images", integer),
        ("batch_size", "batch", integer),
        ("sample_s_per_image", "s / image", fixed(4)),
        ("checkpoint", "weights", text),
    ]
    console.print(table(frame, columns, title="Samples", caption=f"PNG files and grid.png in {out}"))
    if row["message"]:
        err_console.print(f"note: {row['message']}", highlight=False, markup=False)
    finish(frame, csv, json, row["device"])
