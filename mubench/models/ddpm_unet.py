"""DDPM U-Net (Ho et al. 2020, arXiv 2006.11239), written after the paper's CIFAR-10 configuration.

Residual blocks with a step embedding, single-head self-attention at chosen resolutions, a skip stack
holding the stem output, every block output and every downsample output, and a decoder of
``num_blocks + 1`` blocks per level on the concatenated skips.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mubench.models.layers import multihead_attention, sinusoidal_embedding


class UNetBlock(nn.Module):
    """Residual block (GroupNorm, SiLU, 3x3 convs, step embedding), optionally followed by self-attention."""

    def __init__(
        self,
        in_channels: int,  # input width
        out_channels: int,  # output width
        emb_channels: int,  # width of the step embedding (4 * ch)
        dropout: float = 0.0,  # dropout before the second conv (0.1)
        attention: bool = False,  # single-head self-attention after the residual block
        norm_groups: int = 32,  # GroupNorm groups (32)
        eps: float = 1e-6,  # GroupNorm epsilon (1e-6)
    ):
        super().__init__()
        self.in_channels = in_channels
        self.norm0 = nn.GroupNorm(norm_groups, in_channels, eps=eps)
        self.conv0 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.affine = nn.Linear(emb_channels, out_channels)
        self.norm1 = nn.GroupNorm(norm_groups, out_channels, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None
        self.attention = attention
        if attention:
            self.norm2 = nn.GroupNorm(norm_groups, out_channels, eps=eps)
            self.qkv = nn.Conv2d(out_channels, out_channels * 3, 1)  # q, k, v: three biased 1x1 convs in one
            self.proj = nn.Conv2d(out_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv0(F.silu(self.norm0(x)))
        h = h + self.affine(F.silu(emb))[:, :, None, None]
        h = self.conv1(self.dropout(F.silu(self.norm1(h))))
        x = h + (self.skip(x) if self.skip is not None else x)
        if self.attention:
            q, k, v = self.qkv(self.norm2(x)).chunk(3, dim=1)
            x = x + self.proj(multihead_attention(q, k, v, heads=1))
        return x


class Resample(nn.Module):
    """DDPM resampling: stride-2 3x3 conv (TF 'SAME' padding, i.e. (0, 1, 0, 1)) or nearest x2 + 3x3 conv."""

    def __init__(
        self,
        channels: int,  # width in and out
        down: bool,  # True: halve the resolution; False: double it
    ):
        super().__init__()
        self.down = down
        self.conv = nn.Conv2d(channels, channels, 3, stride=2 if down else 1, padding=0 if down else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            return self.conv(F.pad(x, (0, 1, 0, 1)))
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class DDPMUNet(nn.Module):
    """The DDPM denoiser: ``forward(x, t)`` predicts the noise eps in x_t at step t."""

    def __init__(
        self,
        img_resolution: int = 32,  # nominal input side, places attention by resolution (32)
        in_channels: int = 3,  # image channels in (3)
        out_channels: int = 3,  # image channels out (3)
        ch: int = 128,  # base width (128)
        ch_mult: tuple[int, ...] = (1, 2, 2, 2),  # width multiplier per level ((1, 2, 2, 2))
        num_blocks: int = 2,  # residual blocks per level in the encoder (2)
        attn_resolutions: tuple[int, ...] = (16,),  # resolutions with self-attention ((16,))
        dropout: float = 0.1,  # dropout in the residual blocks (0.1)
        norm_groups: int = 32,  # GroupNorm groups (32)
    ):
        super().__init__()
        self.ch = ch
        emb_ch = ch * 4
        block_kwargs = dict(emb_channels=emb_ch, dropout=dropout, norm_groups=norm_groups)

        # Step embedding: sinusoid(ch) -> Linear -> SiLU -> Linear.
        self.map_layer0 = nn.Linear(ch, emb_ch)
        self.map_layer1 = nn.Linear(emb_ch, emb_ch)

        # Encoder; every module's output goes on the skip stack.
        self.enc = nn.ModuleDict()
        cout = ch
        self.enc["conv_in"] = nn.Conv2d(in_channels, cout, 3, padding=1)
        skips = [cout]
        for level, mult in enumerate(ch_mult):
            res = img_resolution >> level
            if level > 0:
                self.enc[f"{res}x{res}_down"] = Resample(cout, down=True)
                skips.append(cout)
            for idx in range(num_blocks):
                cin, cout = cout, ch * mult
                attn = res in attn_resolutions
                self.enc[f"{res}x{res}_block{idx}"] = UNetBlock(cin, cout, attention=attn, **block_kwargs)
                skips.append(cout)

        # Middle.
        self.mid = nn.ModuleList(
            [UNetBlock(cout, cout, attention=True, **block_kwargs), UNetBlock(cout, cout, **block_kwargs)]
        )

        # Decoder; every block takes one skip concatenated to its input.
        self.dec = nn.ModuleDict()
        for level, mult in reversed(list(enumerate(ch_mult))):
            res = img_resolution >> level
            for idx in range(num_blocks + 1):
                cin, cout = cout + skips.pop(), ch * mult
                attn = res in attn_resolutions
                self.dec[f"{res}x{res}_block{idx}"] = UNetBlock(cin, cout, attention=attn, **block_kwargs)
            if level > 0:
                self.dec[f"{res}x{res}_up"] = Resample(cout, down=False)

        self.norm_out = nn.GroupNorm(norm_groups, cout, eps=1e-6)
        self.conv_out = nn.Conv2d(cout, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.map_layer1(F.silu(self.map_layer0(sinusoidal_embedding(t, self.ch).to(x.dtype))))

        skips = []
        for block in self.enc.values():
            x = block(x, emb) if isinstance(block, UNetBlock) else block(x)
            skips.append(x)
        for block in self.mid:
            x = block(x, emb)
        for block in self.dec.values():
            x = block(torch.cat([x, skips.pop()], dim=1), emb) if isinstance(block, UNetBlock) else block(x)
        return self.conv_out(F.silu(self.norm_out(x)))


def ddpm_unet(**overrides) -> nn.Module:
    kwargs = dict(ch=128, ch_mult=(1, 2, 2, 2), num_blocks=2, attn_resolutions=(16,), dropout=0.1)
    return DDPMUNet(**{**kwargs, **overrides})


def ddpm_unet_tiny(**overrides) -> nn.Module:
    kwargs = dict(ch=32, ch_mult=(1, 2, 2), num_blocks=1, attn_resolutions=(16,), dropout=0.1)
    return DDPMUNet(**{**kwargs, **overrides})
