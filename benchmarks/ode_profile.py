"""Where ode-u's batch-1 CPU time goes (issue 6): per-call times of both models, ode-u's operator profile,
the weight bytes each model reads per call, its ODE convolutions timed alone at batch 1 and 8 in both
memory formats and prepacked (--prepack), which kernels run them once ode-u is compiled, whether
inductor's ``freezing`` prepacks them (it does not under torch.compile in PyTorch 2.14), and what its
GroupNorm, step conditioning and Softplus cost against InstanceNorm, none and SiLU/ReLU.

    python benchmarks/ode_profile.py > results/cpu/ode_profile.txt

Every timing runs with the loaded libraries pre-faulted (again after each compilation), as mubench's own.

Best CPU mode of issue 6 (channels-last, fixed-step ODE loop), float32, 64x64, all cores.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile

from mubench.measure.prefault import prefault_libraries
from mubench.measure.prepack import PrepackedConv2d, prepack_convolutions
from mubench.measure.setup import build_model
from mubench.models.ode_block import ODEFunc, SolverConfig
from mubench.registry import get_model, get_spec
from mubench.results import environment

RESOLUTION = 64


def prepared(name: str) -> nn.Module:
    spec = get_spec(name)
    model = build_model(spec, solver=SolverConfig(backend="fixed") if spec.is_ode else None)
    return model.to(memory_format=torch.channels_last)


def ms_per_call(fn, calls: int = 20) -> float:
    begin = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - begin) / calls * 1e3


def round_robin_ms(
    models: dict[str, nn.Module], x: torch.Tensor, t: torch.Tensor, rounds: int
) -> dict[str, list[float]]:
    """ms per call of each model, 10 calls per sample, one sample of each per round (after 5 warm-up
    calls each), so that drift of the machine hits all alike."""
    for model in models.values():
        for _ in range(5):
            model(x, t)
    prefault_libraries()  # after the first calls, which compile and load new libraries
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            times[name].append(ms_per_call(lambda model=model: model(x, t), 10))
    return times


def weight_floats_per_call(model: nn.Module) -> int:
    """Parameters read by one call: an ODE function's convolution and norm weights once per evaluation
    (its step-embedding projection once per block), everything else once."""
    total = sum(p.numel() for p in model.parameters())
    for func in (m for m in model.modules() if isinstance(m, ODEFunc)):
        per_eval = sum(p.numel() for n, p in func.named_parameters() if not n.startswith("scale_shift"))
        total += per_eval * (func.nfe - 1)
    return total


def _conv_times(channels: int, side: int) -> list[float]:
    """Median ms of one 3x3 conv: batch 1 NCHW and channels-last (PyTorch's choice of kernel for each),
    batch 1 channels-last prepacked (--prepack), the same three at batch 8."""
    conv = nn.Conv2d(channels, channels, 3, padding=1).eval()
    conv_cl = copy.deepcopy(conv).to(memory_format=torch.channels_last)
    one, eight = torch.randn(1, channels, side, side), torch.randn(8, channels, side, side)
    one_cl, eight_cl = (x.contiguous(memory_format=torch.channels_last) for x in (one, eight))
    packed_one, packed_eight = (PrepackedConv2d(conv, x.shape) for x in (one, eight))
    calls = (partial(conv, one), partial(conv_cl, one_cl), partial(packed_one, one_cl), partial(conv, eight),
             partial(conv_cl, eight_cl), partial(packed_eight, eight_cl))  # fmt: skip
    for fn in calls:
        ms_per_call(fn, 10)  # warm-up
    return [statistics.median(ms_per_call(fn, 50) for _ in range(3)) for fn in calls]


def compiled_profile(x: torch.Tensor, t: torch.Tensor) -> None:
    """ode-u compiled (inductor defaults, channels-last): which kernel runs each convolution shape."""
    model = torch.compile(prepared("ode-u"))
    with torch.inference_mode():
        for _ in range(5):
            model(x, t)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(10):
                model(x, t)
    print("\n# ode-u compiled (inductor, channels-last), operators by input shape, 10 calls")
    table = prof.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total", row_limit=10, max_name_column_width=32, max_shapes_column_width=60
    )
    print(table)


CONV_OPS = ("aten::_slow_conv2d_forward", "aten::mkldnn_convolution", "mkldnn::_convolution_pointwise")


def freezing_check(x: torch.Tensor, t: torch.Tensor) -> None:
    """Which convolution kernels ode-u runs per call once compiled with inductor's ``freezing=True``
    (which should prepack its weights) and once prepacked by mubench (--prepack) and compiled."""
    print("\n# ode-u compiled, convolution kernels per call (channels-last, no_grad as freezing needs)")
    for label, prepack in (("freezing=True", False), ("--prepack", True)):
        model = prepared("ode-u")
        if prepack:
            prepack_convolutions(model, (x, t))
        compiled = torch.compile(model, options={"freezing": True} if not prepack else None)
        with torch.no_grad():
            compiled(x, t)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                compiled(x, t)
        counts = {e.key: e.count for e in prof.key_averages() if e.key in CONV_OPS}
        print(f"{label:>14}: " + ", ".join(f"{op} x{counts.get(op, 0)}" for op in CONV_OPS))


def with_activation(model: nn.Module, make: Callable[[], nn.Module]) -> nn.Module:
    """``model`` with every Softplus replaced by ``make()``: a what-if variant, not a registered model."""
    for parent in list(model.modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, nn.Softplus):
                parent._modules[name] = make()
    return model


def variants(x: torch.Tensor, t: torch.Tensor, rounds: int = 9) -> None:
    """ode-u against itself with InstanceNorm in its ODE functions (as the released code), without the
    step conditioning, and with SiLU (the baseline's activation) or ReLU in place of every Softplus: what
    its GroupNorm(8), its modulation and its activation cost once compiled (C++ wrapper, channels-last,
    prepacked), timed round-robin against lucid-unet in the same mode."""
    cases = {
        "ode-u (GroupNorm(8), conditioned)": ({}, None),
        "InstanceNorm, conditioned": ({"ode_norm": "instance"}, None),
        "GroupNorm(8), not conditioned": ({"time_conditioning": False}, None),
        "SiLU in place of Softplus": ({}, nn.SiLU),
        "ReLU in place of Softplus": ({}, nn.ReLU),
        "lucid-unet (baseline)": (None, None),
    }
    compiled = {}
    for label, (change, activation) in cases.items():
        torch.manual_seed(0)
        if change is None:
            model = get_model("lucid-unet")
        else:
            model = get_model("ode-u", solver=SolverConfig(backend="fixed"), **change)
        if activation is not None:
            with_activation(model, activation)
        model = model.to(memory_format=torch.channels_last)
        prepack_convolutions(model, (x, t))
        compiled[label] = torch.compile(model, options={"cpp_wrapper": True})
    with torch.inference_mode():
        times = round_robin_ms(compiled, x, t, rounds)
    print(
        f"\n# ode-u variants, compile(cpp_wrapper) + channels-last + prepack: median of {rounds} x 10 calls"
    )
    for label, samples in times.items():
        print(f"{label:>34}: {statistics.median(samples):.1f} ms")


def activation_costs() -> None:
    """us per call of each activation over one 32@64x64 state (ode-u's largest), eager and compiled."""
    a = torch.randn(1, 32, RESOLUTION, RESOLUTION).contiguous(memory_format=torch.channels_last)
    print(f"\n# activation over {a.numel():,} elements (channels-last, cache-hot): us per call")
    with torch.inference_mode():
        for name, fn in (("softplus", F.softplus), ("silu", F.silu), ("relu", F.relu)):
            row = []
            for run in (fn, torch.compile(fn)):
                run(a)
                prefault_libraries()
                row.append(statistics.median(ms_per_call(lambda run=run: run(a), 200) for _ in range(3)))
            print(f"{name:>9}: eager {row[0] * 1e3:6.0f}  compiled {row[1] * 1e3:6.0f}")


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 3, RESOLUTION, RESOLUTION).contiguous(memory_format=torch.channels_last)
    t = torch.tensor([500])
    models = {name: prepared(name) for name in ("lucid-unet", "ode-u")}
    env = environment("cpu")
    report = prefault_libraries()  # again after every compilation (round_robin_ms, activation_costs)
    print(f"# loaded libraries pre-faulted: {report.pages * 4096 / 2**20:,.0f} MiB in {report.seconds:.2f} s "
          f"({report.method})")  # fmt: skip
    print(f"# {env['device_name']}, torch {env['torch_version']}, {env['num_threads']} threads; "
          f"channels-last, fixed-step ODE loop, fp32, batch 1, {RESOLUTION}x{RESOLUTION}")  # fmt: skip
    with torch.inference_mode():
        times = round_robin_ms(models, x, t, 5)
        for name in models:
            print(f"{name}: median {statistics.median(times[name]):.1f} ms per call over 5 x 10 calls")
        ode = models["ode-u"]
        for func in (m for m in ode.modules() if isinstance(m, ODEFunc)):
            func.nfe = 0
        ode(x, t)
        for name, model in models.items():
            floats = weight_floats_per_call(model)
            print(f"{name}: weights read per call {floats:,} floats = {floats * 4 / 1e6:.1f} MB")
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(10):
                ode(x, t)
    print("\n# ode-u operators, 10 calls")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=32))
    print("# one ODE-function convolution (3x3, c -> c) alone: ms per call")
    heads = ("b1 NCHW", "b1 NHWC", "b1 packed", "b8 NCHW", "b8 NHWC", "b8 packed")
    print(f"{'channels@side':>14}" + "".join(f"{h:>11}" for h in heads))
    with torch.no_grad():
        for channels, side in ((32, 64), (64, 32), (128, 16), (256, 8), (512, 4)):
            print(f"{channels:>9}@{side:<4} " + "".join(f"{ms:>11.3f}" for ms in _conv_times(channels, side)))
    compiled_profile(x, t)
    freezing_check(x, t)
    variants(x, t)
    activation_costs()


if __name__ == "__main__":
    main()
