"""The device's own limits, measured: its peak arithmetic rate in a dtype and its memory bandwidth.

The peak is the best rate over several large dense matrix products and the 3x3 convolutions that
denoisers run (both memory formats, and prepacked on the CPU as ``--prepack`` runs them: oneDNN's
convolutions can beat its matmul), so that no model's achieved rate should exceed it. The bandwidth is
the best of a STREAM-style copy (``a = b``: 2 bytes moved per byte of array) and triad
(``a = b + s * c``: 3), on arrays at least as large as the last-level cache each (a quarter of the
memory available for the three at most), so that every pass goes to memory. Both are measured once per
process and configuration and cached; ``seconds`` records what measuring them cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from mubench.measure.runtime.timing import Timer

MIN_ARRAY_BYTES = {"cpu": 64 << 20, "cuda": 1 << 30}
CACHE_MULTIPLE = {"cpu": 1, "cuda": 8}  # a GPU's L2 is small: its arrays are made far larger
BUDGET_S = {"cpu": 0.25, "cuda": 0.15}  # per kernel: best of the runs that fit in this, at least 2
PEAK_LIMIT_S = 8.0  # no larger kernel is started after this (kernels are tried smallest first)
BANDWIDTH_BUDGET_S = 0.1  # its arrays are large: a run or two is already long
MEMORY_SHARE = 4  # the three arrays take at most 1/4 of the memory available


@dataclass(frozen=True)
class DeviceRates:
    peak_gflops: float  # best dense arithmetic rate in the dtype, GFLOP/s
    peak_kernel: str  # which product or convolution gave it
    bandwidth_gbps: float  # best of copy and triad, GB/s (1e9 bytes)
    array_mib: float  # size of each array of the bandwidth test
    seconds: float  # what measuring both cost


def last_level_cache_bytes(device: torch.device) -> int | None:
    """The largest cache of ``device`` (CPU: from /sys; CUDA: its L2), None when unknown."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).L2_cache_size)
    sizes = []
    for entry in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = entry.read_text().strip().upper()
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes) if sizes else None


def _best_ms(timer: Timer, fn: Callable[[], object], budget_s: float) -> float:
    timer(fn)  # warm-up: first-call set-up, kernel choice
    best, begin, runs = float("inf"), time.perf_counter(), 0
    while runs < 2 or time.perf_counter() - begin < budget_s:
        best = min(best, timer(fn))
        runs += 1
    return best


def _candidates(device: torch.device, dtype: torch.dtype) -> list[tuple[str, int, Callable[[], object]]]:
    """(label, FLOPs per run, run) of each dense kernel tried."""
    found = []
    sizes = (4096, 8192, 16384) if device.type == "cuda" else (1024, 2048)
    for n in sizes:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        found.append((f"mm {n}x{n}x{n}", 2 * n**3, lambda a=a, b=b: a @ b))
    batch, channels, side = (64, 256, 64) if device.type == "cuda" else (8, 128, 32)
    weight = torch.randn(channels, channels, 3, 3, device=device).to(dtype)
    flops = 2 * batch * channels * side * side * channels * 9
    label = f"conv3x3 {batch}x{channels}x{side}x{side}"
    for fmt, suffix in ((torch.contiguous_format, ""), (torch.channels_last, " channels_last")):
        x = torch.randn(batch, channels, side, side, device=device).to(dtype).contiguous(memory_format=fmt)
        w = weight.contiguous(memory_format=fmt)
        found.append((label + suffix, flops, lambda x=x, w=w: torch.nn.functional.conv2d(x, w, padding=1)))
    if device.type == "cpu" and dtype == torch.float32 and torch.backends.mkldnn.is_available():
        from mubench.measure.runtime.prepack import PrepackedConv2d  # what --prepack runs

        conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        packed = PrepackedConv2d(conv, [batch, channels, side, side])
        found.append((label + " prepacked", flops, lambda x=x, packed=packed: packed(x)))  # x: channels-last
    return found


def peak_gflops(device: torch.device, dtype: torch.dtype) -> tuple[float, str]:
    """The best measured rate over the dense kernels, and which kernel gave it."""
    timer = Timer(device)
    best, label = 0.0, ""
    deadline = time.perf_counter() + PEAK_LIMIT_S
    with torch.inference_mode():
        for name, flops, run in sorted(_candidates(device, dtype), key=lambda c: c[1]):
            if (
                best and time.perf_counter() > deadline
            ):  # a slow dtype here: the larger kernels would take long
                break
            try:
                ms = _best_ms(timer, run, BUDGET_S[device.type])
            except RuntimeError:  # a kernel this device has not got in this dtype
                continue
            rate = flops / (ms * 1e-3) / 1e9
            if rate > best:
                best, label = rate, name
    return best, label


def array_bytes(device: torch.device) -> int:
    """Bytes of each bandwidth-test array: the CPU's last-level cache (at least 64 MiB), or 8 times a
    GPU's L2 (at least 1 GiB)."""
    cache = last_level_cache_bytes(device) or 0
    wanted = max(MIN_ARRAY_BYTES[device.type], CACHE_MULTIPLE[device.type] * cache)
    free = _available_bytes(device)
    return min(wanted, free // (3 * MEMORY_SHARE)) if free else wanted


def _available_bytes(device: torch.device) -> int | None:
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def bandwidth_gbps(device: torch.device, size_bytes: int) -> float:
    """Best of copy and triad over float32 arrays of ``size_bytes`` each, in GB/s."""
    n = size_bytes // 4
    a, b, c = (torch.ones(n, device=device) for _ in range(3))  # written: the pages are resident
    timer = Timer(device)
    with torch.inference_mode():
        copy_ms = _best_ms(timer, lambda: a.copy_(b), BANDWIDTH_BUDGET_S)
        triad_ms = _best_ms(timer, lambda: torch.add(b, c, alpha=3.0, out=a), BANDWIDTH_BUDGET_S)
    return max(2 * 4 * n / (copy_ms * 1e-3), 3 * 4 * n / (triad_ms * 1e-3)) / 1e9


_CACHE: dict[tuple, DeviceRates] = {}


def device_rates(device: torch.device, dtype: torch.dtype) -> DeviceRates:
    """The measured peak rate in ``dtype`` and memory bandwidth of ``device``, once per configuration
    (device, dtype, threads, TF32 and cuDNN flags) in this process."""
    key = (str(device), dtype, torch.get_num_threads(), torch.backends.cuda.matmul.allow_tf32,
           torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)  # fmt: skip
    if key not in _CACHE:
        begin = time.perf_counter()
        peak, label = peak_gflops(device, dtype)
        size = array_bytes(device)
        bandwidth = bandwidth_gbps(device, size)
        _CACHE[key] = DeviceRates(peak, label, bandwidth, size / 2**20, time.perf_counter() - begin)
    return _CACHE[key]
