"""Continuous U-Nets ("cU-Net") of "The Missing U for Efficient Diffusion Models" (arXiv 2310.20092).

One class, :class:`ContinuousUNet`, covers both registry entries:

- ``ode-u-ref``: the authors' released code as it is. Its step-embedding table (1000 x 256, frozen) is
  looked up but never used, so the network is not conditioned on the diffusion step; InstanceNorm in
  the ODE functions; attention replaces the features (no residual).
- ``ode-u``: the model as the paper describes it. Every ODE function gets the diffusion-step embedding
  (sinusoid -> MLP -> per-function Linear giving scale and shift after its second norm), GroupNorm(8)
  in the ODE functions; the unused frozen table is gone. Everything else as in ``ode-u-ref``.

Layout (64 x 64 input, base width 32): initial velocity to 32 channels; encoder ODE blocks at widths
32, 64, 128, 256 (64, 32, 16, 8 px), each followed by a 1x1 conv doubling the width and bilinear x0.5;
attention after the 8 px block; bottleneck ODE block(512) at 4 px; decoder bilinear x2, concat skip,
1x1 conv, ODE block, attention again at 8 px; 1x1 head. Nine ODE blocks in all.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mubench.models.layers import (
    RMSNorm2d,
    interleaved_sinusoid_table,
    multihead_attention,
    sinusoidal_embedding,
)
from mubench.models.ode_block import ODEBlock, ODEFunc
from mubench.models.solver_config import SolverConfig


class Attention(nn.Module):
    """RMSNorm -> 1x1 conv to q, k, v (no bias) -> softmax attention -> 1x1 conv out (bias).

    As in the released code the output *replaces* the input unless ``residual``.
    """

    def __init__(self, channels: int, heads: int = 4, head_dim: int = 32, residual: bool = False):
        super().__init__()
        self.heads = heads
        self.residual = residual
        self.norm = RMSNorm2d(channels)
        self.qkv = nn.Conv2d(channels, 3 * heads * head_dim, 1, bias=False)
        self.out = nn.Conv2d(heads * head_dim, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(self.norm(x)).chunk(3, dim=1)
        h = self.out(multihead_attention(q, k, v, self.heads))
        return x + h if self.residual else h


def _resample(x: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


class ContinuousUNet(nn.Module):
    """U-Net whose blocks are ODE blocks; see the module docstring for the two presets."""

    def __init__(
        self,
        in_channels: int = 3,  # image channels in
        out_channels: int = 3,  # image channels out
        stem_width: int = 16,  # nf: width of the first initial-velocity conv (paper code: 16)
        base_width: int = 32,  # width of the first ODE block; doubles per level (paper code: 32)
        levels: int = 4,  # resolution levels before the bottleneck (paper code: 4, so 64 -> 4 px)
        attention_levels: tuple[int, ...] = (3,),  # levels (0 = full resolution) with attention
        heads: int = 4,  # attention heads (paper code: 4)
        head_dim: int = 32,  # channels per head (paper code: 32)
        attention_residual: bool = False,  # paper code: attention replaces the features
        ode_norm: str = "instance",  # "instance" (paper code) or "group" (paper)
        ode_groups: int = 8,  # GroupNorm groups in ODE functions when ode_norm == "group"
        time_conditioning: bool = False,  # paper: scale/shift from t; paper code: none
        emb_dim: int = 256,  # step-embedding width
        unused_time_table: bool = True,  # paper code: frozen 1000 x emb_dim table, looked up, never used
        num_steps: int = 1000,  # diffusion steps T (size of that table)
        solver: SolverConfig | None = None,  # ODE solver settings shared by all blocks
    ):
        super().__init__()
        self.solver = solver or SolverConfig()
        self.time_conditioning = time_conditioning
        self.num_steps = num_steps
        widths = [base_width * 2**i for i in range(levels + 1)]  # last one is the bottleneck

        if unused_time_table:
            self.time_table = nn.Embedding(num_steps, emb_dim)
            self.time_table.weight.data.copy_(interleaved_sinusoid_table(num_steps, emb_dim))
            self.time_table.weight.requires_grad_(False)
        else:
            self.time_table = None
        self.emb_dim = emb_dim
        self.time_mlp = (
            nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
            if time_conditioning
            else None
        )

        def ode_block(width: int) -> ODEBlock:
            func = ODEFunc(width, ode_norm, ode_groups, emb_dim if time_conditioning else None)
            return ODEBlock(func, self.solver)

        def attention(width: int) -> Attention:
            return Attention(width, heads, head_dim, attention_residual)

        self.initial_velocity = nn.Sequential(
            nn.InstanceNorm2d(in_channels),
            nn.Conv2d(in_channels, stem_width, 3, padding=1),
            nn.Softplus(),
            nn.InstanceNorm2d(stem_width),
            nn.Conv2d(stem_width, base_width, 1),
            nn.Softplus(),
        )
        self.down_blocks = nn.ModuleList(ode_block(w) for w in widths[:-1])
        self.down_attention = nn.ModuleDict({str(i): attention(widths[i]) for i in attention_levels})
        self.down_transitions = nn.ModuleList(
            nn.Sequential(nn.Conv2d(w, 2 * w, 1), nn.Softplus()) for w in widths[:-1]
        )
        self.middle = ode_block(widths[-1])
        self.up_transitions = nn.ModuleList(
            nn.Sequential(nn.Conv2d(widths[i + 1] + widths[i], widths[i], 1), nn.Softplus())
            for i in reversed(range(levels))
        )
        self.up_blocks = nn.ModuleList(ode_block(widths[i]) for i in reversed(range(levels)))
        self.up_attention = nn.ModuleDict({str(i): attention(widths[i]) for i in attention_levels})
        self.head = nn.Conv2d(base_width, out_channels, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = None
        if self.time_table is not None:
            # The released code computes this embedding and passes it on, but no layer reads it.
            self.time_table(t.long().clamp(0, self.num_steps - 1))
        if self.time_mlp is not None:
            emb = self.time_mlp(sinusoidal_embedding(t, self.emb_dim))

        h = self.initial_velocity(x)
        skips = []
        for level, (block, transition) in enumerate(zip(self.down_blocks, self.down_transitions)):
            h = block(h, emb)
            if str(level) in self.down_attention:
                h = self.down_attention[str(level)](h)
            skips.append(h)
            h = _resample(transition(h), 0.5)
        h = self.middle(h, emb)
        for transition, block in zip(self.up_transitions, self.up_blocks):
            level = len(skips) - 1
            h = transition(torch.cat([_resample(h, 2.0), skips.pop()], dim=1))
            h = block(h, emb)
            if str(level) in self.up_attention:
                h = self.up_attention[str(level)](h)
        return self.head(h)


_REF = dict(ode_norm="instance", time_conditioning=False, unused_time_table=True)
_PAPER = dict(ode_norm="group", time_conditioning=True, unused_time_table=False)
_TINY = dict(stem_width=8, base_width=8, levels=3, attention_levels=(2,), heads=2, head_dim=16, emb_dim=64)


def _build(preset: dict, overrides: dict) -> ContinuousUNet:
    return ContinuousUNet(**{**preset, **overrides})


def ode_u(**overrides) -> ContinuousUNet:
    return _build(_PAPER, overrides)


def ode_u_ref(**overrides) -> ContinuousUNet:
    return _build(_REF, overrides)


def ode_u_tiny(**overrides) -> ContinuousUNet:
    return _build({**_PAPER, **_TINY}, overrides)


def ode_u_ref_tiny(**overrides) -> ContinuousUNet:
    return _build({**_REF, **_TINY}, overrides)
