"""Parameter counts: total, trainable, frozen and buffers, each tensor counted once."""

from __future__ import annotations

from typing import Any

from torch import nn

from mubench.registry import get_spec
from mubench.results import environment, make_row


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Element counts of ``model``'s parameters and buffers.

    ``params_total`` is what ``.parameters()`` holds (shared tensors once), frozen ones included:
    the count papers quote and the one mubench's paper comparison uses. ``params_trainable`` has
    ``requires_grad``; ``params_frozen`` does not (e.g. ode-u-ref's fixed step-embedding table).
    ``buffers_total`` counts registered buffers (running statistics and the like), which are not
    parameters.
    """
    params = {id(p): p for p in model.parameters()}.values()
    buffers = {id(b): b for b in model.buffers()}.values()
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total = sum(p.numel() for p in params)
    return {
        "params_total": total,
        "params_trainable": trainable,
        "params_frozen": total - trainable,
        "buffers_total": sum(b.numel() for b in buffers),
    }


def measure_params(model_name: str, run_id: str) -> dict[str, Any]:
    """One result row with the parameter counts of registry model ``model_name`` (built on CPU)."""
    spec = get_spec(model_name)
    counts = count_parameters(spec.build())
    return make_row(
        "params",
        run_id,
        model=model_name,
        resolution=spec.resolution,
        **counts,
        params_expected=spec.expected_params,
        **environment("cpu"),
    )
