"""What-if variants of ode-u on the CPU: what its GroupNorm, its step conditioning and its
Softplus cost, against InstanceNorm (as the authors' released code), no conditioning, and SiLU (the
baseline's activation) or ReLU in place of every Softplus. Each variant is timed round-robin against
lucid-unet in the best CPU mode found by benchmarks/ode_speed.py (compiled with the C++ wrapper,
channels-last, prepacked, fixed-step ODE loop), then profiled by operator category with
`mubench profile`'s own functions.

    python benchmarks/ode_profile.py > results/cpu/ode_variants.txt

Where a registered model's time goes needs no script: ``mubench profile -m ode-u -m lucid-unet ...``.
Every timing runs with the loaded libraries pre-faulted (again after each compilation), as mubench's own.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from mubench.measure.counting.traffic import op_costs
from mubench.measure.profile.categories import order_key
from mubench.measure.profile.profiler import category_shares, named_cpu_kernels, profile_calls
from mubench.measure.runtime.prefault import prefault_libraries
from mubench.measure.runtime.prepack import prepack_convolutions
from mubench.models.solver_config import SolverConfig
from mubench.registry import get_model
from mubench.results import environment

RESOLUTION = 64
ROUNDS = 9  # round-robin samples of 10 calls each
PROFILED_CALLS = 10
CASES = {  # label: (ode-u's overrides, or None for the baseline; activation in place of Softplus)
    "ode-u (GroupNorm(8), conditioned)": ({}, None),
    "InstanceNorm, conditioned": ({"ode_norm": "instance"}, None),
    "GroupNorm(8), not conditioned": ({"time_conditioning": False}, None),
    "SiLU in place of Softplus": ({}, nn.SiLU),
    "ReLU in place of Softplus": ({}, nn.ReLU),
    "lucid-unet (baseline)": (None, None),
}
SHORT = ("ode-u", "InstanceNorm", "not conditioned", "SiLU", "ReLU", "lucid-unet")  # column heads


def with_activation(model: nn.Module, make: Callable[[], nn.Module]) -> nn.Module:
    """``model`` with every Softplus replaced by ``make()``: a what-if variant, not a registered model."""
    for parent in list(model.modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, nn.Softplus):
                parent._modules[name] = make()
    return model


def variant(label: str) -> nn.Module:
    change, activation = CASES[label]
    torch.manual_seed(0)
    model = (
        get_model("lucid-unet")
        if change is None
        else get_model("ode-u", solver=SolverConfig(backend="fixed"), **change)
    )
    if activation is not None:
        with_activation(model, activation)
    return model.eval().to(memory_format=torch.channels_last)


def ms_per_call(fn: Callable[[], object], calls: int) -> float:
    begin = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - begin) / calls * 1e3


def main() -> None:
    x = torch.randn(1, 3, RESOLUTION, RESOLUTION, generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=torch.channels_last)
    t = torch.tensor([500])
    env = environment("cpu")
    mode = "compile(cpp_wrapper) + channels-last + prepack, fixed-step ODE loop"
    print(f"# {env['device_name']}, torch {env['torch_version']}, {env['num_threads']} threads; fp32, "
          f"batch 1, {RESOLUTION}x{RESOLUTION}; {mode}")  # fmt: skip
    eager, compiled = {}, {}
    with torch.inference_mode():
        for label in CASES:
            eager[label] = variant(label)
            prepack_convolutions(eager[label], (x, t))
            with named_cpu_kernels():
                compiled[label] = torch.compile(eager[label], options={"cpp_wrapper": True})
                for _ in range(5):
                    compiled[label](x, t)
        report = prefault_libraries()  # after compiling, which loads new libraries
        mib = report.pages * 4096 / 2**20
        print(f"# loaded libraries pre-faulted: {mib:,.0f} MiB in {report.seconds:.2f} s")
        times: dict[str, list[float]] = {label: [] for label in CASES}
        for _ in range(ROUNDS):
            for label, model in compiled.items():
                times[label].append(ms_per_call(lambda model=model: model(x, t), 10))
        print(f"\n# median of {ROUNDS} x 10 calls, round-robin")
        for label, samples in times.items():
            print(f"{label:>34}: {statistics.median(samples):.1f} ms")
        shares = {}
        for label, model in compiled.items():
            costs = op_costs(lambda label=label: eager[label](x, t))  # unfused counts of the eager variant
            profile = profile_calls(lambda model=model: model(x, t), PROFILED_CALLS, torch.device("cpu"))
            shares[label] = {s.category: s for s in category_shares(profile, costs)}
    categories = sorted({c for by in shares.values() for c in by}, key=order_key)
    print(f"\n# ms per call by operator category (torch.profiler, {PROFILED_CALLS} calls; share of bytes)")
    print(f"{'category':>30}" + "".join(f"{name:>22}" for name in SHORT))
    for category in categories:
        cells = []
        for label in CASES:
            s = shares[label].get(category)
            bytes_share = "-" if s is None or s.bytes_share is None else f"{s.bytes_share:.0%}"
            cells.append("-" if s is None else f"{s.ms:8.2f} ({bytes_share:>4})")
        print(f"{category:>30}" + "".join(f"{cell:>22}" for cell in cells))


if __name__ == "__main__":
    main()
