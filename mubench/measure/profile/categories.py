"""Operator categories: which kind of work an operator (or a fused inductor kernel) does.

Names are accepted as the profiler writes them (``aten::convolution``, ``mkldnn::_convolution_pointwise``),
as dispatch packets (``aten.convolution``, ``aten.add_.Tensor``) and as inductor kernels
(``graph_3_cpp_fused_native_group_norm_softplus_0``, ``triton_poi_fused_add_silu_2``). A fused kernel
goes to the heaviest category among the operators its name lists (:data:`PRIORITY`), except that a convolution
or matmul named by a kernel that is not a template (``triton_tem_``) is only its fused epilogue (bias):
the convolution itself runs as its own (extern) operator. A kernel whose name lists no known operator
goes to :data:`OTHER`.
"""

from __future__ import annotations

import re

CONVOLUTION = "convolution"
MATMUL = "matmul/attention"
NORMALISATION = "normalisation"
ACTIVATION = "activation"  # written with the activation's name: "activation Softplus"
RESAMPLING = "resampling"
ELEMENTWISE = "elementwise/solver arithmetic"
COPIES = "copies/layout"
FRAMEWORK = "python/framework"  # time between operators: Python, module calls, compiled-region wrappers
OTHER = "other"
# Fixed display order; activations take their place, one category per activation.
ORDER = (CONVOLUTION, MATMUL, NORMALISATION, ACTIVATION, RESAMPLING, ELEMENTWISE, COPIES, FRAMEWORK, OTHER)
# A fused kernel's time goes to the first of these among its operators.
PRIORITY = (CONVOLUTION, MATMUL, NORMALISATION, ACTIVATION, RESAMPLING, ELEMENTWISE, COPIES)

ACTIVATIONS = {
    "softplus": "Softplus", "silu": "SiLU", "relu": "ReLU", "relu6": "ReLU6", "gelu": "GELU",
    "sigmoid": "Sigmoid", "tanh": "Tanh", "mish": "Mish", "elu": "ELU", "selu": "SELU", "celu": "CELU",
    "leaky_relu": "LeakyReLU", "hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid",
    "hardtanh": "Hardtanh", "softsign": "Softsign", "log_sigmoid_forward": "LogSigmoid", "prelu": "PReLU",
    "glu": "GLU",
}  # fmt: skip
_OPS = {
    CONVOLUTION: (
        "convolution", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
        "conv_transpose3d", "mkldnn_convolution", "slow_conv2d_forward", "thnn_conv2d", "slow_conv3d",
        "slow_conv_dilated2d", "slow_conv_transpose2d", "cudnn_convolution", "cudnn_convolution_transpose",
        "convolution_pointwise", "convolution_pointwise_binary", "convolution_overrideable",
        "nnpack_spatial_convolution", "miopen_convolution", "conv_depthwise2d",
        "convolution_transpose_pointwise", "nnpack_available",
    ),
    MATMUL: (
        "mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "einsum", "mv", "addmv", "dot", "tensordot",
        "softmax", "log_softmax", "safe_softmax", "scaled_dot_product_attention",
        "scaled_dot_product_flash_attention", "scaled_dot_product_flash_attention_for_cpu",
        "scaled_dot_product_efficient_attention", "scaled_dot_product_cudnn_attention",
        "flash_attention_forward", "efficient_attention_forward", "linear_pointwise", "mkldnn_linear",
        "int_mm", "scaled_mm", "scaled_dot_product_attention_math",
    ),
    NORMALISATION: (
        "group_norm", "native_group_norm", "layer_norm", "native_layer_norm", "batch_norm",
        "native_batch_norm", "batch_norm_impl_index", "native_batch_norm_legit",
        "native_batch_norm_legit_no_training", "instance_norm", "rms_norm", "fused_rms_norm",
        "cudnn_batch_norm", "miopen_batch_norm", "local_response_norm", "norm", "linalg_vector_norm",
        "renorm",
    ),
    RESAMPLING: (
        "upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d", "upsample_bilinear2d",
        "upsample_bicubic2d", "upsample_linear1d", "upsample_trilinear3d", "upsample_nearest_exact2d",
        "unsafe_upsample_bilinear2d_aa", "upsample_bilinear2d_aa", "avg_pool1d", "avg_pool2d",
        "avg_pool3d", "max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices",
        "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool2d",
        "pixel_shuffle", "pixel_unshuffle", "grid_sampler_2d", "interpolate", "unsafe_index",
        "mkldnn_adaptive_avg_pool2d", "low_memory_max_pool2d_with_offsets",
    ),
    ELEMENTWISE: (
        "add", "sub", "rsub", "mul", "div", "neg", "abs", "exp", "exp2", "expm1", "log", "log1p", "log2",
        "sqrt", "rsqrt", "pow", "reciprocal", "sin", "cos", "tan", "sign", "clamp", "clamp_min",
        "clamp_max", "clip", "where", "maximum", "minimum", "max", "min", "sum", "mean", "var", "std",
        "var_mean", "prod", "addcmul", "addcdiv", "lerp", "floor", "ceil", "round", "trunc", "fmod",
        "remainder", "erf", "square", "amax", "amin", "all", "any", "eq", "ne", "lt", "le", "gt", "ge",
        "logical_and", "logical_or", "logical_not", "isnan", "isinf", "isfinite", "nan_to_num",
        "cumsum", "argmax", "argmin", "masked_fill", "bitwise_and", "bitwise_or", "floor_divide",
        "true_divide", "linspace", "arange", "full", "ones", "zeros", "ones_like", "zeros_like",
        "full_like", "fill", "zero", "scalar_tensor", "randn", "rand", "normal", "uniform", "item",
        "local_scalar_dense", "is_nonzero", "equal", "allclose", "isclose", "copysign", "hypot",
        "atan2", "sigmoid_backward", "isneginf", "isposinf", "lift_fresh", "dropout", "native_dropout",
        "feature_dropout",
    ),
    COPIES: (
        "copy", "clone", "contiguous", "to", "to_copy", "cat", "stack", "permute", "view", "reshape",
        "reshape_alias", "unsafe_view", "transpose", "t", "expand", "expand_as", "as_strided", "slice",
        "select", "unsqueeze", "squeeze", "flatten", "unflatten", "narrow", "split", "split_with_sizes",
        "chunk", "unbind", "index", "index_select", "gather", "scatter", "index_put", "constant_pad_nd",
        "pad", "reflection_pad2d", "replication_pad2d", "empty", "empty_like", "empty_strided",
        "new_empty", "new_empty_strided", "new_zeros", "new_ones", "resize", "detach", "alias",
        "repeat", "repeat_interleave", "roll", "flip", "tile", "movedim", "type_as", "view_as",
        "broadcast_to", "unfold", "im2col", "col2im", "mkldnn_reorder_conv2d_weight", "to_mkldnn",
        "to_dense", "set", "resolve_conj", "resolve_neg", "align_tensors", "tensor_split", "narrow_copy",
        "channel_shuffle",
    ),
}  # fmt: skip
_CATEGORY = {op: category for category, ops in _OPS.items() for op in ops}
_CATEGORY.update({op: f"{ACTIVATION} {name}" for op, name in ACTIVATIONS.items()})
# Profiler annotations whose self time is Python and framework work, not an operator's.
_FRAMEWORK = (
    "mubench::call", "torch-compiled region", "torchdynamo cache lookup", "## call compiledfxgraph",
    "aotdispatcher", "pregraph bytecode", "compiledfunction", "cudagraphs", "profilerstep",
    "## enter", "## exit", "inductor", "autograd::", "cudalaunchkernel", "cudastreamsynchronize",
    "cudadevicesynchronize", "cudamemcpyasync", "cudamemsetasync", "cudaeventrecord",
)  # fmt: skip
# Operators that inductor runs as their own (extern) kernels unless it generates a template for them.
_EXTERN = {
    *_OPS[CONVOLUTION],
    *("mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "einsum", "mv", "addmv", "dot"),
}
# The C++ wrapper's shims (cpp_wrapper) call extern operators as aoti_torch_cpu_mkldnn__convolution_pointwise.
_SHIM = re.compile(r"^aoti_torch_[a-z]+_(?:(?:aten|mkldnn|quantized)_)?(.*?)(?:_out)?_*$")
_FUSED = re.compile(r"(?:^|_)(?:cpp|triton_[a-z]+|cuda)_fused_(.*?)(?:_\d+)?$")
_GRAPH_PREFIX = re.compile(r"^graph_\d+_")
_LONGEST_OP = max(len(op.split("_")) for op in [*_CATEGORY, *ACTIVATIONS])


def base_name(op: str) -> str:
    """``aten::add_`` / ``aten.add_.Tensor`` / ``mkldnn::_convolution_pointwise`` /
    ``aoti_torch_cpu_bmm_out`` -> ``add`` / ``convolution_pointwise`` / ``bmm``: the operator without
    namespace, overload, shim prefix, and in-place, out or private marks."""
    name = op.strip()
    shim = _SHIM.match(name.lower())
    if shim is not None:
        return shim[1].strip("_")
    if "::" in name:
        name = name.split("::", 1)[1]
    elif "." in name:
        parts = name.split(".")
        name = parts[1] if len(parts) > 1 else parts[0]
    return name.strip("_").lower()


def is_activation(category: str) -> bool:
    return category.startswith(ACTIVATION + " ")


def category_of(name: str) -> str:
    """The category of an operator, profiler annotation or fused kernel, by its name."""
    lowered = name.strip().lower()
    if lowered.startswith(_FRAMEWORK):
        return FRAMEWORK
    fused = fused_category(name)
    if fused is not None:
        return fused
    return _CATEGORY.get(base_name(name), OTHER)


def fused_ops(kernel: str) -> list[str] | None:
    """The operators an inductor kernel's name lists (``cpp_fused_add_softplus_3`` -> [add, softplus]),
    known ones only; None when the name is not a fused kernel's."""
    found = _FUSED.search(_GRAPH_PREFIX.sub("", kernel.strip().lower()))
    if found is None:
        return None
    tokens = [t for t in found[1].split("_") if t]
    ops, i = [], 0
    while i < len(tokens):  # operator names hold underscores: take the longest known one at each place
        for width in range(min(_LONGEST_OP, len(tokens) - i), 0, -1):
            candidate = "_".join(tokens[i : i + width])
            if candidate in _CATEGORY:
                ops.append(candidate)
                i += width
                break
        else:
            i += 1
    return ops


def fused_category(kernel: str) -> str | None:
    """The category an inductor kernel's time goes to: the heaviest among the operators it fuses
    (:data:`OTHER` when none of them is known); None when the name is not a fused kernel's."""
    ops = fused_ops(kernel)
    if ops is None:
        return None
    categories = [_CATEGORY[op] for op in ops]
    if "_tem_" not in kernel.lower():  # not a template: a convolution or matmul it names is its epilogue
        light = [_CATEGORY[op] for op in ops if op not in _EXTERN]
        categories = light or categories
    for wanted in PRIORITY:
        for category in categories:
            if category == wanted or (wanted == ACTIVATION and is_activation(category)):
                return category
    return OTHER


def kernel_category(kernel: str) -> str:
    """The category of a GPU kernel by its name alone, where the operator that launched it is not
    known (inductor's Triton kernels, library kernels): fused names first, then library names."""
    fused = fused_category(kernel)
    if fused is not None:
        return fused
    lowered = kernel.lower()
    for op, name in ACTIVATIONS.items():  # at::native's softplus_kernel, silu_kernel...
        if re.search(rf"\b{op}(_kernel|_forward|\b)", lowered):
            return f"{ACTIVATION} {name}"
    for words, category in (
        (("memcpy", "memset", "copy", "transpose", "cat"), COPIES),
        (("conv", "implicit_gemm", "winograd", "fft"), CONVOLUTION),
        (("gemm", "gemv", "xmma", "cutlass", "flash", "fmha", "attention", "softmax"), MATMUL),
        (("norm",), NORMALISATION),
        (("upsample", "pool", "interpolate"), RESAMPLING),
        (("elementwise", "reduce"), ELEMENTWISE),
    ):
        if any(word in lowered for word in words):
            return category
    return OTHER


def order_key(category: str) -> tuple[int, str]:
    """Sort key: the fixed :data:`ORDER`, activations together in the activation slot."""
    slot = ACTIVATION if is_activation(category) else category
    return (ORDER.index(slot) if slot in ORDER else len(ORDER), category)
