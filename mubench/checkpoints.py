"""Checkpoints are data, not code: safetensors weights plus a JSON sidecar describing them.

``save_checkpoint(path, model, meta)`` writes ``path`` (``.safetensors``) and ``path.with_suffix('.json')``.
``load_checkpoint(path, model, model_name)`` checks the sidecar's model name and every tensor's name and shape
against the built model, and names each mismatch. Legacy ``.pt``/``.pth`` files are read with
``torch.load(weights_only=True)``: a pickle that would run code is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from mubench.checks import check_tensors_finite
from mubench.errors import UsageError
from mubench.registry import get_spec
from mubench.results import write_bytes_atomic, write_text_atomic
from mubench.sidecar import CheckpointMeta, read_sidecar, sidecar_path, sidecar_text
from mubench.sources.detect import describe, network_of
from mubench.sources.files import fit_problems


def sidecar(path: Path) -> Path:
    return sidecar_path(path)


def save_checkpoint(path: Path, model: nn.Module, meta: dict[str, Any]) -> None:
    """Write the model's tensors to ``path`` and ``meta`` to its JSON sidecar, each atomically; weights
    holding NaN or infinity, or a sidecar with a field of the wrong type, are refused before writing."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    check_tensors_finite(tensors, f"checkpoint '{path}'")
    text = sidecar_text(meta, f"checkpoint sidecar '{sidecar(path)}'")
    write_bytes_atomic(path, save(tensors, metadata={"model": str(meta.get("model", ""))}))
    write_text_atomic(sidecar(path), text)


def read_meta(path: Path) -> CheckpointMeta:
    """The JSON sidecar of ``path``, checked ({} when there is none); see :mod:`mubench.sidecar`."""
    return read_sidecar(path)


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise UsageError(f"checkpoint '{path}' does not exist")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise UsageError(f"checkpoint '{path}' is not a readable safetensors file: {exc}") from None
    if path.suffix in (".pt", ".pth", ".bin"):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # UnpicklingError and friends: anything but plain tensors
            raise UsageError(
                f"refused checkpoint '{path}': it is not plain tensors (weights_only loading failed: "
                f"{type(exc).__name__}); mubench never unpickles code"
            ) from None
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise UsageError(f"checkpoint '{path}' does not hold a flat name -> tensor state dict")
        return state
    raise UsageError(f"checkpoint '{path}': use a .safetensors file (or .pt/.pth holding tensors only)")


def load_checkpoint(path: Path, model: nn.Module, model_name: str) -> dict[str, Any]:
    """Load ``path`` into ``model`` (registry name ``model_name``) after checking that they match.

    Returns the sidecar's metadata.
    """
    meta = read_meta(path)
    if meta.get("model") not in (None, model_name):
        raise UsageError(f"checkpoint '{path}' is for model '{meta['model']}', not '{model_name}'")
    tensors = _read_tensors(path)
    problems = fit_problems(tensors, model.state_dict())
    if problems:
        network = network_of(tensors)
        looks = f" (it holds {describe(tensors)})" if network != network_of(model.state_dict()) else ""
        raise UsageError(
            f"checkpoint '{path}' does not fit model '{model_name}'{looks}: {'; '.join(problems)}"
        )
    model.load_state_dict(tensors)
    return meta


def shipped_checkpoint(model_name: str) -> Path | None:
    """The file of the default weights the registry lists for ``model_name`` (None: it lists none)."""
    spec = get_spec(model_name)
    if spec.default_weights is None:
        return spec.extra.get("weights_path")  # a diffusers:PATH model's own folder
    return spec.default_weights.path
