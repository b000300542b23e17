"""The JSON sidecar of a mubench checkpoint, read and checked in one place.

``model.safetensors`` is described by ``model.json``: the model, the training step, the schedule (its
name, and its betas when they are not a built-in one's), the objective, and where the weights came from.
:func:`read_sidecar` returns that record with every known field of its declared type, or raises one
:class:`~mubench.errors.UsageError` line; :func:`check_sidecar` is the same check before one is written.
Fields it does not know are kept as they are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict

from mubench.checks import check_betas, finite_number
from mubench.defaults import PREDICTIONS
from mubench.errors import UsageError


class CheckpointMeta(TypedDict, total=False):
    model: str
    steps: int
    seed: int
    resolution: int
    schedule: str
    betas: list[float]
    prediction: str
    dataset: str
    final_loss: float | None
    config: dict[str, Any]
    training: dict[str, Any]  # what the run reached: budgets, wall time, throughput, device
    source_format: str
    source_path: str
    source_sha256: str
    weights: str
    format: str
    mubench_version: str


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def _count(least: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        whole = isinstance(value, int) and not isinstance(value, bool)
        return None if whole and value >= least else f"a whole number >= {least}"

    return check


def _prediction(value: Any) -> str | None:
    return None if value in PREDICTIONS else f"one of {', '.join(PREDICTIONS)}"


def _loss(value: Any) -> str | None:
    return None if value is None or finite_number(value) else "a finite number or null"


def _object(value: Any) -> str | None:
    return None if isinstance(value, dict) else "an object ({...})"


FIELDS: dict[str, Callable[[Any], str | None]] = {
    "model": _text,
    "steps": _count(0),
    "seed": _count(0),
    "resolution": _count(1),
    "schedule": _text,
    "prediction": _prediction,
    "dataset": _text,
    "final_loss": _loss,
    "config": _object,
    "training": _object,
    "source_format": _text,
    "source_path": _text,
    "source_sha256": _text,
    "weights": _text,
    "format": _text,
    "mubench_version": _text,
}


def sidecar_path(checkpoint: Path) -> Path:
    return checkpoint.with_suffix(".json")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def check_sidecar(meta: Mapping[str, Any], where: str) -> CheckpointMeta:
    """``meta`` as a checked record: each known field of its type, betas a valid schedule, no NaN."""
    if not isinstance(meta, Mapping):
        raise UsageError(f"{where} is not a JSON object ({{...}}) but {_kind(meta)}")
    for name, check in FIELDS.items():
        if name in meta:
            expected = check(meta[name])
            if expected is not None:
                raise UsageError(f"{where}: '{name}' is {_shown(meta[name])}; it must be {expected}")
    record = dict(meta)
    if "betas" in record:
        record["betas"] = [float(b) for b in check_betas(record["betas"], f"{where}: 'betas'")]
    _check_finite(record, where)
    return record  # type: ignore[return-value]


def read_sidecar(checkpoint: Path) -> CheckpointMeta:
    """The checked sidecar of ``checkpoint`` ({} when it has none); one line naming what is wrong."""
    side = sidecar_path(checkpoint)
    where = f"checkpoint sidecar '{side}'"
    if not side.exists() and not side.is_symlink():
        return {}
    if not side.is_file():
        raise UsageError(f"{where} is not a file; it should hold the checkpoint's JSON description")
    try:
        text = side.read_bytes().decode("utf-8")
        meta = json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise UsageError(f"{where} is not UTF-8 text, so not JSON") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity
        raise UsageError(f"{where} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {where}: {exc.strerror or exc}") from None
    return check_sidecar(meta, where)


def sidecar_text(meta: Mapping[str, Any], where: str) -> str:
    """The JSON a sidecar is written as, after :func:`check_sidecar`: never a bare NaN."""
    return json.dumps(dict(check_sidecar(meta, where)), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _check_finite(value: Any, where: str, path: str = "") -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{where}: '{path or 'value'}' is {value}; a sidecar holds finite numbers only")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_finite(item, where, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_finite(item, where, f"{path}[{i}]")


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false",
            type(None): "null"}.get(type(value), type(value).__name__)  # fmt: skip


def _shown(value: Any) -> str:
    return f"{_kind(value)} ({json.dumps(value, default=str)[:40]})"
