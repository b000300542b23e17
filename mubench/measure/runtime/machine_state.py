"""What of the machine affects a timing, read (never changed) just before timing starts.

Recorded in every latency row: how busy the CPUs were with other processes, the load average, and the
frequency governor and boost state where /sys shows them (virtual machines often show neither).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

BUSY_WARNING_CORES = 0.5  # other processes using more than half a core: the timing is suspect
_CPUFREQ = Path("/sys/devices/system/cpu")


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def other_cpu_busy(window_s: float = 0.3) -> float | None:
    """Cores kept busy by other processes over ``window_s`` seconds (this process's own CPU time
    subtracted); None where /proc/stat is missing."""
    before, own_before = _cpu_jiffies(), _own_cpu_s()
    if before is None:
        return None
    time.sleep(window_s)
    after, own_after = _cpu_jiffies(), _own_cpu_s()
    assert after is not None
    ticks = os.sysconf("SC_CLK_TCK")
    busy_s = (after[0] - before[0]) / ticks
    wall_cores = (after[1] - before[1]) / ticks / max(window_s, 1e-9)  # ~ number of CPUs
    cores = max(0.0, busy_s - (own_after - own_before)) / window_s
    return round(min(cores, wall_cores), 3)


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_boost() -> str | None:
    """``on``/``off`` where the kernel shows turbo/boost state (cpufreq boost or intel_pstate), else None."""
    boost = _read(_CPUFREQ / "cpufreq" / "boost")
    if boost is not None:
        return "on" if boost == "1" else "off"
    no_turbo = _read(_CPUFREQ / "intel_pstate" / "no_turbo")
    if no_turbo is not None:
        return "off" if no_turbo == "1" else "on"
    return None


def machine_state() -> dict[str, Any]:
    """Row fields: ``cpu_busy_other_cores``, ``loadavg_1min``, ``cpu_governor``, ``cpu_boost``."""
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {
        "cpu_busy_other_cores": other_cpu_busy(),
        "loadavg_1min": load,
        "cpu_governor": _read(_CPUFREQ / "cpu0" / "cpufreq" / "scaling_governor"),
        "cpu_boost": cpu_boost(),
    }


def busy_warning(state: dict[str, Any]) -> str | None:
    """A note for the row when other processes were using the CPUs as timing began."""
    busy = state.get("cpu_busy_other_cores")
    if busy is not None and busy > BUSY_WARNING_CORES:
        return f"machine busy: other processes used {busy:.1f} cores as timing began"
    return None
