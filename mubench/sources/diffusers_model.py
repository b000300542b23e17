"""``--model diffusers:PATH``: diffusers' own ``UNet2DModel`` from a folder, benchmarked as it is.

The folder is any layout :mod:`~mubench.sources.diffusers_folder` reads; its weights come with it, and
its ``scheduler_config.json`` gives the schedule and objective robustness uses. diffusers is an optional
extra (``pip install 'mubench[diffusers]'``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mubench.errors import UsageError, opt

PREFIX = "diffusers:"


class DiffusersDenoiser(nn.Module):
    """A diffusers ``UNet2DModel`` as a mubench denoiser: ``forward(x, t)`` returns its sample."""

    def __init__(self, unet: nn.Module, folder: Path):
        super().__init__()
        self.unet = unet
        self.folder = folder

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.unet(x, t, return_dict=False)[0]


def diffusers_spec(name: str) -> Any:
    """The :class:`~mubench.registry.ModelSpec` of ``diffusers:PATH``."""
    from mubench.registry import ModelSpec
    from mubench.sources.diffusers_config import check_unet_config, sample_resolution
    from mubench.sources.diffusers_folder import _json, is_diffusers_folder, locate, weights_file

    path = Path(name[len(PREFIX) :]).expanduser()
    if not path.exists():
        raise UsageError(f"{opt('model')} '{name}': folder '{path}' does not exist")
    if not is_diffusers_folder(path):
        raise UsageError(
            f"{opt('model')} '{name}': '{path}' is not a diffusers model or pipeline folder (no config.json)"
        )
    if importlib.util.find_spec("diffusers") is None:
        raise UsageError(
            f"{opt('model')} '{name}' runs diffusers' own UNet2DModel, and diffusers is not installed: "
            "pip install 'mubench[diffusers]'"
        )
    folder = locate(path)
    config = _json(folder.config)
    check_unet_config(config, folder.config)
    if config.get("_class_name", "UNet2DModel") != "UNet2DModel":
        raise UsageError(
            f"{opt('model')} '{name}': '{folder.config}' is a {config['_class_name']}, not a UNet2DModel"
        )
    weights_file(folder)
    widths = list(config.get("block_out_channels", (224, 448, 672, 896)))

    def build() -> nn.Module:
        from diffusers import UNet2DModel

        unet = UNet2DModel.from_pretrained(str(folder.config.parent), local_files_only=True)
        return DiffusersDenoiser(unet, path)

    return ModelSpec(
        name=name,
        builder=build,
        family="diffusers",
        description=f"diffusers UNet2DModel from {path}",
        source=str(path),
        resolution=sample_resolution(config, folder.config) or 32,
        channels=int(config.get("in_channels", 3)),
        resolution_multiple=2 ** (len(widths) - 1),
        extra={"weights_path": path},
    )


def folder_meta(model: DiffusersDenoiser, name: str) -> dict[str, Any]:
    """What robustness needs of a diffusers model's own weights: schedule, objective and label."""
    from mubench.sources.diffusers_folder import locate, read_schedule, weights_file
    from mubench.sources.files import sha256_of, source_label

    folder = locate(model.folder)
    digest = sha256_of(weights_file(folder))
    fields = read_schedule(folder.scheduler)
    return {
        "model": name,
        "source_format": "diffusers",
        "source_path": str(model.folder),
        "source_sha256": digest,
        "steps": None,
        **fields,
        "label": source_label("diffusers", model.folder, digest),
    }
