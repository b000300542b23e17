"""Options of the commands that read trained weights (mubench's own or another library's)."""

from __future__ import annotations

from typing import Annotated

import typer

CheckpointOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="NAME=PATH: weights for model NAME: a mubench .safetensors, a diffusers folder, a "
        "denoising-diffusion-pytorch model-N.pt, or the authors' cU-Net state dict. Repeatable."
    ),
]
WeightsOpt = Annotated[
    str, typer.Option(help="denoising-diffusion-pytorch checkpoints: the 'ema' or the 'raw' weights.")
]
PredictionOpt = Annotated[
    str | None,
    typer.Option(help="v, eps or x0: what weights whose source does not say were trained to predict."),
]
