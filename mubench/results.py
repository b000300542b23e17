"""Result rows: one schema for every command, the run's conditions, and atomic CSV/JSON writing."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import platform
import re
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

import mubench
from mubench.errors import UsageError
from mubench.schema import BOOLEAN_COLUMNS, BY_NAME, ENV_COLUMNS, INTEGER_COLUMNS, KEY_COLUMNS, SCHEMA_VERSION

# Declared in mubench.schema; named here too because every writer of rows uses them.
__all__ = ["ENV_COLUMNS", "INTEGER_COLUMNS", "KEY_COLUMNS", "SCHEMA_VERSION"]


_FLAGS = {True: True, False: False, "True": True, "False": False}  # 1.0 and 0.0 hash as True and False


def with_declared_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Whole-number columns of :data:`INTEGER_COLUMNS` as nullable integers and the flags of
    :data:`BOOLEAN_COLUMNS` as True/False (when every value fits), so that a table mixing rows of several
    commands keeps 1000 as 1000 and True as True: pandas turns both into floats when it concatenates
    them with a column of missing values."""
    converted = {}
    for name in INTEGER_COLUMNS:
        if name not in frame:
            continue
        values = pd.to_numeric(frame[name], errors="coerce")
        present = values.dropna()
        if len(present) == frame[name].notna().sum() and (present % 1 == 0).all():
            converted[name] = values.astype("Int64")
    for name in BOOLEAN_COLUMNS:
        if name in frame and frame[name].dropna().isin(list(_FLAGS)).all():
            converted[name] = frame[name].map(_FLAGS, na_action="ignore").astype(object)
    return frame.assign(**converted)


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def utc_timestamp() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def device_name(device: str) -> str:
    """Human name of the device: the GPU's name, or the CPU's model name."""
    import torch  # here, not at the top: reading and writing rows must not import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str = "cpu") -> dict[str, Any]:
    """Software and hardware versions that decide a measurement (recorded in rows and env JSON)."""
    import torch

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda if device.startswith("cuda") else None,
        "cudnn_version": cudnn if device.startswith("cuda") else None,
        "driver_version": _nvidia_driver() if device.startswith("cuda") else None,
        "device_name": device_name(device),
        "num_threads": torch.get_num_threads(),
        **source_revision(),
    }


@functools.cache
def source_revision() -> dict[str, Any]:
    """``git_commit`` and ``git_dirty`` of the checkout mubench runs from (None for an installed copy),
    as pytest-benchmark records them: a figure can then be traced to the code that made it."""
    where = Path(mubench.__file__).resolve().parent.parent
    unknown = {"git_commit": None, "git_dirty": None}
    if not (where / ".git").exists():
        return unknown
    try:
        commit = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()  # fmt: skip
        status = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return unknown
    return {"git_commit": commit, "git_dirty": bool(status.strip())}


def full_environment(device: str = "cpu") -> dict[str, Any]:
    """Everything in :func:`environment` plus the platform, for an environment JSON file."""
    env = environment(device)
    env.update(
        {
            "mubench_version": mubench.__version__,
            "python_version": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        }
    )
    return env


def _nvidia_driver() -> str | None:
    try:
        return driver_in(Path("/proc/driver/nvidia/version").read_text())
    except OSError:
        return None


def driver_in(proc_version: str) -> str | None:
    """The driver version in the text of /proc/driver/nvidia/version: the first dotted number after
    "Kernel Module" (the open module's line reads "Open Kernel Module for x86_64  580.159.04")."""
    after = proc_version.partition("Kernel Module")[2]
    found = re.search(r"\b\d+(?:\.\d+)+\b", after)
    return found.group(0) if found else None


def make_row(command: str, run_id: str, **fields: Any) -> dict[str, Any]:
    """A result row: the key columns (defaults where not given), then ``fields`` in their order."""
    row: dict[str, Any] = {
        "command": command,
        "model": None,
        "device": "cpu",
        "dtype": "fp32",
        "batch_size": 1,
        "resolution": None,
        "steps": None,
        "sampler": None,
        "solver": None,
        "seed": 0,
        "status": "ok",
        "message": "",
        "run_id": run_id,
        "timestamp": utc_timestamp(),
        "mubench_version": mubench.__version__,
        "schema_version": SCHEMA_VERSION,
    }
    row.update(fields)
    return row


def benchmark_row(
    benchmark: str, case: str, run_id: str, device: str = "cpu", **fields: Any
) -> dict[str, Any]:
    """A row of a script under ``benchmarks/`` (command ``benchmark``), in the result schema with the
    environment, so that ``mubench compare`` reads what the script wrote."""
    return make_row("benchmark", run_id, device=device, **environment(device), benchmark=benchmark, case=case,
                    **fields)  # fmt: skip


def write_benchmark(rows: list[dict[str, Any]], path: Path, device: str = "cpu") -> None:
    """Write a benchmark's rows to ``path`` (``.json``: rows and the environment; else CSV)."""
    frame = with_declared_types(to_frame(rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        write_json(frame, path, full_environment(device))
    else:
        write_csv(frame, path)


def to_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def check_writable(path: Path | None) -> None:
    """Raise :class:`UsageError` now, before measuring, if ``path`` could not be written: the temporary
    file an atomic write goes through is created in its folder (and removed) to find out, so that a
    folder that refuses files (``/proc``), a name too long or a full disk is found before any work."""
    if path is None:
        return
    try:
        _check_writable(path)
    except OSError as exc:  # a name too long, a loop of links ...: the file system's own reason
        raise UsageError(f"cannot write '{path}': {exc.strerror or exc}") from None


def _check_writable(path: Path) -> None:
    from mubench.outputs import check_replaceable

    if path.is_dir() and not path.is_symlink():
        raise UsageError(f"output path '{path}' is a directory; give a file name")
    check_replaceable(path)
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"cannot write '{path}': '{parent}' is a file, not a folder")
    if not parent.is_dir():
        raise UsageError(f"cannot write '{path}': directory '{parent}' does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write '{path}': permission denied")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=TEMP_PREFIX, suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)


# Temporary files are named .mubench-XXXXXXXX.tmp, not after the file they become: a name the file
# system accepts for the output (up to 255 bytes) must not be refused because the temporary one is longer.
TEMP_PREFIX = ".mubench-"


def default_file_mode() -> int:
    """The mode a plainly created file gets (0o666 less the umask); mkstemp's own is 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically; see :func:`write_bytes_atomic`."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never a half-written file, and
    never a link, device, FIFO or folder replaced. An OSError (a full disk ...) is raised as
    :class:`~mubench.outputs.WriteError`: one line naming the file, and still an OSError."""
    from mubench.outputs import WriteError, check_replaceable

    check_replaceable(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise WriteError(path, exc) from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    write_text_atomic(path, frame.to_csv(index=False))


def write_json(frame: pd.DataFrame, path: Path, env: Mapping[str, Any] | None = None) -> None:
    """JSON: ``{"schema_version", "environment", "rows": [...]}``."""
    payload = {
        "schema_version": SCHEMA_VERSION,
        "environment": dict(env or {}),
        "rows": json.loads(frame.to_json(orient="records")),
    }
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")


TEXT_ID_COLUMNS = {"run_id": str, "suite_item": str}
SUITE_RESULTS = "results.csv"  # the combined file of a suite's output folder (``mubench run``)


def read_results(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rows and environment of a result file (CSV, or JSON as written by ``--json``) or of a suite's
    output folder (its combined ``results.csv`` and ``environment.json``). Refuses another schema."""
    if path.is_dir():
        env = read_environment(path)
        path = path / SUITE_RESULTS
    else:
        env = {}
    if not path.is_file():
        raise UsageError(f"no result file at '{path}'")
    try:
        if path.suffix == ".json":
            payload = json.loads(path.read_text())
            if not isinstance(payload, dict):
                raise TypeError("the top level is not an object with 'rows'")
            env = payload.get("environment", {})
            frame = pd.DataFrame(payload["rows"])
            versions = {payload.get("schema_version")}
        else:
            # ids are text even when one happens to be all digits (a suite item id is 12 hex digits)
            frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=TEXT_ID_COLUMNS)
            versions = set(frame["schema_version"].dropna().unique())
    except (ValueError, KeyError, TypeError, pd.errors.ParserError) as exc:
        raise UsageError(f"'{path}' is not a mubench result file ({type(exc).__name__}: {exc})") from None
    except OSError as exc:
        raise UsageError(f"cannot read '{path}': {exc.strerror}") from None
    if "schema_version" in frame:
        versions |= set(frame["schema_version"].dropna().unique())
    try:
        versions = {int(v) for v in versions if v is not None}
    except (TypeError, ValueError):
        raise UsageError(
            f"'{path}' has a schema_version that is not a number: {sorted(map(str, versions))}"
        ) from None
    if versions != {SCHEMA_VERSION}:
        found = ", ".join(str(v) for v in sorted(versions)) or "none"
        raise UsageError(
            f"'{path}' has schema_version {found}; this mubench ({mubench.__version__}) reads "
            f"schema_version {SCHEMA_VERSION}: re-run the measurement with this version"
        )
    if "command" not in frame or frame.empty:
        raise UsageError(f"'{path}' holds no result rows (no 'command' column); give a file mubench wrote")
    return _checked_numbers(frame, path), env


def read_environment(folder: Path) -> dict[str, Any]:
    """The ``environment.json`` of a results folder ({} when it has none); one line if it is damaged."""
    env_path = folder / "environment.json"
    try:
        env = json.loads(env_path.read_text()) if env_path.is_file() else {}
    except json.JSONDecodeError as exc:
        raise UsageError(f"'{env_path}' is not valid JSON ({exc})") from None
    except OSError as exc:
        raise UsageError(f"cannot read '{env_path}': {exc.strerror}") from None
    if not isinstance(env, dict):
        raise UsageError(f"'{env_path}' is not an environment object ({{...}})")
    return env


def _checked_numbers(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The schema's numeric columns as numbers: text, or a number too large for a float, in one of them
    is refused in one line (a hand-edited or damaged file), never dropped or passed on as text."""
    converted = {}
    for name in frame.columns:
        column = BY_NAME.get(name)
        if column is None or column.type not in (int, float):
            continue
        if pd.api.types.is_numeric_dtype(frame[name]):
            _check_finite_column(frame[name], name, path)
            continue
        values = []
        for row, value in enumerate(frame[name], start=2 if path.suffix != ".json" else 1):
            try:
                values.append(float(value) if value is not None and not pd.isna(value) else math.nan)
            except (TypeError, ValueError, OverflowError):
                where = f"line {row}" if path.suffix != ".json" else f"row {row}"
                raise UsageError(
                    f"'{path}' {where}: {name} is {str(value)[:40]!r}, not a number it can hold"
                ) from None
        converted[name] = values
        _check_finite_column(pd.Series(values), name, path)
    return frame.assign(**converted) if converted else frame


def _check_finite_column(values: pd.Series, name: str, path: Path) -> None:
    """mubench never writes an infinity (an exact copy's PSNR is left out, a ratio by zero is empty):
    one in a result file means it was damaged or edited, and no comparison or report should use it."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    infinite = [i for i, v in enumerate(numbers) if math.isinf(v)]
    if infinite:
        first = infinite[0]
        where = f"line {first + 2}" if path.suffix != ".json" else f"row {first + 1}"
        raise UsageError(
            f"'{path}' {where}: {name} is {numbers[first]}, a value mubench never writes; the file was "
            "damaged or edited"
        )
