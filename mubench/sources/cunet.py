"""The authors' cU-Net state dict (``ConvSODEUNet`` in their ``cUNet.py``) onto mubench's ``ode-u-ref``.

Their names, per part of the network (levels numbered from 1, ``L`` levels; the released code has 4):
``time_embed`` (the frozen table), ``initial_velocity.conv1`` / ``.conv2``, ``odeblock_down{i}.odefunc``
with ``conv_down{i}_{i+1}`` after it (the last one: ``conv_down{L}_embed``), ``attention_encoder{L}``,
``odeblock_embedding``, ``conv_up_embed_1`` then ``conv_up{j}_{j+1}``, ``odeblock_up{j}``,
``attention_decoder1`` and ``classifier``. Their attention modules hold ``norm.g``, ``to_qkv``, ``to_out``.
"""

from __future__ import annotations

import torch
from torch import nn

from mubench.sources.renaming import Renamer


def name_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """(mubench module, the authors' module) for every module with weights of ``model`` (a ContinuousUNet)."""
    levels = len(model.down_blocks)
    pairs = [
        ("initial_velocity.1", "initial_velocity.conv1"),
        ("initial_velocity.4", "initial_velocity.conv2"),
    ]
    for i in range(levels):
        pairs += [(f"down_blocks.{i}.func.conv{k}", f"odeblock_down{i + 1}.odefunc.conv{k}") for k in (1, 2)]
        after = f"conv_down{i + 1}_{i + 2}" if i < levels - 1 else f"conv_down{levels}_embed"
        pairs.append((f"down_transitions.{i}.0", after))
    pairs += [(f"middle.func.conv{k}", f"odeblock_embedding.odefunc.conv{k}") for k in (1, 2)]
    for j in range(levels):
        pairs.append((f"up_transitions.{j}.0", "conv_up_embed_1" if j == 0 else f"conv_up{j}_{j + 1}"))
        pairs += [(f"up_blocks.{j}.func.conv{k}", f"odeblock_up{j + 1}.odefunc.conv{k}") for k in (1, 2)]
    pairs.append(("head", "classifier"))
    return pairs


def attention_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """(mubench attention, the authors' attention): encoder level L is their ``attention_encoder{L+1}``,
    decoder level L (reached after levels - 1 - L up steps) their ``attention_decoder{levels - L}``."""
    levels = len(model.down_blocks)
    down = [(f"down_attention.{k}", f"attention_encoder{int(k) + 1}") for k in model.down_attention]
    up = [(f"up_attention.{k}", f"attention_decoder{levels - int(k)}") for k in model.up_attention]
    return down + up


def to_mubench(source: dict[str, torch.Tensor], model: nn.Module) -> Renamer:
    r = Renamer(source)
    if model.time_table is not None:
        r.take("time_table.weight", "time_embed.weight")
    for ours, theirs in name_pairs(model):
        r.module(ours, theirs)
    for ours, theirs in attention_pairs(model):
        r.take(f"{ours}.norm.gain", f"{theirs}.norm.g")
        r.take(f"{ours}.qkv.weight", f"{theirs}.to_qkv.weight")
        r.module(f"{ours}.out", f"{theirs}.to_out")
    return r
