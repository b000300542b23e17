"""MAC counts of hand-countable modules: fvcore gives MACs, torch's FlopCounterMode gives FLOPs = 2 x MACs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mubench.measure.counting.counters import count_fvcore, count_torch
from mubench.models.layers import multihead_attention


def both(model: nn.Module, *inputs: torch.Tensor) -> tuple[dict[str, int], dict[str, int]]:
    """(fvcore MACs by category, torch MACs (= FLOPs / 2) by category)."""
    fv = count_fvcore(model, inputs)
    tc = count_torch(model, inputs)
    assert tc.flops == sum(tc.by_category.values())
    assert fv.macs == sum(fv.by_category.values())
    return fv.by_category, {k: v // 2 for k, v in tc.by_category.items()}


def only(category: str, macs: int) -> dict[str, int]:
    return {"conv": 0, "linear": 0, "attention": 0, "other": 0, category: macs}


def test_conv2d():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    out_elems = 1 * 8 * 16 * 16
    expected = out_elems * 3 * 3 * 3  # 55,296
    fv, tc = both(conv, torch.randn(1, 3, 16, 16))
    assert fv == only("conv", expected)
    assert tc == only("conv", expected)
    assert expected == 55_296


def test_torch_counts_flops_twice_the_macs():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    x = torch.randn(1, 3, 16, 16)
    assert count_torch(conv, (x,)).flops == 2 * count_fvcore(conv, (x,)).macs == 2 * 55_296


def test_strided_grouped_conv_batch2():
    conv = nn.Conv2d(8, 12, 3, stride=2, padding=1, groups=4)
    out_elems = 2 * 12 * 8 * 8
    expected = out_elems * (8 // 4) * 3 * 3
    fv, tc = both(conv, torch.randn(2, 8, 16, 16))
    assert fv == only("conv", expected)
    assert tc == only("conv", expected)


def test_linear_2d_input():
    fv, tc = both(nn.Linear(16, 32), torch.randn(4, 16))
    assert fv == only("linear", 4 * 16 * 32)
    assert tc == only("linear", 4 * 16 * 32)


def test_linear_3d_input():
    fv, tc = both(nn.Linear(16, 32, bias=False), torch.randn(2, 5, 16))
    assert fv == only("linear", 2 * 5 * 16 * 32)
    assert tc == only("linear", 2 * 5 * 16 * 32)


class SDPA(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


@pytest.mark.parametrize(
    ("b", "h", "lq", "lk", "d", "dv"),
    [(2, 4, 16, 16, 8, 8), (2, 4, 10, 24, 8, 12)],
)
def test_scaled_dot_product_attention(b, h, lq, lk, d, dv):
    q, k, v = torch.randn(b, h, lq, d), torch.randn(b, h, lk, d), torch.randn(b, h, lk, dv)
    expected = b * h * lq * lk * (d + dv)  # QK^T and (softmax) V
    fv, tc = both(SDPA(), q, k, v)
    assert fv == only("attention", expected)
    assert tc == only("attention", expected)


class MHA(nn.Module):
    def __init__(self, heads: int):
        super().__init__()
        self.heads = heads

    def forward(self, q, k, v):
        return multihead_attention(q, k, v, self.heads)


def test_multihead_attention_over_spatial_positions():
    b, heads, d, side = 2, 4, 8, 4
    q, k, v = (torch.randn(b, heads * d, side, side) for _ in range(3))
    length = side * side
    expected = b * heads * length * length * (d + d)
    fv, tc = both(MHA(heads), q, k, v)
    assert fv == only("attention", expected)
    assert tc == only("attention", expected)


def test_multihead_attention_output_matches_naive_softmax_attention():
    b, heads, d, side = 1, 2, 4, 3
    q, k, v = (torch.randn(b, heads * d, side, side) for _ in range(3))
    out = multihead_attention(q, k, v, heads)

    def split(x):
        return x.reshape(b, heads, d, side * side).transpose(2, 3)

    weights = (split(q) @ split(k).transpose(-1, -2) / d**0.5).softmax(-1)
    naive = (weights @ split(v)).transpose(2, 3).reshape(b, heads * d, side, side)
    torch.testing.assert_close(out, naive)
    # channels-last inputs (the --channels-last mode) give the same numbers, laid out channels-last
    out_cl = multihead_attention(*(x.contiguous(memory_format=torch.channels_last) for x in (q, k, v)), heads)
    torch.testing.assert_close(out_cl, naive)
    assert out_cl.is_contiguous(memory_format=torch.channels_last)


def test_linear_attention_matches_its_textbook_form_in_both_memory_formats():
    from mubench.models.lucid_unet import Attention

    torch.manual_seed(0)
    channels, heads, d, side = 16, 2, 8, 5
    attn = Attention(channels, heads, d, linear=True).eval()
    x = torch.randn(2, channels, side, side)
    with torch.no_grad():
        q, k, v = (y.reshape(2, heads, d, side * side) for y in attn.qkv(attn.norm(x)).chunk(3, dim=1))
        q = q.softmax(dim=-2) * d**-0.5  # over the channels of a head
        k = k.softmax(dim=-1)  # over positions
        out = torch.einsum("bhde,bhdn->bhen", torch.einsum("bhdn,bhen->bhde", k, v), q)
        textbook = attn.norm_out(attn.proj(out.reshape(2, heads * d, side, side)))
        torch.testing.assert_close(attn(x), textbook)
        cl = attn.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(cl, textbook)
        assert cl.is_contiguous(memory_format=torch.channels_last)  # no copy back to NCHW


class Einsum(nn.Module):
    def forward(self, a, b):
        return torch.einsum("bhid,bhjd->bhij", a, b)


def test_einsum():
    a, b = torch.randn(2, 3, 5, 7), torch.randn(2, 3, 6, 7)
    expected = 2 * 3 * 5 * 6 * 7
    fv, tc = both(Einsum(), a, b)
    assert fv == only("attention", expected)
    assert tc == only("attention", expected)


class BatchedMatmul(nn.Module):
    def forward(self, a, b):
        return torch.bmm(a, b)


def test_bmm():
    fv, tc = both(BatchedMatmul(), torch.randn(3, 4, 5), torch.randn(3, 5, 6))
    assert fv == only("attention", 3 * 4 * 5 * 6)
    assert tc == only("attention", 3 * 4 * 5 * 6)


class ConvReluCumsum(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        return torch.cumsum(torch.relu(self.conv(x)), dim=1)


def test_matmul_tier_ignores_elementwise_and_lists_unsupported_ops():
    fv = count_fvcore(ConvReluCumsum(), (torch.randn(1, 3, 16, 16),))
    assert fv.by_category == only("conv", 55_296)
    assert dict(fv.unsupported) == {"aten::cumsum": 1}
    assert fv.coverage == pytest.approx(1 / 2)  # conv counted, cumsum not


def test_all_tier_adds_one_per_elementwise_output():
    fv = count_fvcore(ConvReluCumsum(), (torch.randn(1, 3, 16, 16),), tier="all")
    assert fv.by_category["conv"] == 55_296
    assert fv.by_category["other"] == 8 * 16 * 16  # relu: one per output element
    assert fv.matmul_macs == 55_296
    assert fv.coverage == pytest.approx(2 / 3)


def test_unknown_tier_is_refused():
    with pytest.raises(ValueError, match="tier"):
        count_fvcore(nn.Conv2d(3, 3, 1), (torch.randn(1, 3, 4, 4),), tier="some")


def test_by_module_attributes_macs_to_submodules():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1))
    fv = count_fvcore(model, (torch.randn(1, 3, 16, 16),))
    assert fv.by_module["0"] == 55_296
    assert fv.by_module["2"] == 4 * 16 * 16 * 8
    assert fv.by_module[""] == fv.macs == 55_296 + 8_192


def test_counting_leaves_module_unchanged():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Linear(16, 4)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 3, 16, 16)
    count_fvcore(model, (x,), tier="all")
    count_torch(model, (x,))
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.training
