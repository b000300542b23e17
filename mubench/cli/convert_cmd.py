"""`mubench convert`: another library's weights as a mubench checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mubench.cli.common import console, friendly_errors
from mubench.cli.declared import typer_annotation
from mubench.options.catalog import PREDICTION, WEIGHT_KIND


@friendly_errors
def convert(
    source: Annotated[
        Path,
        typer.Argument(
            help="A diffusers model or pipeline folder, a denoising-diffusion-pytorch model-N.pt, or the "
            "authors' cU-Net state dict.",
            show_default=False,
        ),
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="Registry model the weights are for.")],
    out: Annotated[Path, typer.Option(help="Checkpoint to write (.safetensors, with a .json sidecar).")],
    weights: typer_annotation(WEIGHT_KIND) = WEIGHT_KIND.default,
    prediction: typer_annotation(PREDICTION) = None,
) -> None:
    """Convert pretrained weights into mubench's format: safetensors under mubench's names, and a JSON
    sidecar with the source's format, path, sha256, training step, schedule and objective.

    Later runs read the converted file without the source's library.

    Examples:

        mubench convert hub/models--google--ddpm-cifar10-32 -m ddpm-unet --out ddpm.safetensors

        mubench convert results/model-100.pt -m lucid-unet --out lucid.safetensors --weights ema
    """
    from mubench.convert import convert as run

    record = run(source, model, out, weights, prediction)
    console.print(
        f"wrote {out} ({model}) from {record['source_format']} '{source}'; schedule "
        f"{record['schedule'] or 'the model default'}, prediction {record['prediction'] or 'not recorded'}"
    )
