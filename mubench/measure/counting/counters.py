"""MAC counting with fvcore (primary) and torch's FlopCounterMode (cross-check), with our op handles.

Conventions: fvcore counts multiply-accumulates (1 MAC per fused multiply-add, whatever fvcore calls
it); torch's FlopCounterMode counts FLOPs (2 per MAC). Both are kept apart here: fvcore results are in
MACs, torch results in FLOPs.

Tiers:
- ``matmul``: convolutions, linear layers, matrix products and attention. These are the ops torch's
  counter also covers, so the cross-check is like for like.
- ``all``: adds normalisations, resampling and elementwise arithmetic, at fvcore's norm/resampling
  costs and 1 per output element for elementwise ops (not multiply-accumulates in the strict sense).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

with warnings.catch_warnings():  # fvcore's import calls torch.jit.script, deprecated in recent torch
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn.jit_analysis import JitModelAnalysis
    from fvcore.nn.jit_handles import (
        addmm_flop_jit,
        batchnorm_flop_jit,
        bmm_flop_jit,
        conv_flop_jit,
        elementwise_flop_counter,
        get_shape,
        linear_flop_jit,
        matmul_flop_jit,
        norm_flop_counter,
    )

TIERS = ("matmul", "all")

# Categories of counted work, reported as separate columns.
CATEGORY_OF_FVCORE_OP = {
    "conv": "conv",
    "linear": "linear",
    "addmm": "linear",
    "mm": "linear",
    "matmul": "attention",
    "bmm": "attention",
    "baddbmm": "attention",
    "einsum": "attention",
    "scaled_dot_product_attention": "attention",
}
CATEGORY_OF_TORCH_OP = {
    "convolution": "conv",
    "_convolution": "conv",
    "addmm": "linear",
    "mm": "linear",
    "bmm": "attention",
    "baddbmm": "attention",
    "_scaled_dot_product_flash_attention_for_cpu": "attention",
    "_scaled_dot_product_efficient_attention": "attention",
    "_scaled_dot_product_flash_attention": "attention",
    "_scaled_dot_product_cudnn_attention": "attention",
}
CATEGORIES = ("conv", "linear", "attention", "other")

# Ops that move or look up data without arithmetic: neither counted nor "unsupported".
FREE_OPS = (
    "aten::embedding",
    "aten::chunk",
    "aten::transpose",
    "aten::pixel_unshuffle",
    "aten::pixel_shuffle",
    "aten::linspace",
    "aten::tensor",
    "aten::lift_fresh",
    "aten::t",
    "aten::unsqueeze",
    "aten::ones",
    "aten::ones_like",
    "aten::clone",
    "aten::type_as",
    "aten::arange",
    "aten::numpy_T",
    "aten::alias",
    "aten::detach_",
    "aten::resolve_conj",
    "aten::resolve_neg",
    "aten::new_zeros",
    "aten::new_ones",
    "aten::new_empty",
    "aten::zero_",
    "aten::fill_",
    "aten::all",
    "aten::any",
    "aten::lt",
    "aten::le",
    "aten::ne",
    "aten::item",
    "aten::abs",
    "aten::long",
    "aten::float",
    "aten::repeat",
    "aten::contiguous",
    "aten::dropout_",
    "aten::feature_dropout",
    "aten::pad",
    "aten::view_as",
)
# torchdiffeq's autograd helpers (stage-buffer assignment, gradient stitching): data movement only.
# fvcore cannot ignore a PythonOp by name, so they get a handle that counts nothing.
FREE_PYTHON_OPS = ("prim::PythonOp._UncheckedAssign", "prim::PythonOp._StitchGradient")
# Elementwise arithmetic and reductions: 1 per output element in the ``all`` tier.
ELEMENTWISE_OPS = (
    "aten::add", "aten::add_", "aten::sub", "aten::sub_", "aten::rsub", "aten::mul", "aten::mul_",
    "aten::div", "aten::div_", "aten::neg", "aten::reciprocal", "aten::pow", "aten::sqrt", "aten::rsqrt",
    "aten::exp", "aten::log", "aten::sin", "aten::cos", "aten::softplus", "aten::silu", "aten::silu_",
    "aten::gelu", "aten::sigmoid", "aten::tanh", "aten::relu", "aten::softmax", "aten::log_softmax",
    "aten::clamp_min", "aten::clamp_max", "aten::where", "aten::sum", "aten::mean", "aten::norm",
    "aten::linalg_vector_norm", "aten::frobenius_norm", "aten::maximum", "aten::minimum",
    "aten::expand_as", "aten::max_pool2d", "aten::avg_pool2d", "aten::min", "aten::max", "aten::nextafter",
    "aten::addcmul", "aten::addcdiv", "aten::lerp", "aten::square", "aten::erf", "aten::hardtanh",
)  # fmt: skip

Handle = Callable[[list[Any], list[Any]], float]


def _sdpa_macs(inputs: list[Any], outputs: list[Any]) -> float:
    """MACs of softmax(Q K^T) V: b * h * Lq * Lk * (d + d_v); the softmax itself is elementwise."""
    q, k, v = (get_shape(inputs[i]) for i in range(3))
    *batch, lq, d = q
    lk, dv = k[-2], v[-1]
    return math.prod(batch) * lq * lk * (d + dv)


def _baddbmm_macs(inputs: list[Any], outputs: list[Any]) -> float:
    b, n, m = get_shape(inputs[1])
    p = get_shape(inputs[2])[-1]
    return b * n * m * p


def _einsum_macs(inputs: list[Any], outputs: list[Any]) -> float:
    """Exact MACs of a two-operand einsum: the product of the sizes of all its indices."""
    equation = inputs[0].toIValue().replace(" ", "")
    shapes = [get_shape(v) for v in inputs[1].node().inputs()]
    lhs = equation.split("->")[0].split(",")
    if len(lhs) != 2:
        raise NotImplementedError(f"einsum with {len(lhs)} operands: {equation}")
    sizes: dict[str, int] = {}
    for letters, shape in zip(lhs, shapes):
        sizes.update(zip(letters, shape))
    return math.prod(sizes.values())


def _free(inputs: list[Any], outputs: list[Any]) -> float:
    return 0


def _elementwise(inputs: list[Any], outputs: list[Any]) -> float:
    shape = get_shape(outputs[0])
    return math.prod(shape) if shape else 0


def fvcore_handles(tier: str) -> dict[str, Handle]:
    """fvcore's own handles for the ops it knows, plus mubench's, for the given tier."""
    handles: dict[str, Handle] = {
        "aten::_convolution": conv_flop_jit,
        "aten::linear": linear_flop_jit,
        "aten::addmm": addmm_flop_jit,
        "aten::mm": matmul_flop_jit,
        "aten::matmul": matmul_flop_jit,
        "aten::bmm": bmm_flop_jit,
        "aten::baddbmm": _baddbmm_macs,
        "aten::einsum": _einsum_macs,  # fvcore's own is approximate for 4-d operands
        "aten::scaled_dot_product_attention": _sdpa_macs,  # fvcore has none
    }
    if tier == "all":
        handles.update(
            {
                "aten::batch_norm": batchnorm_flop_jit,
                "aten::group_norm": norm_flop_counter(2),
                "aten::layer_norm": norm_flop_counter(2),
                "aten::instance_norm": norm_flop_counter(1),
                "aten::upsample_nearest2d": elementwise_flop_counter(0, 1),
                "aten::upsample_bilinear2d": elementwise_flop_counter(0, 4),
                "aten::adaptive_avg_pool2d": elementwise_flop_counter(1, 0),
                **dict.fromkeys(ELEMENTWISE_OPS, _elementwise),
            }
        )
    return handles


@dataclass
class FvcoreCount:
    """MACs counted by fvcore for one call of a model on given inputs."""

    macs: int  # the tier's total
    by_category: dict[str, int]  # conv / linear / attention / other
    by_module: dict[str, int]  # module name -> MACs (the tier's)
    counted_calls: int  # op invocations that a handle counted
    unsupported: Counter = field(default_factory=Counter)  # op name -> invocations with no handle

    @property
    def matmul_macs(self) -> int:
        return sum(v for k, v in self.by_category.items() if k != "other")

    @property
    def coverage(self) -> float:
        """Share of op invocations in the tier's scope that fvcore could count."""
        uncounted = sum(self.unsupported.values())
        total = self.counted_calls + uncounted
        return self.counted_calls / total if total else 1.0


def count_fvcore(model: nn.Module, inputs: tuple[torch.Tensor, ...], tier: str = "matmul") -> FvcoreCount:
    """Count MACs of ``model(*inputs)`` with fvcore and mubench's extra handles."""
    if tier not in TIERS:
        raise ValueError(f"unknown tier '{tier}'")
    calls: Counter = Counter()

    def counting(name: str, handle: Handle) -> Handle:
        def wrapped(inputs: list[Any], outputs: list[Any]) -> float:
            calls[name] += 1
            return handle(inputs, outputs)

        return wrapped

    analysis = JitModelAnalysis(model, inputs)
    analysis.tracer_warnings("none").unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    handles = {name: counting(name, h) for name, h in fvcore_handles(tier).items()}
    out_of_tier = [op for op in fvcore_handles("all") if op not in handles]
    analysis.set_op_handle(**handles).set_op_handle(**dict.fromkeys(FREE_OPS + tuple(out_of_tier)))
    analysis.set_op_handle(**dict.fromkeys(FREE_PYTHON_OPS, _free))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_operator = analysis.by_operator()
        by_module = analysis.by_module()
        unsupported = Counter(analysis.unsupported_ops())
    by_category = dict.fromkeys(CATEGORIES, 0)
    for op, macs in by_operator.items():
        by_category[CATEGORY_OF_FVCORE_OP.get(op, "other")] += int(macs)
    return FvcoreCount(
        macs=int(sum(by_operator.values())),
        by_category=by_category,
        by_module={k: int(v) for k, v in by_module.items()},
        counted_calls=sum(calls.values()),
        unsupported=unsupported,
    )


def _torch_sdpa_flops(query_shape, key_shape, value_shape, *args: Any, **kwargs: Any) -> int:
    *batch, lq, d = query_shape
    lk, dv = key_shape[-2], value_shape[-1]
    return 2 * math.prod(batch) * lq * lk * (d + dv)


@dataclass
class TorchCount:
    """FLOPs counted by ``torch.utils.flop_counter.FlopCounterMode`` for one call."""

    flops: int
    by_category: dict[str, int]  # FLOPs per category
    output_shape: tuple[int, ...] | None = None  # of the counted call's output (None: not a tensor)


def count_torch(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> TorchCount:
    """Count FLOPs of ``model(*inputs)`` with torch's counter (plus CPU flash attention, which it lacks)."""
    aten = torch.ops.aten
    custom = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        custom[aten._scaled_dot_product_flash_attention_for_cpu] = _torch_sdpa_flops
    counter = FlopCounterMode(display=False, custom_mapping=custom)
    with counter, torch.no_grad():
        out = model(*inputs)
    by_category = dict.fromkeys(CATEGORIES, 0)
    for op, flops in counter.get_flop_counts()["Global"].items():
        name = str(op).split(".")[1] if "." in str(op) else str(op)
        by_category[CATEGORY_OF_TORCH_OP.get(name, "other")] += int(flops)
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
    return TorchCount(flops=int(counter.get_total_flops()), by_category=by_category, output_shape=shape)
