"""The operator categories of `mubench profile`: profiler names, dispatch packets and fused kernels."""

from __future__ import annotations

import pytest

from mubench.measure.counting.traffic import OpCost
from mubench.measure.profile import categories as cat
from mubench.measure.profile.profiler import OpTime, Profile, category_shares

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

    from mubench.measure.profile.profiler import DEVICE_IDLE, Kernel, attribute_kernels

    call = Event(name="mubench::call", cpu_parent=None)
    conv = Event(name="aten::cudnn_convolution", cpu_parent=call)
    launch = Event(name="cudaLaunchKernel", cpu_parent=conv)
    softplus = Event(name="aten::softplus", cpu_parent=call)
    graph = Event(name="## Call CompiledFxGraph abc ##", cpu_parent=call)
    ms = 1_000_000  # ns
    kernels = [
        Kernel("sm90_xmma_fprop", 0, 3 * ms, launch),
        Kernel("vectorized_elementwise_kernel", 3 * ms, 4 * ms, softplus),
        Kernel("triton_poi_fused_add_silu_0", 4 * ms, int(4.5 * ms), graph),  # launched from Python
    ]
    ops = {(op.name, op.category): op for op in attribute_kernels(kernels, calls=2, wall_ms=5.0)}
    assert ops["aten::cudnn_convolution", cat.CONVOLUTION].ms == 1.5  # 3 ms over 2 calls
    assert ops["aten::softplus", "activation Softplus"].ms == 0.5
    assert ops["triton_poi_fused_add_silu_0", "activation SiLU"].ms == 0.25
    assert ops[DEVICE_IDLE, cat.FRAMEWORK].ms == 5.0 - 2.25


def test_overlapping_gpu_kernels_count_each_moment_once():
    """A kernel that starts before an earlier one ends (another stream: cuDNN's FFT convolutions use
    a second) counts from that end: the categories never sum to more than the device was busy."""
    from types import SimpleNamespace as Event

    from mubench.measure.profile.profiler import DEVICE_IDLE, Kernel, attribute_kernels

    conv = Event(name="aten::cudnn_convolution", cpu_parent=None)
    add = Event(name="aten::add", cpu_parent=None)
    ms = 1_000_000
    kernels = [
        Kernel("implicit_gemm", 0, 4 * ms, conv),
        Kernel("elementwise_kernel", 1 * ms, 5 * ms, add),  # waited 3 ms inside for the convolution
        Kernel("elementwise_kernel", 2 * ms, 3 * ms, add),  # wholly inside: nothing of its own
    ]
    ops = {op.name: op for op in attribute_kernels(kernels, calls=1, wall_ms=6.0)}
    assert ops["aten::cudnn_convolution"].ms == 4.0
    assert ops["aten::add"].ms == 1.0 and ops["aten::add"].calls == 2
    assert ops[DEVICE_IDLE].ms == 1.0
    assert sum(op.ms for op in ops.values()) == 6.0


@pytest.mark.parametrize("full_first", [False, True])
def test_device_kernels_are_read_with_their_times_and_launchers(full_first):
    """The raw profiler events give each kernel's times; the operator is the event its launch links to,
    whichever comes first of it and a host event that shares its id."""
    from types import SimpleNamespace as Event

    from torch.autograd import DeviceType

    from mubench.measure.profile.profiler import device_kernels

    def raw(name, device, start, duration, linked, annotation=False):
        return Event(name=lambda: name, device_type=lambda: device, start_ns=lambda: start,
                     duration_ns=lambda: duration, linked_correlation_id=lambda: linked,
                     is_user_annotation=lambda: annotation)  # fmt: skip

    conv = Event(id=7, name="aten::cudnn_convolution", kernels=[("k", 0, 3.0)], cpu_parent=None)
    full = Event(id=7, name="Command Buffer Full", kernels=[("k", 0, 3.0)], cpu_parent=None)  # same id
    host = Event(id=9, name="mubench::call", kernels=[], cpu_parent=None)
    events = [
        raw("aten::cudnn_convolution", DeviceType.CPU, 0, 10, 0),
        raw("implicit_gemm", DeviceType.CUDA, 100, 3000, 7),
        raw("triton_poi_fused_0", DeviceType.CUDA, 3100, 500, 42),  # launcher not among the events
        raw("mubench::call", DeviceType.CUDA, 0, 9000, 9, annotation=True),
    ]
    kineto = Event(kineto_results=Event(events=lambda: events))
    host_events = [full, conv, host] if full_first else [conv, full, host]
    prof = Event(events=lambda: host_events, profiler=kineto)
    found = device_kernels(prof)
    assert [(k.name, k.start_ns, k.end_ns) for k in found] == [
        ("implicit_gemm", 100, 3100), ("triton_poi_fused_0", 3100, 3600),
    ]  # fmt: skip
    assert found[0].launcher is conv and found[1].launcher is None


def test_kernel_names_are_shortened_to_the_function():
    from mubench.measure.profile.profiler import short_kernel_name

    signature = ("void at::native::(anonymous namespace)::upsample_bilinear2d_out_frame<float, float>(int, "
                 "float, float, bool, at::GenericPackedTensorAccessor<float const, 4ul>)")  # fmt: skip
    assert short_kernel_name(signature) == "at::native::upsample_bilinear2d_out_frame"
    assert short_kernel_name("triton_poi_fused_add_silu_0") == "triton_poi_fused_add_silu_0"
    assert short_kernel_name("sm90_xmma_fprop_implicit_gemm_f32f32_tf32f32_f32_nhwckrsc_nhwc") == (
        "sm90_xmma_fprop_implicit_gemm_f32f32_tf32f32_f32_nhwckrsc_nhwc"
    )
