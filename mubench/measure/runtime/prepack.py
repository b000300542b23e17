"""``--prepack`` (CPU): every convolution run by oneDNN with its weights reordered once, ahead of time.

PyTorch's CPU convolution reorders the weights into oneDNN's blocked layout on every call, and at batch 1
sends small inputs (3x3 or smaller kernels, one group, at most 20,480 input values, e.g. 256 channels
at 8x8) to an im2col fallback that is up to 1.7x slower than oneDNN there. Inductor's ``freezing`` would
prepack the weights, but under ``torch.compile`` (PyTorch 2.14) Dynamo passes parameters to the graph
as inputs, so nothing is frozen and nothing prepacked (``results/cpu/ode_profile.txt`` shows it). This
mode does it in the model instead, for every model alike; the weights are packed from the model's own,
so the function computed is the same (checked against eager float32 like every mode). The convolution
is ``mkldnn::_convolution_pointwise``, the operator inductor emits for prepacked weights, so compiled
models keep it as one extern call. Its output is channels-last whatever the input's layout, hence the
mode goes with ``--channels-last``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mubench.errors import UsageError, opt
from mubench.measure.runtime.device import DTYPE_ALIASES, DTYPES


def check_prepack_available(device: str, dtype: str, channels_last: bool) -> None:
    """One line (UsageError) when ``--prepack`` cannot run: a CPU, float32, channels-last mode that
    needs oneDNN. Unknown devices and dtypes are left to their own checks."""
    if device.startswith("cuda"):
        raise UsageError(
            f"{opt('prepack')} is a CPU mode (oneDNN convolutions); drop it for {opt('device')} {device}"
        )
    key = DTYPE_ALIASES.get(dtype, dtype)
    if key in DTYPES and key != "fp32":
        raise UsageError(f"{opt('prepack')} runs float32 convolutions; drop it for {opt('dtype')} {dtype}")
    if not channels_last:
        raise UsageError(
            f"{opt('prepack')} needs {opt('channels_last')} (oneDNN's prepacked convolutions write "
            f"channels-last)"
        )
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")):
        raise UsageError(f"{opt('prepack')} needs a PyTorch built with oneDNN (mkldnn); this one is not")


class PrepackedConv2d(nn.Module):
    """A zero-padded ``nn.Conv2d`` whose weights oneDNN reordered once for inputs of ``input_shape``
    (inputs of other shapes are still computed right, with a reorder per call)."""

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
        self.weight_shape = tuple(weight.shape)  # (out, in / groups, kh, kw)

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # nn.Conv2d's argument name (keyword calls)
        return torch.ops.mkldnn._convolution_pointwise(
            input, self.packed_weight, self.bias, self.padding, self.stride, self.dilation, self.groups,
            "none", [], "",
        )  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"weight={self.weight_shape}, stride={self.stride}, padding={self.padding}, groups={self.groups}"
        )


def _why_not_packable(conv: nn.Conv2d) -> str | None:
    if type(conv) is not nn.Conv2d:
        return f"is a {type(conv).__name__}, whose forward may differ from nn.Conv2d's"
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        return f"pads '{conv.padding_mode if conv.padding_mode != 'zeros' else conv.padding}'"
    if conv.weight.device.type != "cpu" or conv.weight.dtype != torch.float32:
        return f"holds {conv.weight.dtype} weights on {conv.weight.device}"
    return None


def prepack_convolutions(model: nn.Module, example_args: tuple) -> int:
    """Replace, in place, every convolution ``model(*example_args)`` runs by one ``PrepackedConv2d``
    (shared where the convolution is shared), packed for the first input it saw there; returns how many
    convolutions were packed. Convolutions the call does not run are left alone; one that runs but
    cannot be packed raises ValueError, so that no model runs the mode in part."""
    input_shapes: dict[nn.Conv2d, list[int]] = {}

    def record(module: nn.Module, args: tuple, kwargs: dict) -> None:
        x = args[0] if args else kwargs["input"]
        input_shapes.setdefault(module, list(x.shape))

    convs = {m for m in model.modules() if isinstance(m, nn.Conv2d)}
    hooks = [conv.register_forward_pre_hook(record, with_kwargs=True) for conv in convs]
    try:
        with torch.inference_mode():
            model(*example_args)
    finally:
        for hook in hooks:
            hook.remove()
    for conv in input_shapes:
        if (why := _why_not_packable(conv)) is not None:
            raise ValueError(
                f"{opt('prepack')}: a convolution of {type(model).__name__} {why}; it cannot be prepacked"
            )
    packed = {conv: PrepackedConv2d(conv, shape) for conv, shape in input_shapes.items()}
    for parent in list(model.modules()):
        for name, child in parent._modules.items():  # every name, aliases included
            if child in packed:
                parent._modules[name] = packed[child]
    return len(packed)
