"""Devices, dtypes and the numeric flags that change speed: validated, set explicitly, recorded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from mubench.errors import UsageError, opt
from mubench.ranges import check_numbers

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
DTYPE_ALIASES = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16"}


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``, checked against what this machine has."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device '{name}'; use cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise UsageError(f"device '{name}' is not supported; use cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise UsageError(
            f"{opt('device')} {name}: CUDA is not available on this machine (torch {torch.__version__})"
        )
    count = torch.cuda.device_count()
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index >= count:
        raise UsageError(
            f"{opt('device')} {name}: this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}"
        )
    return torch.device("cuda", index)


def check_dtype_name(name: str) -> str:
    """The canonical name of the dtype called ``name`` (fp32, fp16, bf16 or an alias of one)."""
    key = DTYPE_ALIASES.get(name, name)
    if key not in DTYPES:
        raise UsageError(f"unknown {opt('dtype')} '{name}'; choose one of {', '.join(DTYPES)}")
    return key


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The dtype named ``name`` (fp32, fp16, bf16), refused if this device cannot compute in it."""
    key = check_dtype_name(name)
    dtype = DTYPES[key]
    if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise UsageError(f"{opt('dtype')} bf16 is not supported on {torch.cuda.get_device_name(device)}")
    if dtype != torch.float32:
        try:  # a conv under autocast is what the models will run
            with torch.autocast(device.type, dtype=dtype):
                torch.nn.functional.conv2d(
                    torch.ones(1, 1, 4, 4, device=device), torch.ones(1, 1, 3, 3, device=device)
                )
        except RuntimeError as exc:
            raise UsageError(
                f"{opt('dtype')} {key} is not supported on {device.type}: {exc}".splitlines()[0]
            ) from None
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in DTYPES.items()}[dtype]


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class NumericFlags:
    """Flags that change speed (and results), set explicitly for a run rather than inherited."""

    tf32: bool = False  # TF32 tensor cores for fp32 matmul and conv (CUDA)
    cudnn_benchmark: bool = False  # cuDNN autotuning of conv algorithms
    threads: int | None = None  # intra-op CPU threads; None = the CPUs this process may run on

    def __post_init__(self) -> None:
        if self.threads is not None:
            check_numbers({"threads": self.threads})

    def apply(self) -> dict[str, Any]:
        """Set the flags process-wide; returns what was set, for the result rows."""
        torch.set_num_threads(self.threads if self.threads is not None else _usable_cpus())
        torch.backends.cuda.matmul.allow_tf32 = self.tf32
        torch.backends.cudnn.allow_tf32 = self.tf32
        torch.backends.cudnn.benchmark = self.cudnn_benchmark
        torch.set_float32_matmul_precision("high" if self.tf32 else "highest")
        return {
            "num_threads": torch.get_num_threads(),
            "tf32": self.tf32,
            "cudnn_benchmark": self.cudnn_benchmark,
            "matmul_precision": torch.get_float32_matmul_precision(),
        }
