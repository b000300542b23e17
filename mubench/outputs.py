"""What an output may be: a new path or a regular file, never one of the run's inputs, and never a file of
the user's that mubench did not write.

- :func:`check_replaceable`: a symbolic link, a device node, a FIFO, a socket or a folder is never
  replaced by a regular file (an atomic replace would do exactly that).
- :func:`check_not_input`: an output that is an input, or lies inside an input folder, is refused.
- :mod:`mubench.own_files`: a folder mubench writes several files into (a report) keeps a record of
  what it wrote; a file there that is not in it is the user's.
"""

from __future__ import annotations

import errno
import stat
from collections.abc import Iterable
from pathlib import Path

from mubench.errors import MeasurementError, UsageError

# errno values that say something of the machine (full disk, failing device), not of the path given
MACHINE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG}


class WriteError(MeasurementError, OSError):
    """A file could not be written: one line; still an OSError for code that falls back on one. Exit 1
    for a full disk or a failing device, 2 for a path that cannot be written (bad input)."""

    def __init__(self, path: Path, exc: OSError):
        MeasurementError.__init__(self, f"cannot write '{path}': {exc.strerror or exc}")
        self.errno, self.strerror, self.filename = exc.errno, exc.strerror, str(path)
        self.exit_code = 1 if exc.errno in MACHINE_ERRNOS else 2


def check_replaceable(path: Path) -> None:
    """Refuse ``path`` unless it is new or a regular file (a link to one is refused too)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot write '{path}': {exc.strerror or exc}") from None
    if stat.S_ISREG(info.st_mode):
        return
    what = ("a symbolic link" if stat.S_ISLNK(info.st_mode) else "a directory" if stat.S_ISDIR(info.st_mode)
            else "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode)
            else "a device")  # fmt: skip
    raise UsageError(
        f"output '{path}' is {what}, not a regular file; mubench never replaces it: give a file name"
    )


def check_not_input(path: Path, inputs: Iterable[str | Path]) -> None:
    """Refuse an output that resolves to an input file, or to a path inside an input folder."""
    target = Path(path).resolve()
    for given in inputs:
        source = Path(given).resolve()
        if target == source or (source.is_dir() and source in target.parents):
            raise UsageError(f"output '{path}' would overwrite the input '{given}'; give another file name")
