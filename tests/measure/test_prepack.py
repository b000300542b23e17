"""--prepack: convolutions replaced by oneDNN ones with prepacked weights compute the same function."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mubench.errors import UsageError
from mubench.measure import LatencyConditions, measure_latency
from mubench.measure.runtime.build import build_model, example_inputs
from mubench.measure.runtime.prepack import PrepackedConv2d, prepack_convolutions
from mubench.registry import get_spec


def _rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    return float((out - ref).abs().max() / ref.abs().max())


@pytest.mark.parametrize("name", ["ode-u-tiny", "lucid-unet-tiny"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_prepacked_model_computes_the_same_function(name, channels_last):
    spec = get_spec(name)
    model = build_model(spec, spec.channels, None, 0)
    x, t = example_inputs(2, spec.channels, 32, 0, "cpu")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    convs = {m for m in model.modules() if type(m) is nn.Conv2d}
    with torch.inference_mode():
        reference = model(x, t)
    assert prepack_convolutions(model, (x, t)) == len(convs) > 0
    assert not any(type(m) is nn.Conv2d for m in model.modules())
    packed = [m for m in model.modules() if isinstance(m, PrepackedConv2d)]
    assert len(packed) == len(convs)
    for conv in packed:  # oneDNN's own tensor (blocked layout), not the model's (out, in, kh, kw) one
        assert conv.packed_weight.is_mkldnn and conv.packed_weight.shape == conv.weight_shape
    with torch.inference_mode():
        assert _rel_err(model(x, t), reference) < 1e-5
        other_x, other_t = x[:1], t[:1]  # packed for batch 2, still right for batch 1
        assert _rel_err(model(other_x, other_t), reference[:1]) < 1e-5


class _Net(nn.Module):
    def __init__(self, padding: int | str = 1):
        super().__init__()
        self.first = nn.Conv2d(3, 4, 3, padding=padding)
        self.alias = self.first  # the same convolution under a second name
        self.inner = nn.Sequential(self.first)  # and under a second parent
        self.by_keyword = nn.Conv2d(3, 4, 1)
        self.unused = nn.Conv2d(4, 4, 3, padding="same")

    def forward(self, x):
        return self.inner(x) + self.alias(x) + self.by_keyword(input=x)


def test_a_shared_convolution_is_packed_once_and_every_name_runs_it():
    net = _Net()
    x = torch.randn(1, 3, 8, 8)
    with torch.inference_mode():
        reference = net(x)
    assert prepack_convolutions(net, (x,)) == 2  # first (three names) and by_keyword; unused left alone
    assert isinstance(net.first, PrepackedConv2d) and net.alias is net.first is net.inner[0]
    assert isinstance(net.by_keyword, PrepackedConv2d) and type(net.unused) is nn.Conv2d
    with torch.inference_mode():
        assert _rel_err(net(x), reference) < 1e-5


def test_a_convolution_that_runs_but_cannot_be_packed_fails_the_model_not_the_run():
    with pytest.raises(ValueError, match="a convolution of _Net pads 'same'; it cannot be prepacked"):
        prepack_convolutions(_Net(padding="same"), (torch.randn(1, 3, 8, 8),))


def test_prepack_keeps_counted_flops_and_nfe():
    fast = dict(repeats=2, trajectory_repeats=1, steps=2, warmup_min=1, warmup_max_s=1.0, resolution=32)
    plain, packed = (
        measure_latency(
            ["lucid-unet-tiny", "ode-u-tiny"], LatencyConditions(**fast, channels_last=True, prepack=p), "r"
        )
        for p in (False, True)
    )
    columns = ("flops_per_call", "macs_per_call", "nfe", "nfe_per_trajectory", "trajectory_denoiser_calls")
    for a, b in zip(plain, packed):
        assert b["status"] == "ok", b["message"]
        assert b["mode"] == "channels_last+prepack" and b["prepack"] is True
        assert [b[c] for c in columns] == [a[c] for c in columns]
        assert b["flops_per_call"] > 0
    assert packed[1]["nfe_per_trajectory"] == 2 * packed[1]["nfe"] > 0


def test_without_onednn_the_mode_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    with pytest.raises(
        UsageError, match=r"^prepack needs a PyTorch built with oneDNN \(mkldnn\); this one is not$"
    ):
        LatencyConditions(channels_last=True, prepack=True)
