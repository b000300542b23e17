"""`mubench train`: train a registry model as a denoiser on a built-in dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mubench.cli.common import console, friendly_errors, progress
from mubench.defaults import BUILTIN_DATASETS
from mubench.errors import UsageError
from mubench.ranges import bounds


@friendly_errors
def train_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Registry name of the model to train.")],
    out: Annotated[
        Path,
        typer.Option(
            help="Checkpoint to write (.safetensors, with a .json sidecar); an existing one needs --resume."
        ),
    ],
    dataset: Annotated[
        str,
        typer.Option(
            help=f"Training images: {', '.join(BUILTIN_DATASETS)} (built in), a torchvision name, "
            "folder:PATH."
        ),
    ] = "patches32",
    data_root: Annotated[Path | None, typer.Option(help="Root of torchvision datasets.")] = None,
    steps: Annotated[int | None, typer.Option(**bounds("steps"), help="Optimizer steps.")] = 2000,
    minutes: Annotated[
        float | None,
        typer.Option(**bounds("minutes"), help="Wall-clock budget; stops at whichever comes first."),
    ] = None,
    batch_size: Annotated[int, typer.Option(**bounds("batch_size"), help="Images per step.")] = 64,
    lr: Annotated[float, typer.Option(**bounds("lr"), help="Adam learning rate.")] = 2e-4,
    ema_decay: Annotated[float, typer.Option(**bounds("ema_decay"), help="EMA decay per step.")] = 0.999,
    grad_clip: Annotated[float, typer.Option(**bounds("grad_clip"), help="Max gradient norm.")] = 1.0,
    prediction: Annotated[str | None, typer.Option(help="eps or v. Default: the model's own.")] = None,
    seed: Annotated[
        int, typer.Option(**bounds("seed"), help="Seed of weights, batches, steps and noise.")
    ] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run saved at --out.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a model to denoise: epsilon or v objective, Adam, EMA, gradient clipping, seeded, resumable.

    Examples:

        mubench train --model ode-u-tiny --out ode-u-tiny.safetensors --steps 3000

        mubench train --model lucid-unet-tiny --out lucid.safetensors --minutes 10 --resume
    """
    from mubench.results import check_writable
    from mubench.train import TrainConfig, train

    if out.suffix != ".safetensors":
        raise UsageError(f"--out '{out}' must end in .safetensors (checkpoints are safetensors files)")
    check_writable(out)
    cfg = TrainConfig(
        model=model, dataset=dataset, steps=steps, minutes=minutes, batch_size=batch_size, lr=lr,
        ema_decay=ema_decay, grad_clip=grad_clip, prediction=prediction, seed=seed,
        data_root=str(data_root) if data_root else None,
    )  # fmt: skip
    with progress(steps, f"training {model}", quiet) as tick:
        meta = train(cfg, out, resume, lambda step, loss: tick(f"loss {loss:.4f}", completed=step))
    loss = "n/a" if meta["final_loss"] is None else f"{meta['final_loss']:.4f}"
    console.print(
        f"trained {model} for {meta['steps']} steps on {dataset} ({meta['prediction']} objective, "
        f"{meta['schedule']} schedule): final loss {loss}; wrote {out}"
    )
