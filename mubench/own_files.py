"""The files mubench wrote into a folder it writes several files into (a report): a record of them,
``.mubench-files.json`` (name -> sha256). A file there that is not in the record with the same content
is the user's, and is refused rather than overwritten."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from mubench.errors import UsageError
from mubench.outputs import check_replaceable
from mubench.results import write_text_atomic

RECORD = ".mubench-files.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(folder: Path) -> dict[str, str]:
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in record.items()} if isinstance(record, dict) else {}


def check_own_files(folder: Path, paths: Iterable[Path], legacy: bool = False) -> None:
    """Refuse to write ``paths`` (inside ``folder``) if one exists and mubench did not write it there, or
    it was changed since. ``legacy``: the folder holds files of a mubench older than the record, which
    count as its own."""
    record = _record(folder)
    for path in paths:
        check_replaceable(path)
        if not path.exists() or (legacy and not record):
            continue
        name = path.relative_to(folder).as_posix()
        if record.get(name) != _digest(path):
            raise UsageError(
                f"'{path}' was not written by mubench (or was changed since); it is left as it is: move it, "
                "or give another output folder"
            )


def record_own_files(folder: Path, paths: Iterable[Path]) -> None:
    """Add ``paths`` (just written inside ``folder``) to the folder's record of mubench's own files."""
    record = _record(folder)
    record.update({p.relative_to(folder).as_posix(): _digest(p) for p in paths})
    write_text_atomic(folder / RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")
