"""Where one denoiser call's time goes: ``torch.profiler`` over several calls, each operator's time per
call, summed by category (:mod:`mubench.measure.categories`) beside its share of FLOPs and bytes.

CPU: each operator's self CPU time (the time in it, not in the operators it calls); every call runs
inside a ``mubench::call`` annotation whose self time is the Python and framework work between
operators. CUDA: each kernel's device time, attributed to the operator that launched it (else named by
the kernel); the wall time no kernel ran is the device waiting on the host (Python, launches).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from mubench.measure import categories as cat
from mubench.measure.traffic import OpCost

CALL_ANNOTATION = "mubench::call"
DEVICE_IDLE = "(device idle: waiting on the host)"
TOP_OPS = 3  # operators named per category


@dataclass(frozen=True)
class OpTime:
    """One operator (or kernel, or annotation) of a profile: its time and invocations per call."""

    name: str
    category: str
    ms: float
    calls: float


@dataclass(frozen=True)
class Profile:
    call_ms: float  # wall-clock time per profiled call (profiler on)
    calls: int  # calls profiled
    source: str  # "self CPU time" or "CUDA kernel time"
    ops: tuple[OpTime, ...]  # most time first

    @property
    def ops_ms(self) -> float:
        """The time the profile attributes per call: the sum over its operators."""
        return sum(op.ms for op in self.ops)


@dataclass(frozen=True)
class CategoryShare:
    """One category of a profile: its time per call and its shares of the call's time, FLOPs and bytes."""

    category: str
    ms: float
    op_calls: float
    time_share: float
    flops: int
    bytes: int
    flops_share: float | None  # None when the call counts no FLOPs (bytes: none moved)
    bytes_share: float | None
    top_ops: tuple[OpTime, ...]


@contextmanager
def named_cpu_kernels() -> Iterator[None]:
    """Inductor's C++ kernels named in the profiler (``cpp_fused_add_softplus_3``) while compiling
    inside; without it their time would be the compiled region's, unattributed."""
    import torch._inductor.config as inductor_config

    with inductor_config.patch({"cpp.enable_kernel_profile": True}):
        yield


def profile_calls(call: Callable[[], object], calls: int, device: torch.device) -> Profile:
    """Profile ``calls`` calls of ``call()`` (warmed up before) on ``device``."""
    from torch.profiler import ProfilerActivity, profile, record_function

    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    # The first session and annotation of a process set themselves up: a call that is not timed.
    with profile(activities=activities), record_function(CALL_ANNOTATION):
        call()
    with profile(activities=activities) as prof:
        if cuda:
            torch.cuda.synchronize(device)
        begin = time.perf_counter()
        for _ in range(calls):
            with record_function(CALL_ANNOTATION):
                call()
        if cuda:
            torch.cuda.synchronize(device)
        wall_ms = (time.perf_counter() - begin) * 1e3 / calls
    ops = _kernel_times(prof, calls, wall_ms) if cuda else _cpu_times(prof, calls)
    source = "CUDA kernel time" if cuda else "self CPU time"
    return Profile(wall_ms, calls, source, tuple(sorted(ops, key=lambda op: -op.ms)))


def _cpu_times(prof: object, calls: int) -> list[OpTime]:
    return [
        OpTime(e.key, cat.category_of(e.key), e.self_cpu_time_total / 1e3 / calls, e.count / calls)
        for e in prof.key_averages()  # type: ignore[attr-defined]
        if e.self_cpu_time_total > 0 or e.count
    ]


def _kernel_times(prof: object, calls: int, wall_ms: float) -> list[OpTime]:
    """Each kernel's device time under the operator that launched it; a kernel launched from an
    annotation or from Python (inductor's Triton kernels) goes by its own name."""
    ms: dict[tuple[str, str], float] = defaultdict(float)
    count: dict[tuple[str, str], int] = defaultdict(int)
    for event in prof.events():  # type: ignore[attr-defined]
        for kernel in getattr(event, "kernels", ()):
            key = _launching_op(event) or (kernel.name, cat.kernel_category(kernel.name))
            ms[key] += kernel.duration / 1e3
            count[key] += 1
    ops = [OpTime(name, category, ms[name, category] / calls, count[name, category] / calls)
           for name, category in ms]  # fmt: skip
    idle = wall_ms - sum(op.ms for op in ops)
    if idle > 0:  # streams may overlap: more kernel time than wall time leaves no idle time
        ops.append(OpTime(DEVICE_IDLE, cat.FRAMEWORK, idle, 0.0))
    return ops


def _launching_op(event: object) -> tuple[str, str] | None:
    """(name, category) of the innermost operator around ``event`` (a launch or the operator itself);
    None when only annotations and runtime calls enclose it."""
    while event is not None:
        category = cat.category_of(event.name)  # type: ignore[attr-defined]
        if category not in (cat.FRAMEWORK, cat.OTHER):
            return event.name, category  # type: ignore[attr-defined]
        event = getattr(event, "cpu_parent", None)
    return None


def category_shares(profile: Profile, costs: Mapping[str, OpCost]) -> list[CategoryShare]:
    """The profile's time per category beside each category's FLOPs and unfused bytes, counted per
    operator in ``costs`` (:func:`mubench.measure.traffic.op_costs` of one eager call); in display order."""
    ops: dict[str, list[OpTime]] = defaultdict(list)
    for op in profile.ops:
        ops[op.category].append(op)
    counted: dict[str, OpCost] = defaultdict(OpCost)
    for name, cost in costs.items():
        counted[cat.category_of(name)] += cost
    total_ms = profile.ops_ms
    total_flops = sum(c.flops for c in counted.values())
    total_bytes = sum(c.bytes for c in counted.values())
    shares = []
    for category in sorted(set(ops) | set(counted), key=cat.order_key):
        mine = sorted(ops.get(category, []), key=lambda op: -op.ms)
        cost = counted.get(category, OpCost())
        ms = sum(op.ms for op in mine)
        shares.append(
            CategoryShare(
                category=category,
                ms=ms,
                op_calls=sum(op.calls for op in mine),
                time_share=ms / total_ms if total_ms else 0.0,
                flops=cost.flops,
                bytes=cost.bytes,
                flops_share=cost.flops / total_flops if total_flops else None,
                bytes_share=cost.bytes / total_bytes if total_bytes else None,
                top_ops=tuple(op for op in mine[:TOP_OPS] if op.ms > 0),
            )
        )
    return shares


def unattributed(profile: Profile) -> list[str]:
    """Names the profile could not put in a category (in :data:`~mubench.measure.categories.OTHER`),
    most time first."""
    return [op.name for op in profile.ops if op.category == cat.OTHER and op.ms > 0]
