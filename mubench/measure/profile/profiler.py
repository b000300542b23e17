"""Where one denoiser call's time goes: ``torch.profiler`` over several calls, each operator's time per
call, summed by category (:mod:`mubench.measure.profile.categories`) beside its share of FLOPs and bytes.

CPU: each operator's self CPU time (the time in it, not in the operators it calls); every call runs
inside a ``mubench::call`` annotation whose self time is the Python and framework work between
operators. CUDA: each kernel's device time (less any part an earlier kernel was still running),
attributed to the operator that launched it (else named by the kernel); the wall time no kernel ran is
the device waiting on the host (Python, launches).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from mubench.measure.counting.traffic import OpCost
from mubench.measure.profile import categories as cat

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
    ops = attribute_kernels(device_kernels(prof), calls, wall_ms) if cuda else _cpu_times(prof, calls)
    source = "CUDA kernel time" if cuda else "self CPU time"
    return Profile(wall_ms, calls, source, tuple(sorted(ops, key=lambda op: -op.ms)))


def _cpu_times(prof: object, calls: int) -> list[OpTime]:
    return [
        OpTime(e.key, cat.category_of(e.key), e.self_cpu_time_total / 1e3 / calls, e.count / calls)
        for e in prof.key_averages()  # type: ignore[attr-defined]
        if e.self_cpu_time_total > 0 or e.count
    ]


@dataclass(frozen=True)
class Kernel:
    """One kernel (or device copy) of a profile: when it ran on the device and who launched it."""

    name: str
    start_ns: int
    end_ns: int
    launcher: object | None  # the profiler event of the operator that launched it, if known


def device_kernels(prof: object) -> list[Kernel]:
    """The device work of a CUDA profile with start and end times, each with the operator that launched
    it. Read from the profiler's raw events: ``FunctionEvent.kernels`` keeps durations but not times,
    and lists a kernel under every host event that shares its correlation id (CUPTI's "Command Buffer
    Full" among them), so that summing it counts some kernels twice."""
    launchers: dict[int, object] = {}
    for event in prof.events():  # type: ignore[attr-defined]
        if getattr(event, "kernels", None) and _launching_op(launchers.get(event.id)) is None:
            launchers[event.id] = event  # an operator wins over an event of the same id that is none
    kernels = []
    for raw in prof.profiler.kineto_results.events():  # type: ignore[attr-defined]
        if raw.device_type() != torch.autograd.DeviceType.CUDA or raw.linked_correlation_id() <= 0:
            continue  # host events; device-side annotations, which are no work of their own
        if getattr(raw, "is_user_annotation", lambda: False)():
            continue
        start = raw.start_ns()
        launcher = launchers.get(raw.linked_correlation_id())
        kernels.append(Kernel(raw.name(), start, start + raw.duration_ns(), launcher))
    return kernels


def short_kernel_name(kernel: str) -> str:
    """A kernel's name without return type, namespaces' noise, template and parameters:
    ``at::native::upsample_bilinear2d_out_frame`` for the 400-character demangled signature."""
    name = kernel.removeprefix("void ").replace("(anonymous namespace)::", "")
    return re.split(r"[<(]", name, maxsplit=1)[0].strip() or kernel


def attribute_kernels(kernels: list[Kernel], calls: int, wall_ms: float) -> list[OpTime]:
    """Each kernel's device time under the operator that launched it; a kernel launched from an
    annotation or from Python (inductor's Triton kernels) goes by its own name.

    A kernel counts only the time no earlier kernel was running: kernels of other streams (cuDNN's FFT
    convolutions use a second one) may overlap, and the categories must not sum to more than the wall
    time.
    """
    ms: dict[tuple[str, str], float] = defaultdict(float)
    count: dict[tuple[str, str], int] = defaultdict(int)
    busy_until = 0  # ns: the end of the latest kernel so far
    for kernel in sorted(kernels, key=lambda k: (k.start_ns, k.end_ns)):
        begins = max(kernel.start_ns, busy_until)
        busy_until = max(busy_until, kernel.end_ns)
        named = (short_kernel_name(kernel.name), cat.kernel_category(kernel.name))
        key = _launching_op(kernel.launcher) or named
        ms[key] += max(0, kernel.end_ns - begins) / 1e6
        count[key] += 1
    ops = [OpTime(name, category, ms[name, category] / calls, count[name, category] / calls)
           for name, category in ms]  # fmt: skip
    idle = wall_ms - sum(op.ms for op in ops)
    if idle > 0:
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
    operator in ``costs`` (:func:`mubench.measure.counting.traffic.op_costs` of one eager call); in display
    order."""
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
    """Names the profile could not put in a category (in :data:`~mubench.measure.profile.categories.OTHER`),
    most time first."""
    return [op.name for op in profile.ops if op.category == cat.OTHER and op.ms > 0]
