"""diffusers folders onto mubench's DDPM U-Net (``ddpm-unet`` and its variants).

Layouts read: a model folder (``config.json`` + ``diffusion_pytorch_model.safetensors`` or ``.bin``,
optionally ``scheduler_config.json`` beside it); a pipeline folder (``unet/`` + ``scheduler/``); and a
Hugging Face cache folder of a repository (``models--ORG--NAME``, whose ``refs/main`` snapshot is read).
A configuration is mapped only when mubench's network computes exactly what diffusers' does; any other
value is refused, naming the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mubench.checks import check_betas
from mubench.errors import UsageError
from mubench.sources.diffusers_config import check_scheduler_config, check_unet_config
from mubench.sources.files import read_safetensors, read_torch
from mubench.sources.renaming import Renamer

WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
PREDICTIONS = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}
# Fields whose value must be exactly this (absent: diffusers' default, which is then checked).
FIXED = {
    "act_fn": "silu",
    "center_input_sample": False,
    "time_embedding_type": "positional",
    "freq_shift": 1,
    "flip_sin_to_cos": False,
    "downsample_padding": 0,
    "downsample_type": "conv",
    "upsample_type": "conv",
    "mid_block_type": "UNetMidBlock2D",
    "mid_block_scale_factor": 1,
    "resnet_time_scale_shift": "default",
    "add_attention": True,
    "class_embed_type": None,
    "num_class_embeds": None,
    "norm_eps": 1e-6,
}
DEFAULTS = {  # UNet2DModel's defaults for fields a config may leave out
    "freq_shift": 0, "flip_sin_to_cos": True, "downsample_padding": 1, "norm_eps": 1e-5,
    "attention_head_dim": 8, "norm_num_groups": 32, "act_fn": "silu", "center_input_sample": False,
    "time_embedding_type": "positional", "downsample_type": "conv", "upsample_type": "conv",
    "mid_block_type": "UNetMidBlock2D", "mid_block_scale_factor": 1, "resnet_time_scale_shift": "default",
    "add_attention": True, "class_embed_type": None, "num_class_embeds": None, "attn_norm_num_groups": None,
    "time_embedding_dim": None, "in_channels": 3, "out_channels": 3, "layers_per_block": 2,
}  # fmt: skip


@dataclass(frozen=True)
class Folder:
    """Where a diffusers model's files are."""

    config: Path  # the UNet's config.json
    weights: Path | None  # its weights file (None: there is none)
    scheduler: Path | None  # scheduler_config.json, when there is one


def is_diffusers_folder(path: Path) -> bool:
    return path.is_dir() and any(
        (path / name).exists() for name in ("config.json", "unet", "model_index.json", "snapshots")
    )


def _snapshot(path: Path) -> Path:
    """The snapshot a Hugging Face cache repository folder points at (refs/main), else the folder."""
    snapshots = path / "snapshots"
    if not snapshots.is_dir():
        return path
    ref = path / "refs" / "main"
    if ref.is_file() and (snapshots / ref.read_text().strip()).is_dir():
        return snapshots / ref.read_text().strip()
    found = sorted(p for p in snapshots.iterdir() if p.is_dir())
    if len(found) != 1:
        raise UsageError(
            f"Hugging Face cache folder '{path}' has {len(found)} snapshots and no refs/main; give the "
            "snapshot folder itself (snapshots/<revision>)"
        )
    return found[0]


def locate(path: Path) -> Folder:
    """The config, weights and scheduler files of the diffusers folder ``path``."""
    root = _snapshot(path)
    model_dir = root / "unet" if (root / "unet" / "config.json").is_file() else root
    config = model_dir / "config.json"
    if not config.is_file():
        raise UsageError(
            f"folder '{path}' is not a diffusers model or pipeline folder: it has no config.json "
            "(nor unet/config.json)"
        )
    weights = next((model_dir / n for n in WEIGHT_FILES if (model_dir / n).is_file()), None)
    candidates = [model_dir / "scheduler_config.json", root / "scheduler" / "scheduler_config.json",
                  model_dir.parent / "scheduler" / "scheduler_config.json"]  # fmt: skip
    scheduler = next((c for c in candidates if c.is_file()), None)
    return Folder(config, weights, scheduler)


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"'{path}' is not readable JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"'{path}' does not hold a JSON object")
    return value


def weights_file(folder: Folder) -> Path:
    if folder.weights is None:
        raise UsageError(f"diffusers folder '{folder.config.parent}' has no {' or '.join(WEIGHT_FILES)}")
    return folder.weights


def read_weights(folder: Folder) -> dict[str, torch.Tensor]:
    from mubench.sources.files import flat_tensors

    weights_file(folder)
    if folder.weights.suffix == ".safetensors":
        return read_safetensors(folder.weights)
    return flat_tensors(read_torch(folder.weights), folder.weights)


# -- the network


def ddpm_layout(model: nn.Module) -> dict[str, Any]:
    """The diffusers-style description of a mubench DDPM U-Net: widths, blocks and attention per level."""
    from mubench.models.ddpm_unet import UNetBlock

    widths: list[int] = []
    blocks: list[int] = []
    attention: list[bool] = []
    for name, module in model.enc.items():
        if name.endswith("_down") or (not widths and isinstance(module, UNetBlock)):
            widths.append(0), blocks.append(0), attention.append(False)
        if isinstance(module, UNetBlock):
            widths[-1] = module.conv0.out_channels
            blocks[-1] += 1
            attention[-1] = module.attention
    norm = next(m for m in model.modules() if isinstance(m, nn.GroupNorm))
    return {
        "block_out_channels": widths,
        "layers_per_block": blocks[0],
        "attention_levels": [i for i, a in enumerate(attention) if a],
        "norm_num_groups": norm.num_groups,
        "in_channels": model.enc["conv_in"].in_channels,
        "out_channels": model.conv_out.out_channels,
    }


def _config_layout(config: dict[str, Any], path: Path) -> dict[str, Any]:
    down, up = list(config.get("down_block_types", [])), list(config.get("up_block_types", []))
    allowed_down, allowed_up = {"DownBlock2D", "AttnDownBlock2D"}, {"UpBlock2D", "AttnUpBlock2D"}
    for field, types, allowed in (
        ("down_block_types", down, allowed_down),
        ("up_block_types", up, allowed_up),
    ):
        odd = [t for t in types if t not in allowed]
        if odd:
            raise UsageError(
                f"diffusers config '{path}': {field} {odd[0]} cannot be represented by mubench's DDPM U-Net "
                f"(it has {' and '.join(sorted(allowed))})"
            )
    attention = [t == "AttnDownBlock2D" for t in down]
    if [t == "AttnUpBlock2D" for t in reversed(up)] != attention:
        raise UsageError(
            f"diffusers config '{path}': up_block_types {up} do not mirror down_block_types {down}; "
            "mubench's DDPM U-Net has attention at the same levels in both halves"
        )
    return {
        "block_out_channels": list(config.get("block_out_channels", [])),
        "layers_per_block": config.get("layers_per_block", DEFAULTS["layers_per_block"]),
        "attention_levels": [i for i, a in enumerate(attention) if a],
        "norm_num_groups": config.get("norm_num_groups", DEFAULTS["norm_num_groups"]),
        "in_channels": config.get("in_channels", DEFAULTS["in_channels"]),
        "out_channels": config.get("out_channels", DEFAULTS["out_channels"]),
    }


def check_config(config: dict[str, Any], path: Path, model: nn.Module, model_name: str) -> None:
    """Refuse, naming the field, a configuration mubench's network for ``model_name`` does not compute."""
    if config.get("_class_name", "UNet2DModel") != "UNet2DModel":
        raise UsageError(
            f"diffusers config '{path}' is a {config['_class_name']}; mubench reads UNet2DModel folders"
        )
    for field, wanted in FIXED.items():
        value = config.get(field, DEFAULTS.get(field))
        same = (
            math.isclose(value, wanted)
            if isinstance(wanted, float) and value is not None
            else value == wanted
        )
        if not same:
            raise UsageError(
                f"diffusers config '{path}': {field} = {json.dumps(value)} cannot be "
                f"represented by mubench's DDPM U-Net (it has {json.dumps(wanted)})"
            )
    layout = _config_layout(config, path)
    widths = layout["block_out_channels"]
    emb = config.get("time_embedding_dim")
    if emb not in (None, 4 * widths[0]):
        raise UsageError(
            f"diffusers config '{path}': time_embedding_dim = {emb} cannot be represented (mubench: 4 x "
            f"block_out_channels[0] = {4 * widths[0]})"
        )
    head = config.get("attention_head_dim", DEFAULTS["attention_head_dim"])
    heads_one = [widths[i] for i in layout["attention_levels"]] + [widths[-1]]
    if head is not None and any(head != w for w in heads_one):
        raise UsageError(
            f"diffusers config '{path}': attention_head_dim = {head} gives several attention heads; "
            "mubench's DDPM U-Net has one head per attention layer (attention_head_dim null)"
        )
    groups = config.get("attn_norm_num_groups")
    if groups not in (None, layout["norm_num_groups"]):
        raise UsageError(
            f"diffusers config '{path}': attn_norm_num_groups = {groups} cannot be represented (mubench: "
            "the norm_num_groups of the residual blocks)"
        )
    own = ddpm_layout(model)
    for field, value in layout.items():
        if value != own[field]:
            raise UsageError(
                f"diffusers config '{path}': {field} = {json.dumps(value)}, but {model_name} has "
                f"{json.dumps(own[field])}{_fits_hint(layout)}"
            )


def _fits_hint(layout: dict[str, Any]) -> str:
    from mubench.registry import get_spec, list_models

    fitting = []
    for name in list_models("ddpm-unet*"):
        with torch.device("meta"):
            candidate = get_spec(name).build()
        if ddpm_layout(candidate) == layout:
            fitting.append(name)
    return f"; it fits {', '.join(fitting)}" if fitting else "; no registry model has this layout"


def to_mubench(source: dict[str, torch.Tensor], model: nn.Module) -> Renamer:
    """mubench DDPM U-Net names from diffusers UNet2DModel names (both layouts of attention weights)."""
    from mubench.models.ddpm_unet import UNetBlock

    r = Renamer(source)
    r.module("map_layer0", "time_embedding.linear_1")
    r.module("map_layer1", "time_embedding.linear_2")
    r.module("enc.conv_in", "conv_in")

    def block(dst: str, resnet: str, attention: str | None, module: UNetBlock) -> None:
        for ours, theirs in (("norm0", "norm1"), ("conv0", "conv1"), ("affine", "time_emb_proj"),
                             ("norm1", "norm2"), ("conv1", "conv2")):  # fmt: skip
            r.module(f"{dst}.{ours}", f"{resnet}.{theirs}")
        if module.skip is not None:
            r.module(f"{dst}.skip", f"{resnet}.conv_shortcut")
        if attention is not None:
            r.module(f"{dst}.norm2", f"{attention}.group_norm")
            qkv = [_spelling(r, attention, new, old) for new, old in (("to_q", "query"), ("to_k", "key"),
                                                                        ("to_v", "value"))]  # fmt: skip
            r.take(f"{dst}.qkv.weight", *(f"{q}.weight" for q in qkv), transform=_conv1x1_cat)
            r.take(f"{dst}.qkv.bias", *(f"{q}.bias" for q in qkv), transform=torch.cat)
            out = _spelling(r, attention, "to_out.0", "proj_attn")
            r.take(f"{dst}.proj.weight", f"{out}.weight", transform=_conv1x1_cat)
            r.take(f"{dst}.proj.bias", f"{out}.bias")

    level, index = 0, 0
    for name, module in model.enc.items():
        if name.endswith("_down"):
            r.module(f"enc.{name}.conv", f"down_blocks.{level}.downsamplers.0.conv")
            level, index = level + 1, 0
        elif isinstance(module, UNetBlock):
            base = f"down_blocks.{level}"
            block(f"enc.{name}", f"{base}.resnets.{index}", f"{base}.attentions.{index}" if module.attention
                  else None, module)  # fmt: skip
            index += 1
    block("mid.0", "mid_block.resnets.0", "mid_block.attentions.0", model.mid[0])
    block("mid.1", "mid_block.resnets.1", None, model.mid[1])
    level, index = 0, 0
    for name, module in model.dec.items():
        base = f"up_blocks.{level}"
        if name.endswith("_up"):
            r.module(f"dec.{name}.conv", f"{base}.upsamplers.0.conv")
            level, index = level + 1, 0
        else:
            block(f"dec.{name}", f"{base}.resnets.{index}", f"{base}.attentions.{index}" if module.attention
                  else None, module)  # fmt: skip
            index += 1
    r.module("norm_out", "conv_norm_out")
    r.module("conv_out", "conv_out")
    return r


def _spelling(r: Renamer, attention: str, new: str, old: str) -> str:
    """The attention layer's module name as the file spells it: current diffusers, or before 0.15."""
    return r.name(f"{attention}.{new}.weight", f"{attention}.{old}.weight").rsplit(".", 1)[0]


def _conv1x1_cat(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Linear weights (out, in), one or several, as one 1x1 conv weight (sum of outs, in, 1, 1)."""
    weight = torch.cat([t if t.dim() == 2 else t.reshape(t.shape[0], -1) for t in tensors])
    return weight[:, :, None, None]


# -- the schedule


def _betas(config: dict[str, Any], path: Path) -> tuple[str, torch.Tensor]:
    """(description, betas as float64) computed as diffusers' DDPMScheduler computes them (float32)."""
    steps = int(config.get("num_train_timesteps", 1000))
    start, end = float(config.get("beta_start", 0.0001)), float(config.get("beta_end", 0.02))
    kind = config.get("beta_schedule", "linear")
    if config.get("rescale_betas_zero_snr"):
        raise UsageError(f"scheduler config '{path}': rescale_betas_zero_snr = true is not supported")
    if config.get("trained_betas") is not None:
        betas = torch.tensor(config["trained_betas"], dtype=torch.float32)
        return f"trained_betas(T={betas.numel()})", betas.double()
    if kind == "linear":
        betas = torch.linspace(start, end, steps, dtype=torch.float32)
    elif kind == "scaled_linear":
        betas = torch.linspace(start**0.5, end**0.5, steps, dtype=torch.float32) ** 2
    elif kind == "squaredcos_cap_v2":

        def abar(u: float) -> float:
            return math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = torch.tensor(
            [min(1 - abar((i + 1) / steps) / abar(i / steps), 0.999) for i in range(steps)],
            dtype=torch.float32,
        )
    elif kind == "sigmoid":
        betas = torch.sigmoid(torch.linspace(-6, 6, steps)) * (end - start) + start
    else:
        raise UsageError(f"scheduler config '{path}': beta_schedule '{kind}' is not supported")
    return f"{kind}({start:g}..{end:g}, T={steps})", betas.double()


def read_schedule(path: Path | None) -> dict[str, Any]:
    """schedule, betas and prediction from a scheduler_config.json (empty without one)."""
    if path is None:
        return {}
    config = _json(path)
    check_scheduler_config(config, path)
    kind = config.get("prediction_type", "epsilon")
    if kind not in PREDICTIONS:
        raise UsageError(f"scheduler config '{path}': prediction_type '{kind}' is not supported")
    name, betas = _betas(config, path)
    betas = check_betas(betas, f"scheduler config '{path}'")
    return {"schedule": name, "betas": betas, "prediction": PREDICTIONS[kind]}


def read(path: Path, model: nn.Module, model_name: str) -> tuple[Renamer, dict[str, Any], Path]:
    """The renamed tensors, schedule fields and weights file of the diffusers folder ``path``."""
    from mubench.models.ddpm_unet import DDPMUNet

    folder = locate(path)
    if not isinstance(model, DDPMUNet):
        raise UsageError(
            f"checkpoint '{path}' is a diffusers UNet2DModel folder; model '{model_name}' is not a DDPM "
            "U-Net (use ddpm-unet or a variant)"
        )
    config = _json(folder.config)
    check_unet_config(config, folder.config)
    check_config(config, folder.config, model, model_name)
    renamed = to_mubench(read_weights(folder), model)
    return renamed, read_schedule(folder.scheduler), weights_file(folder)
