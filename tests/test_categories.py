"""The operator categories of `mubench profile`: profiler names, dispatch packets and fused kernels."""

from __future__ import annotations

import pytest

from mubench.measure import categories as cat
from mubench.measure.op_profile import OpTime, Profile, category_shares
from mubench.measure.traffic import OpCost

KNOWN = [
    ("aten::_slow_conv2d_forward", cat.CONVOLUTION),
    ("aten::mkldnn_convolution", cat.CONVOLUTION),
    ("mkldnn::_convolution_pointwise", cat.CONVOLUTION),
    ("aten.convolution", cat.CONVOLUTION),
    ("aten.convolution.default", cat.CONVOLUTION),
    ("aten::addmm", cat.MATMUL),
    ("aten.bmm", cat.MATMUL),
    ("aten::_softmax", cat.MATMUL),
    ("aten::_scaled_dot_product_flash_attention_for_cpu", cat.MATMUL),
    ("aten::native_group_norm", cat.NORMALISATION),
    ("aten.native_layer_norm", cat.NORMALISATION),
    ("aten::softplus", "activation Softplus"),
    ("aten.silu.default", "activation SiLU"),
    ("aten::silu_", "activation SiLU"),
    ("aten::gelu", "activation GELU"),
    ("aten::upsample_nearest2d", cat.RESAMPLING),
    ("aten.upsample_bilinear2d.vec", cat.RESAMPLING),
    ("aten::avg_pool2d", cat.RESAMPLING),
    ("aten::add_", cat.ELEMENTWISE),
    ("aten.add.Tensor", cat.ELEMENTWISE),
    ("aten::mul", cat.ELEMENTWISE),
    ("aten::linspace", cat.ELEMENTWISE),
    ("aten::copy_", cat.COPIES),
    ("aten._to_copy", cat.COPIES),
    ("aten::cat", cat.COPIES),
    ("aten::empty_strided", cat.COPIES),
    ("aoti_torch_cpu_mkldnn__convolution_pointwise", cat.CONVOLUTION),  # the C++ wrapper's shims
    ("aoti_torch_cpu_mkldnn__convolution_pointwise_binary_", cat.CONVOLUTION),
    ("aoti_torch_cpu_bmm_out", cat.MATMUL),
    ("aoti_torch_cuda_addmm_out", cat.MATMUL),
    ("aoti_torch_cpu__scaled_dot_product_flash_attention_for_cpu", cat.MATMUL),
    ("mubench::call", cat.FRAMEWORK),
    ("Torch-Compiled Region: 13/0", cat.FRAMEWORK),
    ("TorchDynamo Cache Lookup", cat.FRAMEWORK),
    ("## Call CompiledFxGraph fdwi34j5d37mnbwcuz ##", cat.FRAMEWORK),
    ("aten::some_new_op", cat.OTHER),
    ("my_library::kernel", cat.OTHER),
]


@pytest.mark.parametrize(("name", "category"), KNOWN, ids=[n for n, _ in KNOWN])
def test_known_operators_have_their_category(name, category):
    assert cat.category_of(name) == category


FUSED = [
    ("graph_13_cpp_fused_add_mul_native_group_norm_softplus_sub_0",
     ["add", "mul", "native_group_norm", "softplus", "sub"], cat.NORMALISATION),
    ("graph_14_cpp_fused__to_copy__unsafe_index_add_arange_clamp_mul_sub_view_0",
     ["to_copy", "unsafe_index", "add", "arange", "clamp", "mul", "sub", "view"], cat.RESAMPLING),
    ("cpp_fused_softplus_3", ["softplus"], "activation Softplus"),
    ("triton_poi_fused_add_silu_2", ["add", "silu"], "activation SiLU"),
    ("triton_red_fused_native_group_norm_0", ["native_group_norm"], cat.NORMALISATION),
    ("triton_tem_fused_convolution_relu_1", ["convolution", "relu"], cat.CONVOLUTION),
    ("graph_0_cpp_fused_convolution_silu_1", ["convolution", "silu"], "activation SiLU"),  # bias epilogue
    ("cpp_fused_addmm_0", ["addmm"], cat.MATMUL),
    ("graph_0_cpp_fused__softmax_mul_permute_split_view_10", ["softmax", "mul", "permute", "split", "view"],
     cat.MATMUL),  # a softmax is the attention's own work, not an epilogue
    ("cpp_fused_mystery_thing_7", [], cat.OTHER),
]  # fmt: skip


@pytest.mark.parametrize(("kernel", "ops", "category"), FUSED, ids=[k for k, _, _ in FUSED])
def test_a_fused_kernel_goes_to_the_heaviest_category_its_name_lists(kernel, ops, category):
    assert cat.fused_ops(kernel) == ops
    assert cat.category_of(kernel) == category


def test_names_that_are_not_fused_kernels():
    assert cat.fused_ops("aten::add") is None
    assert cat.fused_category("aten::convolution") is None


@pytest.mark.parametrize(
    ("kernel", "category"),
    [("sm90_xmma_gemm_f32f32_tf32f32_f32_nn_n", cat.MATMUL), ("Memcpy DtoD (Device -> Device)", cat.COPIES),
     ("void cudnn::cnn::conv2d_grouped_direct_kernel", cat.CONVOLUTION),
     ("void at::native::elementwise_kernel<128, 2>", cat.ELEMENTWISE),
     ("triton_poi_fused_softplus_0", "activation Softplus"), ("mystery", cat.OTHER),
     ("void at::native::vectorized_elementwise_kernel<4, at::native::softplus_kernel(...)>",
      "activation Softplus")],
)  # fmt: skip
def test_gpu_kernels_without_a_known_operator_go_by_their_names(kernel, category):
    assert cat.kernel_category(kernel) == category


def test_categories_sort_in_the_fixed_order_activations_in_their_slot():
    names = [cat.OTHER, "activation SiLU", cat.COPIES, cat.CONVOLUTION, "activation GELU", cat.FRAMEWORK]
    assert sorted(names, key=cat.order_key) == [
        cat.CONVOLUTION, "activation GELU", "activation SiLU", cat.COPIES, cat.FRAMEWORK, cat.OTHER,
    ]  # fmt: skip


def test_category_shares_sum_time_flops_and_bytes_per_category():
    ops = (
        OpTime("aten::mkldnn_convolution", cat.CONVOLUTION, 6.0, 4.0),
        OpTime("aten::convolution", cat.CONVOLUTION, 1.0, 4.0),
        OpTime("aten::softplus", "activation Softplus", 2.0, 2.0),
        OpTime("mubench::call", cat.FRAMEWORK, 1.0, 1.0),
    )
    costs = {
        "aten.convolution": OpCost(4, 900, 300),
        "aten.softplus": OpCost(2, 0, 200),
        "aten.add": OpCost(3, 0, 500),  # counted but not profiled (fused away, say)
    }
    shares = {s.category: s for s in category_shares(Profile(10.5, 5, "self CPU time", ops), costs)}
    assert list(shares) == [cat.CONVOLUTION, "activation Softplus", cat.ELEMENTWISE, cat.FRAMEWORK]
    conv = shares[cat.CONVOLUTION]
    assert (conv.ms, conv.op_calls, conv.time_share) == (7.0, 8.0, 0.7)
    assert (conv.flops, conv.bytes, conv.flops_share, conv.bytes_share) == (900, 300, 1.0, 0.3)
    assert [op.name for op in conv.top_ops] == ["aten::mkldnn_convolution", "aten::convolution"]
    assert shares[cat.ELEMENTWISE].ms == 0.0 and shares[cat.ELEMENTWISE].bytes_share == 0.5
    assert shares[cat.FRAMEWORK].flops_share == 0.0 and shares[cat.FRAMEWORK].time_share == 0.1
    assert sum(s.time_share for s in shares.values()) == pytest.approx(1.0)


def test_gpu_kernels_go_to_the_operator_that_launched_them_and_idle_time_to_the_host():
    """The CUDA path's attribution, on events shaped as torch.profiler's (no GPU needed)."""
    from types import SimpleNamespace as Event

    from mubench.measure.op_profile import DEVICE_IDLE, _kernel_times

    def kernel(name: str, us: float) -> Event:
        return Event(name=name, duration=us)

    call = Event(name="mubench::call", kernels=[], cpu_parent=None)
    conv = Event(name="aten::cudnn_convolution", kernels=[], cpu_parent=call)
    launch = Event(name="cudaLaunchKernel", kernels=[kernel("sm90_xmma_fprop", 3000.0)], cpu_parent=conv)
    softplus = Event(name="aten::softplus", kernels=[kernel("vectorized_elementwise_kernel", 1000.0)],
                     cpu_parent=call)  # fmt: skip
    fused = kernel("triton_poi_fused_add_silu_0", 500.0)  # launched from Python, inside a compiled graph
    graph = Event(name="## Call CompiledFxGraph abc ##", kernels=[fused], cpu_parent=call)
    prof = Event(events=lambda: [call, conv, launch, softplus, graph])
    ops = {(op.name, op.category): op for op in _kernel_times(prof, calls=2, wall_ms=5.0)}
    assert ops["aten::cudnn_convolution", cat.CONVOLUTION].ms == 1.5  # 3 ms over 2 calls
    assert ops["aten::softplus", "activation Softplus"].ms == 0.5
    assert ops["triton_poi_fused_add_silu_0", "activation SiLU"].ms == 0.25
    assert ops[DEVICE_IDLE, cat.FRAMEWORK].ms == 5.0 - 2.25
