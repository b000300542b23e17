"""``--prepack`` (CPU): every convolution run by oneDNN with its weights reordered once, ahead of time.

PyTorch's CPU convolution reorders the weights into oneDNN's blocked layout on every call, and at batch 1
sends small inputs (at most 20,480 values, e.g. 256 channels at 8x8) to an im2col fallback that is up to
1.7x slower than oneDNN there. Inductor's ``freezing`` would prepack the weights, but under
``torch.compile`` (PyTorch 2.14) Dynamo passes parameters to the graph as inputs, so nothing is frozen
and nothing prepacked. This mode does it in the model instead, for every model alike; the weights are
packed from the model's own, so the function computed is the same (checked against eager float32 like
every mode). The convolution is ``mkldnn::_convolution_pointwise``, the operator inductor emits for
prepacked weights, so compiled models keep it as one extern call.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mubench.errors import UsageError
from mubench.measure.device import DTYPE_ALIASES


def check_prepack_available(device: str, dtype: str) -> None:
    """One line (UsageError) when ``--prepack`` cannot run: a CPU, float32 mode that needs oneDNN."""
    if device.startswith("cuda"):
        raise UsageError(f"--prepack is a CPU mode (oneDNN convolutions); drop it for --device {device}")
    if DTYPE_ALIASES.get(dtype, dtype) != "fp32":
        raise UsageError(f"--prepack runs float32 convolutions; drop it for --dtype {dtype}")
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")):
        raise UsageError("--prepack needs a PyTorch built with oneDNN (mkldnn); this one is not")


class PrepackedConv2d(nn.Module):
    """A zero-padded ``nn.Conv2d`` whose weights oneDNN reordered once for inputs of ``input_shape``."""

    def __init__(self, conv: nn.Conv2d, input_shape: Sequence[int]):
        super().__init__()
        self.padding = list(conv.padding)
        self.stride = list(conv.stride)
        self.dilation = list(conv.dilation)
        self.groups = conv.groups
        weight = conv.weight.detach()
        packed = torch.ops.mkldnn._reorder_convolution_weight(
            weight, self.padding, self.stride, self.dilation, self.groups, list(input_shape)
        )
        self.register_buffer("packed_weight", packed)
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().clone())
        self.shape = tuple(weight.shape)  # (out, in / groups, kh, kw), for repr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._convolution_pointwise(
            x, self.packed_weight, self.bias, self.padding, self.stride, self.dilation, self.groups,
            "none", [], "",
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"weight={self.shape}, stride={self.stride}, padding={self.padding}, groups={self.groups}"


def _packable(module: nn.Module) -> bool:
    return (
        type(module) is nn.Conv2d  # exactly: a subclass may compute something else in forward
        and module.padding_mode == "zeros"
        and not isinstance(module.padding, str)
        and module.weight.device.type == "cpu"
        and module.weight.dtype == torch.float32
    )


def prepack_convolutions(model: nn.Module, example_args: tuple) -> int:
    """Replace, in place, each convolution ``model(*example_args)`` runs by a ``PrepackedConv2d`` packed
    for the input it saw there; returns how many were replaced. Convolutions not run are left alone."""
    input_shapes: dict[nn.Module, list[int]] = {}

    def record(module: nn.Module, args: tuple) -> None:
        input_shapes.setdefault(module, list(args[0].shape))

    hooks = [m.register_forward_pre_hook(record) for m in model.modules() if _packable(m)]
    try:
        with torch.inference_mode():
            model(*example_args)
    finally:
        for hook in hooks:
            hook.remove()
    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if child in input_shapes:
                setattr(parent, name, PrepackedConv2d(child, input_shapes[child]))
                replaced += 1
    return replaced
