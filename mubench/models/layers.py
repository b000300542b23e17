"""Building blocks shared by several denoisers."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """DDPM step embedding ``[sin(t f_k), cos(t f_k)]``, ``f_k = exp(-k ln(max_period) / (half - 1))``.

    ``t`` has shape (B,) (any numeric dtype); returns (B, dim) float32.
    """
    half = dim // 2
    freqs = torch.exp(
        torch.arange(half, device=t.device, dtype=torch.float32) * (-math.log(max_period) / (half - 1))
    )
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([args.sin(), args.cos()], dim=1)


def interleaved_sinusoid_table(num_steps: int, dim: int) -> torch.Tensor:
    """Transformer-style table (num_steps, dim): sin on even dimensions, cos on odd ones."""
    pos = torch.arange(num_steps, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(num_steps, dim)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)
    return table


class RMSNorm2d(nn.Module):
    """RMS normalisation over channels with a learned per-channel gain (``c`` parameters)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.scale = channels**0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) * self.gain * self.scale


def multihead_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Softmax attention over spatial positions.

    ``q``, ``k``, ``v``: (B, heads * d, H, W) feature maps; returns (B, heads * d, H, W).
    Scaled by 1/sqrt(d); computed with ``scaled_dot_product_attention`` (counted by mubench's MAC handles).
    """
    by_head = (positions_by_head(x, heads).transpose(1, 2) for x in (q, k, v))  # (B, heads, HW, d)
    out = F.scaled_dot_product_attention(*by_head)
    return feature_map(out.transpose(1, 2), *q.shape[2:])


def positions_by_head(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, heads * d, H, W) -> (B, HW, heads, d); a view, not a copy, of channels-last memory."""
    b, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(b, h * w, heads, c // heads)


def feature_map(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(B, HW, heads, d) -> (B, heads * d, H, W), inverse of :func:`positions_by_head` (channels-last)."""
    return x.reshape(x.shape[0], h, w, -1).permute(0, 3, 1, 2)
