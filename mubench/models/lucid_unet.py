"""Baseline U-Net of arXiv 2310.20092: denoising-diffusion-pytorch 1.8.3 Unet(dim=64, dim_mults=(1, 2, 4, 8)).

Written after that release's architecture: scale-shift residual blocks with GroupNorm(8), linear attention
at the high resolutions and full attention at the lowest one, pixel-unshuffle downsampling, and skips pushed
after every residual block (two per stage) plus the stem output, which the final block takes.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from mubench.models.layers import (
    RMSNorm2d,
    feature_map,
    multihead_attention,
    positions_by_head,
    sinusoidal_embedding,
)


class Attention(nn.Module):
    """Pre-normed multi-head attention over positions, full (softmax) or linear (Shen et al. 2018)."""

    def __init__(
        self,
        channels: int,  # width in and out
        heads: int = 4,  # attention heads (4)
        dim_head: int = 32,  # width per head (32)
        linear: bool = False,  # linear attention (stages 1-3) instead of softmax attention (stage 4, middle)
    ):
        super().__init__()
        self.heads = heads
        self.dim_head = dim_head
        self.linear = linear
        hidden = heads * dim_head
        self.norm = RMSNorm2d(channels)
        self.qkv = nn.Conv2d(channels, hidden * 3, 1, bias=False)
        self.proj = nn.Conv2d(hidden, channels, 1)
        self.norm_out = RMSNorm2d(channels) if linear else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(self.norm(x)).chunk(3, dim=1)
        if not self.linear:
            return self.proj(multihead_attention(q, k, v, self.heads))
        if q.stride(-1) == 1:  # not channels-last: heads-major (B, heads, d, HW) views, no copies
            b, _, h, w = q.shape
            q, k, v = (y.reshape(b, self.heads, self.dim_head, h * w) for y in (q, k, v))
            q = q.softmax(dim=-2) * self.dim_head**-0.5  # over channels within a head
            k = k.softmax(dim=-1)  # over positions
            context = torch.einsum("bhdn,bhen->bhde", k, v)
            out = torch.einsum("bhde,bhdn->bhen", context, q).reshape(b, -1, h, w)
            return self.norm_out(self.proj(out))
        # Positions-major (B, HW, heads, d) views: channels-last memory is not copied.
        q, k, v = (positions_by_head(y, self.heads) for y in (q, k, v))
        q = q.softmax(dim=-1) * self.dim_head**-0.5  # over channels within a head
        k = k.softmax(dim=1)  # over positions
        context = torch.einsum("bnhd,bnhe->bhde", k, v)
        out = torch.einsum("bhde,bnhd->bnhe", context, q)
        return self.norm_out(self.proj(feature_map(out, *x.shape[2:])))


class UNetBlock(nn.Module):
    """Residual block with scale-shift step conditioning, optionally followed by residual attention."""

    def __init__(
        self,
        in_channels: int,  # input width (skip included)
        out_channels: int,  # output width
        emb_channels: int,  # width of the step embedding (4 * dim = 256)
        attention: str | None = None,  # None, "linear" or "full"
        heads: int = 4,  # attention heads (4)
        dim_head: int = 32,  # width per attention head (32)
        norm_groups: int = 8,  # GroupNorm groups (8)
    ):
        super().__init__()
        self.in_channels = in_channels
        self.affine = nn.Linear(emb_channels, out_channels * 2)  # -> scale, shift
        self.conv0 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm0 = nn.GroupNorm(norm_groups, out_channels)
        self.conv1 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.norm1 = nn.GroupNorm(norm_groups, out_channels)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None
        self.attn = None
        if attention is not None:
            self.attn = Attention(out_channels, heads, dim_head, linear=attention == "linear")

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.affine(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = F.silu(self.norm0(self.conv0(x)) * (scale + 1) + shift)
        h = F.silu(self.norm1(self.conv1(h)))
        x = h + (self.skip(x) if self.skip is not None else x)
        if self.attn is not None:
            x = x + self.attn(x)
        return x


class Resample(nn.Module):
    """Stage transition: pixel-unshuffle(2) + 1x1 conv, nearest x2 + 3x3 conv, or a plain 3x3 conv."""

    def __init__(
        self,
        in_channels: int,  # input width
        out_channels: int,  # output width
        mode: str,  # "down", "up" or "keep" (same resolution: the last stage of encoder and decoder)
    ):
        super().__init__()
        self.mode = mode
        if mode == "down":
            self.conv = nn.Conv2d(in_channels * 4, out_channels, 1)
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "down":
            x = F.pixel_unshuffle(x, 2)
        elif self.mode == "up":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(x)


class LucidUNet(nn.Module):
    """The v-predicting denoiser: ``forward(x, t)`` returns the prediction for x_t at step t."""

    def __init__(
        self,
        in_channels: int = 3,  # image channels in (3)
        out_channels: int = 3,  # image channels out (3)
        dim: int = 64,  # base width (64)
        dim_mults: tuple[int, ...] = (1, 2, 4, 8),  # width multiplier per stage ((1, 2, 4, 8))
        full_attn: tuple[bool, ...] | None = None,  # softmax attention per stage (last only), else linear
        heads: int = 4,  # attention heads (4)
        dim_head: int = 32,  # width per attention head (32)
        norm_groups: int = 8,  # GroupNorm groups in the residual blocks (8)
    ):
        super().__init__()
        self.dim = dim
        emb_ch = dim * 4
        if full_attn is None:
            full_attn = tuple(i == len(dim_mults) - 1 for i in range(len(dim_mults)))
        attn_type = ["full" if full else "linear" for full in full_attn]
        block_kwargs = dict(emb_channels=emb_ch, heads=heads, dim_head=dim_head, norm_groups=norm_groups)
        dims = [dim, *(dim * m for m in dim_mults)]
        stages = list(itertools.pairwise(dims))
        last = len(stages) - 1

        # Step embedding: sinusoid(dim) -> Linear -> GELU -> Linear.
        self.map_layer0 = nn.Linear(dim, emb_ch)
        self.map_layer1 = nn.Linear(emb_ch, emb_ch)

        # Encoder: the stem output and every block output go on the skip stack.
        self.conv_in = nn.Conv2d(in_channels, dim, 7, padding=3)
        self.enc = nn.ModuleList()
        for i, (cin, cout) in enumerate(stages):
            self.enc.append(UNetBlock(cin, cin, **block_kwargs))
            self.enc.append(UNetBlock(cin, cin, attention=attn_type[i], **block_kwargs))
            self.enc.append(Resample(cin, cout, "down" if i < last else "keep"))

        # Middle.
        self.mid = nn.ModuleList(
            [
                UNetBlock(dims[-1], dims[-1], attention="full", **block_kwargs),
                UNetBlock(dims[-1], dims[-1], **block_kwargs),
            ]
        )

        # Decoder, then the final block on the stem's skip; every block takes one skip.
        self.dec = nn.ModuleList()
        for i, (cin, cout) in reversed(list(enumerate(stages))):
            self.dec.append(UNetBlock(cout + cin, cout, **block_kwargs))
            self.dec.append(UNetBlock(cout + cin, cout, attention=attn_type[i], **block_kwargs))
            self.dec.append(Resample(cout, cin, "up" if i > 0 else "keep"))
        self.dec.append(UNetBlock(dim * 2, dim, **block_kwargs))
        self.conv_out = nn.Conv2d(dim, out_channels, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.map_layer1(F.gelu(self.map_layer0(sinusoidal_embedding(t, self.dim).to(x.dtype))))

        x = self.conv_in(x)
        skips = [x]
        for block in self.enc:
            if isinstance(block, UNetBlock):
                x = block(x, emb)
                skips.append(x)
            else:
                x = block(x)
        for block in self.mid:
            x = block(x, emb)
        for block in self.dec:
            x = block(torch.cat([x, skips.pop()], dim=1), emb) if isinstance(block, UNetBlock) else block(x)
        return self.conv_out(x)


def lucid_unet(**overrides) -> nn.Module:
    kwargs = dict(dim=64, dim_mults=(1, 2, 4, 8), heads=4, dim_head=32)
    return LucidUNet(**{**kwargs, **overrides})


def lucid_unet_tiny(**overrides) -> nn.Module:
    kwargs = dict(dim=16, dim_mults=(1, 2, 4), heads=4, dim_head=16)
    return LucidUNet(**{**kwargs, **overrides})
