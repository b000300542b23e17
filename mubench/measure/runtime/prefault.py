"""Pre-faulting: make every page of the loaded shared libraries resident before anything is timed.

A timing belongs to the process that made it. Whether a page of a library is mapped into the process
depends on its history (the kernel maps neighbouring file pages around other faults), and code can
depend on that: a masked vector load whose mask is all zero never touches its page, so if that page
was never mapped, every execution of the load takes the CPU's slow fault-suppression path. One such
page in libtorch_cpu.so made ``log1p`` (and so Softplus) 20x slower in some processes than in others.
Populating every page of every file-backed, readable mapping of a ``.so`` removes that source of
variance; it costs a fraction of a second and is recorded in the rows.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

MADV_POPULATE_READ = 22  # Linux 5.14+: fault pages in (read) without touching them from user space
_MAPS = Path("/proc/self/maps")
_SHARED_LIBRARY = re.compile(r"\.so(\.\d+)*$")


@dataclass(frozen=True)
class Mapping:
    """One line of /proc/self/maps that pre-faulting covers."""

    start: int
    end: int
    offset: int  # into the file, in bytes
    path: str

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class PrefaultReport:
    """What one pre-faulting pass did."""

    mappings: int = 0
    pages: int = 0  # pages asked for (the mappings' sizes, clipped to their files)
    seconds: float = 0.0
    method: str = "none"  # madvise, touch, or none (no /proc/self/maps: not Linux)


class Prefaulter:
    """Pre-faults when called (if enabled) and keeps the run's record: total seconds over all passes,
    the size of the last (largest) pass."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.passes = 0
        self.seconds = 0.0
        self.last = PrefaultReport()

    def __call__(self) -> None:
        if self.enabled:
            self.last = prefault_libraries()
            self.passes += 1
            self.seconds += self.last.seconds

    def fields(self) -> dict[str, object]:
        """Row fields: ``prefault``, ``prefault_s`` (all passes), ``prefault_mib``, ``prefault_method``."""
        if not self.enabled:
            return {"prefault": False, "prefault_s": None, "prefault_mib": None, "prefault_method": None}
        return {
            "prefault": True,
            "prefault_s": round(self.seconds, 4),
            "prefault_mib": round(self.last.pages * mmap.PAGESIZE / 2**20, 1),
            "prefault_method": self.last.method,
        }


def library_mappings(maps_text: str | None = None) -> list[Mapping]:
    """The readable, file-backed mappings of shared libraries (``*.so``, ``*.so.N``) in this process.

    Anonymous mappings, the stack, vdso and device files are left out, and so are deleted files.
    """
    if maps_text is None:
        try:
            maps_text = _MAPS.read_text()
        except OSError:
            return []
    found = []
    for line in maps_text.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) < 6 or "r" not in parts[1]:
            continue
        path = parts[5].strip()
        if not path.startswith("/") or path.startswith("/dev/") or not _SHARED_LIBRARY.search(path):
            continue  # "(deleted)" files end in " (deleted)" and fail the pattern too
        start, end = (int(v, 16) for v in parts[0].split("-"))
        found.append(Mapping(start, end, int(parts[2], 16), path))
    return found


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    libc.madvise.restype = ctypes.c_int
    return libc


def _file_backed_bytes(mapping: Mapping) -> int:
    """The part of the mapping that lies inside its file: touching past the end would raise SIGBUS."""
    try:
        file_size = os.stat(mapping.path).st_size
    except OSError:
        return 0
    backed = max(0, min(mapping.size, file_size - mapping.offset))
    return (backed + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE


def _touch(start: int, length: int) -> None:
    """Read one byte of every page in [start, start + length)."""
    page = mmap.PAGESIZE
    for address in range(start, start + length, page):
        ctypes.c_char.from_address(address).value  # noqa: B018 - the read is the point


def prefault_libraries(maps_text: str | None = None) -> PrefaultReport:
    """Make every page of the loaded shared libraries' readable mappings resident in this process.

    Uses ``madvise(MADV_POPULATE_READ)`` where the kernel has it, else reads one byte per page. Pages
    already resident cost little, so calling it again (after compilation has loaded new libraries) is
    cheap.
    """
    begin = time.perf_counter()
    mappings = library_mappings(maps_text)
    if not mappings:
        return PrefaultReport(seconds=time.perf_counter() - begin)
    libc = _libc()
    method = "madvise" if libc is not None else "touch"
    pages = 0
    for mapping in mappings:
        length = _file_backed_bytes(mapping)
        if length == 0:
            continue
        pages += length // mmap.PAGESIZE
        if method == "madvise":
            assert libc is not None
            if libc.madvise(mapping.start, length, MADV_POPULATE_READ) == 0:
                continue
            if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS):  # kernel older than 5.14
                method = "touch"
            else:
                continue  # EFAULT/ENOMEM: the mapping changed under us (a library unloaded); skip it
        _touch(mapping.start, length)
    return PrefaultReport(len(mappings), pages, time.perf_counter() - begin, method)
