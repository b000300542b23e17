"""Reading weight files safely: safetensors, or ``torch.load(weights_only=True)``; never code."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import torch

from mubench.errors import UsageError

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


def sha256_of(path: Path) -> str:
    """Hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UsageError(
            f"checkpoint '{path}' is not a readable safetensors file (truncated or damaged?): {exc}"
        ) from None


def read_torch(path: Path) -> Any:
    """What ``path`` holds, loaded with ``weights_only=True``: a pickle that would run code is refused."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"refused checkpoint '{path}': it is not plain tensors and data ({first[:160]}); mubench never "
            "unpickles code"
        ) from None
    except Exception as exc:  # a zip without its directory, an empty file, not a torch file at all
        raise UsageError(
            f"checkpoint '{path}' is not a readable torch file (truncated or damaged?): "
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        ) from None


def read_tensor_file(path: Path) -> Any:
    """The content of a weights file: a name -> tensor dict (safetensors), or what torch saved."""
    if not path.is_file():
        raise UsageError(f"checkpoint '{path}' does not exist")
    if path.suffix == ".safetensors":
        return read_safetensors(path)
    if path.suffix in TORCH_SUFFIXES:
        return read_torch(path)
    raise UsageError(
        f"checkpoint '{path}': give a .safetensors file, a torch file ({', '.join(TORCH_SUFFIXES)}) or a "
        "diffusers folder"
    )


def flat_tensors(
    value: Any, path: Path, what: str = "a name -> tensor state dict"
) -> dict[str, torch.Tensor]:
    """``value`` if it is a flat name -> tensor dict, else a :class:`UsageError`."""
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
    ):
        raise UsageError(f"checkpoint '{path}' does not hold {what}")
    return value


def fit_problems(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> list[str]:
    """Every missing and unexpected name and every shape mismatch of ``tensors`` against ``expected``."""
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if tensors[k].shape != expected[k].shape)
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)}: {', '.join(unexpected)}")
    if wrong:
        shapes = [f"{k} file {tuple(tensors[k].shape)} model {tuple(expected[k].shape)}" for k in wrong]
        problems.append(f"shape mismatches {len(wrong)}: {', '.join(shapes)}")
    return problems


def source_label(source_format: str, path: Path, digest: str) -> str:
    """How a row names weights read from another library: format, path and the weights file's sha256."""
    return f"{source_format}:{path}@sha256:{digest}"
