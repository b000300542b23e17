"""A training run's resume state, beside its checkpoint in ``<name>.state.safetensors``: the raw weights,
Adam's moments, the EMA weights and the step, written atomically (and before the checkpoint)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import nn

from mubench.errors import UsageError, opt
from mubench.results import write_bytes_atomic


def state_path(out: Path) -> Path:
    return out.with_name(out.stem + ".state.safetensors")


def save_state(out: Path, model: nn.Module, ema: nn.Module, optimizer: torch.optim.Adam, step: int) -> None:
    tensors = {f"model/{k}": v.detach() for k, v in model.state_dict().items()}
    tensors |= {f"ema/{k}": v.detach() for k, v in ema.state_dict().items()}
    for i, param in enumerate(p for group in optimizer.param_groups for p in group["params"]):
        for key, value in optimizer.state.get(param, {}).items():
            tensors[f"adam/{i}/{key}"] = value.detach().reshape(-1) if value.dim() == 0 else value.detach()
    data = save({k: v.cpu().contiguous() for k, v in tensors.items()}, metadata={"step": str(step)})
    write_bytes_atomic(state_path(out), data)


def brief(exc: Exception, limit: int = 160) -> str:
    """An exception's message on one line, shortened: load_state_dict's runs over many lines."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        with safe_open(str(path), framework="pt") as handle:  # one read: tensors and metadata
            names = handle.keys()  # a safetensors handle, not a dict: it is not iterable
            return {k: handle.get_tensor(k) for k in names}, handle.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise UsageError(
            f"{opt('resume')}: state file '{path}' cannot be read ({brief(exc)}); "
            f"this run cannot be resumed: train afresh into another {opt('out')}"
        ) from None


def _adam_moments(
    tensors: dict[str, torch.Tensor], params: list[nn.Parameter]
) -> dict[int, dict[str, torch.Tensor]]:
    """Adam's per-parameter state from ``adam/<index>/<name>`` tensors, checked against ``params``."""
    adam: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("adam/"):
            _, index, name = key.split("/")
            adam.setdefault(int(index), {})[name] = value
    for i, state in adam.items():
        for name, value in state.items():  # a 0-dim parameter's moments were saved with one dimension
            if name != "step" and i in range(len(params)) and params[i].dim() == 0 and value.shape == (1,):
                state[name] = value.reshape(())
        if i not in range(len(params)) or any(
            v.shape != params[i].shape for k, v in state.items() if k != "step"
        ):
            raise ValueError(f"Adam state {i} does not fit the model's parameters")
        state["step"] = state["step"].reshape(())
    return adam


def load_state(
    out: Path, model: nn.Module, ema: nn.Module, optimizer: torch.optim.Adam, model_name: str
) -> int | None:
    """Restore the raw weights, Adam's moments and (in states that hold them) the EMA weights from the
    resume state; return its step, or None for a state written before the EMA and step were kept in it."""
    path = state_path(out)
    tensors, metadata = read_state(path)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    ema_weights = {k[4:]: v for k, v in tensors.items() if k.startswith("ema/")}
    try:
        adam = _adam_moments(tensors, params)
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
        step = int(metadata["step"]) if ema_weights and "step" in metadata else None
        if step is not None:
            ema.load_state_dict(ema_weights)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise UsageError(
            f"{opt('resume')}: state file '{path}' does not match model '{model_name}' ({brief(exc)}); "
            f"this run cannot be resumed: train afresh into another {opt('out')}"
        ) from None
    for i, state in adam.items():
        optimizer.state[params[i]] = state
    return step
