"""What mubench knows about a model before building it, and the trained weights it ships for one.

Torch-free: the registry, the report and every command's ``--help`` read specs without importing torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mubench.errors import MeasurementError, UsageError, opt

PAPER_ROLES = ("baseline", "candidate")  # the paper's comparison: its baseline and the model it describes


@dataclass(frozen=True)
class Weights:
    """Trained weights of a model, shipped in the mubench package: where they are and how they were made.

    The fields repeat what the checkpoint's JSON sidecar records (the tests check that they agree).
    """

    tag: str  # names these weights among the model's, e.g. "patches32-1200"
    file: str  # the .safetensors file, relative to the mubench package (its sidecar: the same name, .json)
    dataset: str  # the training images
    steps: int  # training steps
    schedule: str  # beta schedule trained with
    prediction: str  # what the network was trained to predict: "eps" or "v"
    resolution: int  # training input side in pixels
    seed: int  # training seed
    final_loss: float | None = None  # mean training loss over the last steps, as recorded when trained

    @property
    def path(self) -> Path:
        """The weights file inside the installed package."""
        return Path(str(resources.files("mubench") / self.file))


def tiny_pair_weights(file: str, final_loss: float) -> Weights:
    """Weights of the shipped tiny pair, trained alike: ``mubench train`` for 1,200 steps on patches32
    at 32 px, v-prediction, sigmoid schedule, seed 0."""
    return Weights(tag="patches32-1200", file=file, dataset="patches32", steps=1200, schedule="sigmoid",
                   prediction="v", resolution=32, seed=0, final_loss=final_loss)  # fmt: skip


@dataclass(frozen=True)
class ModelSpec:
    """What mubench knows about a model before building it."""

    name: str
    builder: Callable[..., Any] | str  # returns an nn.Module; or "module:function", imported on first build
    family: str  # "unet" (discrete blocks), "ode-unet" (continuous, ODE blocks) or "user"
    description: str  # one line
    source: str = ""  # paper / code the model follows
    resolution: int = 32  # default input side in pixels
    channels: int = 3  # image channels in and out
    resolution_multiple: int = 1  # the input side must be a multiple of this
    min_resolution: int = 1  # smallest input side the model can take
    expected_params: int | None = None  # exact total of .parameters(), checked by the tests
    expected_trainable: int | None = None  # exact count with requires_grad, when it differs
    solver: Mapping[str, Any] | None = None  # solver defaults of ODE models
    prediction: str = "eps"  # what the network is trained to predict: "eps" or "v"
    schedule: str = "linear"  # beta schedule it is trained with
    paper_macs: int | None = None  # the paper authors' own MAC count (thop, 64x64), for reference
    paper_role: str | None = None  # "baseline" or "candidate" for the paper's comparison pair, else None
    weights: tuple[Weights, ...] = ()  # trained weights mubench ships, the default first
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def channels_configurable(self) -> bool:
        """Whether the model can be built for other image channels (a user's factory or a diffusers folder
        is built as it is)."""
        return self.family not in ("user", "diffusers")

    @property
    def is_ode(self) -> bool:
        return self.family == "ode-unet"

    @property
    def default_weights(self) -> Weights | None:
        """The weights used when none are named: the first listed, or None without any."""
        return self.weights[0] if self.weights else None

    def build(self, **overrides: Any) -> Any:
        """Build the model; ``None`` overrides are dropped so that the model's defaults win."""
        from torch import nn

        kwargs = {k: v for k, v in overrides.items() if v is not None}
        builder = self.builder
        if isinstance(builder, str):
            module, _, function = builder.partition(":")
            builder = getattr(importlib.import_module(module), function)
        try:
            model = builder(**kwargs)
        except SystemExit as exc:  # a factory that exits must not end mubench's run (with status 0, even)
            raise MeasurementError(
                f"model '{self.name}': its factory raised SystemExit({exc.code!r})"
            ) from None
        if not isinstance(model, nn.Module):
            raise UsageError(
                f"model '{self.name}': its factory returned {type(model).__name__}, not a torch.nn.Module"
            )
        return model

    def check_resolution(self, resolution: int) -> None:
        """Raise :class:`UsageError` unless this model can take ``resolution`` x ``resolution`` input."""
        if resolution <= 0:
            raise UsageError(f"{opt('resolution')} must be a positive number of pixels, got {resolution}")
        if resolution % self.resolution_multiple:
            raise UsageError(
                f"model '{self.name}' needs a resolution that is a multiple of {self.resolution_multiple}, "
                f"got {resolution}"
            )
        if resolution < self.min_resolution:
            raise UsageError(
                f"model '{self.name}' needs a resolution of at least {self.min_resolution}, got {resolution}"
            )
