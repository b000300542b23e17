"""Peak bytes of live tensors during one call, against hand counts (float32: 4 bytes an element)."""

from __future__ import annotations

import torch
from torch import nn

from mubench.measure.counting.live_memory import peak_live_bytes

F32 = 4


def mlp(inplace: bool) -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=inplace), nn.Linear(8, 2))


def test_peak_is_the_largest_set_of_tensors_alive_at_once():
    model, x = mlp(inplace=False), torch.randn(3, 4)
    with torch.no_grad():
        peak = peak_live_bytes(lambda: model(x))
    # the first layer's output (3x8) is alive while ReLU writes its own (3x8); then it is freed, and the
    # last output (3x2) lives beside ReLU's: 3x8 + 3x2 < 2 x 3x8
    assert peak == F32 * (3 * 8 + 3 * 8)


def test_in_place_operators_make_no_new_tensor():
    model, x = mlp(inplace=True), torch.randn(3, 4)
    with torch.no_grad():
        peak = peak_live_bytes(lambda: model(x))
    assert peak == F32 * (3 * 8 + 3 * 2)


def test_weights_inputs_and_views_of_them_are_not_counted():
    weight = torch.randn(64, 64)
    x = torch.randn(64, 64)
    assert peak_live_bytes(lambda: (weight.t(), x.view(-1), x[0])) == 0


def test_a_tensor_kept_by_the_caller_stays_counted():
    x = torch.randn(1000)
    kept = []

    def call() -> None:
        kept.append(x * 2)  # 4,000 bytes kept to the end
        for _ in range(3):
            x + 1  # 4,000 bytes, freed at once: never two at a time

    assert peak_live_bytes(call) == F32 * 2000
