"""Building a model and its inputs under stated conditions, the same way for every measurement."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from mubench.defaults import PAPER_RESOLUTION as PAPER_RESOLUTION  # re-exported (suite.kinds reads it here)
from mubench.errors import MeasurementError, UsageError, opt
from mubench.models.solver_config import SolverConfig
from mubench.registry import ModelSpec

if TYPE_CHECKING:
    from mubench.measure.runtime.compile_options import CompileOptions

NUM_DIFFUSION_STEPS = 1000  # T of every built-in model's schedule


def build_model(
    spec: ModelSpec, channels: int | None = None, solver: SolverConfig | None = None, seed: int = 0
) -> nn.Module:
    """Build ``spec``'s model in eval mode with the given image channels and (ODE models) solver.

    Initial weights are drawn from ``seed``: adaptive solvers' NFE depends on the weights, so an
    untrained model must be the same one in every run.
    """
    overrides: dict = {}
    if channels is not None and channels != spec.channels:  # checked by the measurement's conditions
        overrides.update(in_channels=channels, out_channels=channels)
    if solver is not None and spec.is_ode:
        overrides["solver"] = solver
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.build(**overrides).eval()


def load_given_weights(
    model: nn.Module, name: str, checkpoints: tuple[tuple[str, str], ...], weights: str
) -> None:
    """Read the weights that ``checkpoints`` (model name -> path pairs) name for ``name``, if any."""
    given = dict(checkpoints)
    if name in given:
        from mubench.sources import load_weights

        load_weights(given[name], model, name, weights=weights)


def example_inputs(
    batch_size: int, channels: int, resolution: int, seed: int, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded input ``x`` ~ N(0, I) of shape (B, C, R, R) and diffusion steps ``t`` in [0, T)."""
    if batch_size <= 0:
        raise UsageError(f"{opt('batch_size')} must be positive, got {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, channels, resolution, resolution, generator=gen)
    t = torch.randint(0, NUM_DIFFUSION_STEPS, (batch_size,), generator=gen)
    return x.to(device), t.to(device)


def checked_output(name: str, output: object, x: torch.Tensor) -> torch.Tensor:
    """``output`` of model ``name`` called on ``x``, if it is a tensor of ``x``'s shape; otherwise a
    :class:`MeasurementError` saying what it returned (a smaller shape would broadcast silently)."""
    if not isinstance(output, torch.Tensor):
        raise MeasurementError(
            f"model '{name}' returned {type(output).__name__}, not a tensor of shape {tuple(x.shape)}"
        )
    if output.shape != x.shape:
        raise MeasurementError(
            f"model '{name}' returned shape {tuple(output.shape)} for an input of shape {tuple(x.shape)}"
        )
    return output


def inference_contexts(device: torch.device, dtype: torch.dtype) -> Callable[[], contextlib.ExitStack]:
    """A factory of the contexts every call runs under: inference mode, and autocast below float32."""

    def enter() -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if dtype != torch.float32:
            stack.enter_context(torch.autocast(device.type, dtype=dtype))
        return stack

    return enter


def to_channels_last(model: nn.Module, x: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
    """``model`` (converted in place) and its input ``x`` in the channels-last memory format."""
    return model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)


def compiled(model: nn.Module, options: CompileOptions = ()) -> nn.Module:
    """``torch.compile`` of ``model`` with inductor ``options`` (none: inductor's defaults); it compiles on
    its first call."""
    return torch.compile(model, options=dict(options) or None)
