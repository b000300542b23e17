"""Peak bytes of live tensors during a call, tracked by a dispatch mode: device-independent, exact in eager.

Every storage an operator returns that did not exist before the call (weights, buffers and inputs did)
counts from when it is made until its last tensor is freed; after each operator the storages still
alive are summed, and the peak is the largest such sum. Scratch memory inside one operator's kernel and
the allocator's caching are not counted: this is what the model's tensors need, not what a process holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class _LiveTensors(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}  # storage address -> (weak ref, bytes)
        self.peak_bytes = 0

    def _sweep(self) -> int:
        gone = [key for key, (ref, _) in self.live.items() if ref.expired()]
        for key in gone:
            del self.live[key]
        return sum(size for _, size in self.live.values())

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        existing = {_key(t) for t in _tensors((args, kwargs))}
        out = func(*args, **(kwargs or {}))
        self._sweep()  # a storage freed since can share an address with a new one
        for t in _tensors(out):
            key = _key(t)
            if key is not None and key not in existing and key not in self.live:
                storage = t.untyped_storage()
                self.live[key] = (StorageWeakRef(storage), storage.nbytes())
        self.peak_bytes = max(self.peak_bytes, sum(size for _, size in self.live.values()))
        return out


def _tensors(values: Any) -> list[torch.Tensor]:
    return [v for v in tree_flatten(values)[0] if isinstance(v, torch.Tensor)]


def _key(t: torch.Tensor) -> int | None:
    try:
        return t.untyped_storage()._cdata
    except (RuntimeError, NotImplementedError):  # a tensor without storage
        return None


def peak_live_bytes(fn: Callable[[], Any]) -> int:
    """The peak bytes of tensors made during ``fn()`` that were alive at once (its output included)."""
    with _LiveTensors() as tracker:
        fn()
    return tracker.peak_bytes
