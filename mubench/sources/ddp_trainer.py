"""denoising-diffusion-pytorch 1.8.3 ``Trainer`` checkpoints (``model-N.pt``) onto mubench's models.

A Trainer saves ``{"step", "model", "opt", "ema", "scaler", "version"}``: ``model`` is GaussianDiffusion's
state (the U-Net under ``model.``, then the schedule buffers ``betas``, ``alphas_cumprod``, ...,
``loss_weight``), ``ema`` the ema-pytorch wrapper's (the averaged copy under ``ema_model.``). The U-Net
is the library's ``Unet`` (onto lucid-unet) or, in the authors' cU-Net code, their ``ConvSODEUNet`` (onto
ode-u-ref). The schedule is read from the buffers, so it is the one trained, and the objective from
``loss_weight``, whose formula differs per objective.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mubench.errors import UsageError, opt
from mubench.sources.detect import describe, network_of
from mubench.sources.renaming import Renamer

RAW_PREFIX, EMA_PREFIX = "model.", "ema_model.model."
WEIGHTS = ("ema", "raw")


def is_trainer_checkpoint(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("model"), dict)
        and ("ema" in value or "step" in value or "version" in value)
    )


def unet_state(data: dict[str, Any], path: Any, weights: str) -> dict[str, torch.Tensor]:
    """The U-Net's tensors (its own names) from the raw or the EMA state."""
    if weights not in WEIGHTS:
        raise UsageError(f"{opt('weights')} must be one of {', '.join(WEIGHTS)}, got '{weights}'")
    if weights == "ema" and not isinstance(data.get("ema"), dict):
        raise UsageError(
            f"Trainer checkpoint '{path}' has no 'ema' state; pass {opt('weights')} raw to use the trained "
            "(non-averaged) weights"
        )
    state, prefix = (data["ema"], EMA_PREFIX) if weights == "ema" else (data["model"], RAW_PREFIX)
    tensors = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not tensors or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
        raise UsageError(
            f"Trainer checkpoint '{path}': its '{weights}' state holds no U-Net tensors under '{prefix}'"
        )
    return tensors


def schedule_fields(data: dict[str, Any], path: Any) -> dict[str, Any]:
    """schedule, betas (float64, from the trained alpha-bar) and, when loss_weight tells, the objective."""
    buffers = data["model"]
    abar = buffers.get("alphas_cumprod")
    if not isinstance(abar, torch.Tensor) or abar.dim() != 1 or abar.numel() < 2:
        raise UsageError(f"Trainer checkpoint '{path}' has no alphas_cumprod buffer: its schedule is unknown")
    abar = abar.double()
    betas = 1 - abar / torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
    return {
        "schedule": f"ddp-buffers(T={abar.numel()})",
        "betas": betas,
        "prediction": objective(buffers.get("loss_weight"), abar),
        "step": int(data["step"]) if isinstance(data.get("step"), int) else None,
        "version": str(data.get("version")) if data.get("version") is not None else None,
    }


def objective(loss_weight: Any, abar: torch.Tensor) -> str | None:
    """eps, v or x0: the objective whose loss weight (min(snr, gamma) / snr, min(snr, gamma) / (snr + 1)
    or min(snr, gamma), gamma possibly infinite) the buffer holds; None when none or several fit."""
    if not isinstance(loss_weight, torch.Tensor) or loss_weight.shape != abar.shape:
        return None
    snr = abar / (1 - abar)
    weight = loss_weight.double()
    implied = {"eps": weight * snr, "v": weight * (snr + 1), "x0": weight}  # each: min(snr, gamma)
    fits = [
        name for name, clipped in implied.items()
        if torch.allclose(clipped, torch.minimum(snr, clipped.max()), rtol=1e-4, atol=0)
    ]  # fmt: skip
    return fits[0] if len(fits) == 1 else None


def lucid_to_mubench(source: dict[str, torch.Tensor], model: nn.Module) -> Renamer:
    """mubench LucidUNet names from denoising-diffusion-pytorch ``Unet`` names."""
    from mubench.models.lucid_unet import Resample, UNetBlock

    r = Renamer(source)
    r.module("conv_in", "init_conv")
    r.module("map_layer0", "time_mlp.1")
    r.module("map_layer1", "time_mlp.3")

    def block(dst: str, src: str, module: UNetBlock, attention: str | None = None) -> None:
        r.module(f"{dst}.affine", f"{src}.mlp.1")
        r.module(f"{dst}.conv0", f"{src}.block1.proj")
        r.module(f"{dst}.norm0", f"{src}.block1.norm")
        r.module(f"{dst}.conv1", f"{src}.block2.proj")
        r.module(f"{dst}.norm1", f"{src}.block2.norm")
        if module.skip is not None:
            r.module(f"{dst}.skip", f"{src}.res_conv")
        if module.attn is not None and attention is not None:
            r.take(f"{dst}.attn.norm.gain", f"{attention}.norm.g")
            r.take(f"{dst}.attn.qkv.weight", f"{attention}.to_qkv.weight")
            if module.attn.linear:
                r.module(f"{dst}.attn.proj", f"{attention}.to_out.0")
                r.take(f"{dst}.attn.norm_out.gain", f"{attention}.to_out.1.g")
            else:
                r.module(f"{dst}.attn.proj", f"{attention}.to_out")

    def resample(dst: str, src: str, module: Resample) -> None:
        r.module(f"{dst}.conv", f"{src}.1" if module.mode in ("down", "up") else src)

    for half, theirs in (("enc", "downs"), ("dec", "ups")):
        modules = list(getattr(model, half))
        for stage in range(len(modules) // 3):
            first, second, transition = modules[3 * stage : 3 * stage + 3]
            base = f"{theirs}.{stage}"
            block(f"{half}.{3 * stage}", f"{base}.0", first)
            block(f"{half}.{3 * stage + 1}", f"{base}.1", second, attention=f"{base}.2")
            resample(f"{half}.{3 * stage + 2}", f"{base}.3", transition)
    block("mid.0", "mid_block1", model.mid[0], attention="mid_attn")
    block("mid.1", "mid_block2", model.mid[1])
    block(f"dec.{len(model.dec) - 1}", "final_res_block", model.dec[-1])
    r.module("conv_out", "final_conv")
    return r


def read(
    data: dict[str, Any], path: Any, model: nn.Module, model_name: str, weights: str
) -> tuple[Renamer, dict[str, Any]]:
    """The renamed U-Net tensors and schedule fields of a Trainer checkpoint."""
    from mubench.models.lucid_unet import LucidUNet
    from mubench.models.ode_unet import ContinuousUNet
    from mubench.sources import cunet

    tensors = unet_state(data, path, weights)
    network = network_of(tensors)
    if network == "ddp-unet" and isinstance(model, LucidUNet):
        renamed = lucid_to_mubench(tensors, model)
    elif network == "cunet" and isinstance(model, ContinuousUNet):
        renamed = cunet.to_mubench(tensors, model)
    else:
        fits = {"ddp-unet": "lucid-unet or lucid-unet-tiny", "cunet": "ode-u-ref"}.get(network or "", "")
        raise UsageError(
            f"Trainer checkpoint '{path}' holds {describe(tensors)}, which model '{model_name}' is not"
            + (f"; use {fits}" if fits else "")
        )
    return renamed, schedule_fields(data, path)
