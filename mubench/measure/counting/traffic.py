"""FLOPs and bytes moved by each aten operator of one call, counted by a dispatch mode.

The bytes are unfused traffic: every operator reads each of its tensor inputs and writes each of its
tensor outputs once, as if nothing stayed in cache between operators. Views (transpose, reshape of a
contiguous tensor, expand...) move nothing; a broadcast (stride-0) dimension is read once; allocations
(``empty``) neither read nor write; the destination of ``copy_``, ``fill_``, ``zero_`` and of ``out=``
arguments is written, not read. FLOPs come from torch's own per-operator formulas
(``torch.utils.flop_counter``, 2 per multiply-accumulate), so their sum equals the count of
:func:`mubench.measure.counting.counters.count_torch`; operators without a formula count 0 FLOPs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry, shape_wrapper

from mubench.measure.counting.counters import _torch_sdpa_flops

aten = torch.ops.aten

# Queries of a tensor's metadata: not operators of the model, not counted (looked up by name: older torch
# versions lack some of them).
_METADATA = {
    getattr(getattr(aten, op, None), overload, None)
    for op, overload in (
        ("sym_is_contiguous", "default"), ("is_contiguous", "default"), ("is_contiguous", "memory_format"),
        ("is_strides_like_format", "default"), ("is_non_overlapping_and_dense", "default"),
        ("size", "default"), ("sym_size", "default"), ("stride", "default"), ("sym_stride", "default"),
        ("storage_offset", "default"), ("sym_storage_offset", "default"), ("numel", "default"),
        ("sym_numel", "default"), ("dim", "default"),
    )
} | {torch.ops.prim.layout.default, torch.ops.prim.device.default}  # fmt: skip
# In-place operators that overwrite their destination without reading it.
_COMPOSITE = torch._C.DispatchKey.CompositeImplicitAutograd
_WRITE_ONLY = {"aten.copy_", "aten.fill_", "aten.zero_", "aten.uniform_", "aten.normal_", "aten.random_"}
_ALLOCATIONS = ("aten.empty", "aten.new_empty", "aten.empty_like", "aten.empty_strided")


def _flop_formulas() -> dict[Any, Callable[..., int]]:
    formulas: dict[Any, Callable[..., int]] = dict(flop_registry)
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):  # torch has no formula for it
        formulas[aten._scaled_dot_product_flash_attention_for_cpu] = shape_wrapper(_torch_sdpa_flops)
    return formulas


@dataclass(frozen=True)
class OpCost:
    """What one operator (or a sum of operators) costs: calls, FLOPs, and unfused bytes moved."""

    calls: int = 0
    flops: int = 0
    bytes: int = 0

    def __add__(self, other: OpCost) -> OpCost:
        return OpCost(self.calls + other.calls, self.flops + other.flops, self.bytes + other.bytes)

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved (nan when nothing moved)."""
        return self.flops / self.bytes if self.bytes else float("nan")


@dataclass(frozen=True)
class OpCall:
    """One executed operator: its packet name (e.g. ``aten.convolution``), FLOPs, bytes, and the names of
    the modules it ran in (outermost first; ``""`` is the root module)."""

    op: str
    flops: int
    bytes: int
    modules: tuple[str, ...] = ()


def tensor_bytes(t: torch.Tensor) -> int:
    """Bytes of the distinct elements ``t`` addresses: a broadcast (stride-0) dimension counts once."""
    if t.numel() == 0:
        return 0
    distinct = math.prod(size for size, stride in zip(t.shape, t.stride()) if stride != 0)
    return distinct * t.element_size()


def _tensors(values: Iterable[Any]) -> list[torch.Tensor]:
    seen: dict[int, torch.Tensor] = {}  # the same tensor passed twice is read once
    for v in tree_flatten(list(values))[0]:
        if isinstance(v, torch.Tensor):
            seen.setdefault(id(v), v)
    return list(seen.values())


def _bytes_moved(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> int:
    schema = func._schema
    if name.startswith(_ALLOCATIONS):
        return 0
    if any(r.alias_info is not None and not r.alias_info.is_write for r in schema.returns):
        return 0  # a view: nothing read or written
    written_only: set[int] = set()  # inputs overwritten without being read
    for i, arg in enumerate(schema.arguments):
        info = arg.alias_info
        if info is None or not info.is_write:
            continue
        value = kwargs.get(arg.name) if arg.kwarg_only or i >= len(args) else args[i]
        if name in _WRITE_ONLY or arg.kwarg_only:  # copy_-like destination, or out=
            written_only.update(id(t) for t in _tensors([value]))
    read = [t for t in _tensors([args, kwargs]) if id(t) not in written_only]
    return sum(map(tensor_bytes, read)) + sum(map(tensor_bytes, _tensors([out])))


class _Counter(TorchDispatchMode):
    def __init__(self, stack: list[str]) -> None:
        super().__init__()
        self.formulas = _flop_formulas()
        self.stack = stack  # the modules running now, maintained by hooks
        self.calls: list[OpCall] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in _METADATA:
            return func(*args, **kwargs)
        packet = func._overloadpacket
        if packet not in self.formulas and torch._C._dispatch_has_kernel_for_dispatch_key(
            func.name(), _COMPOSITE
        ):
            # An operator made of others (reaching a dispatch mode under inference mode): count what it is
            # made of in C++, which is what runs, not torch's Python decomposition (that unfuses, e.g.,
            # upsample_bilinear2d into index arithmetic), unlike FlopCounterMode's func.decompose.
            with self:
                return func._op_dk(_COMPOSITE, *args, **kwargs)
        out = func(*args, **kwargs)
        name = str(packet)
        formula = self.formulas.get(packet)
        flops = int(formula(*args, **kwargs, out_val=out)) if formula is not None else 0
        moved = _bytes_moved(func, name, args, kwargs, out)
        self.calls.append(OpCall(name, flops, moved, tuple(self.stack)))
        return out


def _track_modules(model: nn.Module, stack: list[str]) -> list[Any]:
    handles = []
    for name, module in model.named_modules():

        def enter(module: nn.Module, inputs: Any, name: str = name) -> None:
            stack.append(name)

        def leave(module: nn.Module, inputs: Any, output: Any, name: str = name) -> None:
            if stack and stack[-1] == name:
                stack.pop()

        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave, always_call=True))
    return handles


def op_calls(fn: Callable[[], Any], model: nn.Module | None = None) -> list[OpCall]:
    """Every aten operator that ``fn()`` runs, in order; with ``model``, each names the modules of
    ``model`` it ran in."""
    stack: list[str] = []
    handles = _track_modules(model, stack) if model is not None else []
    try:
        with _Counter(stack) as counter:
            fn()
    finally:
        for handle in handles:
            handle.remove()
    return counter.calls


def by_op(calls: Iterable[OpCall]) -> dict[str, OpCost]:
    """Calls summed per operator, most bytes first."""
    costs: dict[str, OpCost] = defaultdict(OpCost)
    for c in calls:
        costs[c.op] += OpCost(1, c.flops, c.bytes)
    return dict(sorted(costs.items(), key=lambda kv: -kv[1].bytes))


def _enclosing(modules: tuple[str, ...]) -> set[str]:
    """The modules and every module above them by name: containers (``ModuleList``) are never called,
    yet ``enc`` holds what ``enc.0.conv`` costs."""
    names = {""}
    for name in modules:
        parts = name.split(".") if name else []
        names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return names


def by_module(calls: Iterable[OpCall]) -> dict[str, OpCost]:
    """Calls summed per module, inclusive of the modules inside it (``""``: the root)."""
    costs: dict[str, OpCost] = defaultdict(OpCost)
    for c in calls:
        for name in _enclosing(c.modules):
            costs[name] += OpCost(1, c.flops, c.bytes)
    return dict(costs)


def total(calls: Iterable[OpCall]) -> OpCost:
    return sum((OpCost(1, c.flops, c.bytes) for c in calls), OpCost())


def op_costs(fn: Callable[[], Any]) -> dict[str, OpCost]:
    """Calls, FLOPs and unfused bytes of each aten operator (``aten.convolution``...) that ``fn()`` runs."""
    return by_op(op_calls(fn))


def module_op_costs(model: nn.Module, fn: Callable[[], Any]) -> dict[str, dict[str, OpCost]]:
    """:func:`op_costs` per module of ``model`` (inclusive of its submodules; ``""``: the root)."""
    per_module: dict[str, list[OpCall]] = defaultdict(list)
    for c in op_calls(fn, model):
        for name in _enclosing(c.modules):
            per_module[name].append(c)
    return {name: by_op(calls) for name, calls in per_module.items()}


def roofline_seconds(calls: Iterable[OpCall], flops_per_s: float, bytes_per_s: float) -> float:
    """The least time the calls can take, one after another, each bound by arithmetic or by memory:
    the sum over operators of max(FLOPs / peak rate, bytes / bandwidth)."""
    return sum(max(c.flops / flops_per_s, c.bytes / bytes_per_s) for c in calls)


def weights_bytes(model: nn.Module) -> int:
    """Bytes of ``model``'s parameters and buffers, each storage once (tied weights are shared)."""
    storages: dict[int, int] = {}
    for t in (*model.parameters(), *model.buffers()):
        storages[t.untyped_storage()._cdata] = t.untyped_storage().nbytes()
    return sum(storages.values())
