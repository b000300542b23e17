"""Suite files: TOML that declares models x measurements x conditions, parsed into runnable items.

    [suite]
    name = "ci"
    description = "..."

    [defaults]                # keys applied to every table below that accepts them
    models = ["lucid-unet", "ode-u"]

    [[flops]]                 # one table per measurement; repeat a table for other conditions
    resolution = 64
    steps = 1000

    [[latency]]
    batch-size = [1, 8]       # a list expands into one item per value

Everything is checked when the file is read, before anything runs: a malformed file, an unknown key
or a bad value gets one line naming the file, the table and the key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from mubench.errors import UsageError, opt
from mubench.measure.measurements import MEASUREMENTS
from mubench.options import Option
from mubench.suite.tables import KEYS, conditions

SUITE_KEYS = {
    "name": Option("name", str, "The suite's name: letters, digits, '.', '_', '-'."),
    "description": Option("description", str, "What the suite measures."),
}


@dataclass(frozen=True)
class SuiteItem:
    """One unit of work: a measurement of some models under one set of conditions."""

    measurement: str  # its name: params, flops, latency, profile or robustness
    models: tuple[str, ...]
    options: dict[str, Any]  # normalised keys (dashes), one value each; `models` and `note` excluded
    conds: Any = field(compare=False, repr=False)
    table: str = ""  # where it was declared, e.g. "[[latency]] #2"
    note: str | None = None

    @property
    def item_id(self) -> str:
        """Stable id of what is measured (not of where it is written): rows carry it for --resume."""
        # "kind" as the key: ids written by earlier versions stay valid for --resume
        what = {"kind": self.measurement, "models": self.models, "options": self.options}
        what = json.dumps(what, sort_keys=True)
        return hashlib.sha1(what.encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        opts = " ".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.measurement} {','.join(self.models)}" + (f" ({opts})" if opts else "")


@dataclass(frozen=True)
class Suite:
    path: Path
    name: str
    description: str
    items: tuple[SuiteItem, ...]
    text: str  # the file as read, copied beside the results
    left_out: tuple[str, ...] = ()  # tables that cannot run on the --device given, and why


def load_suite(path: Path, device: str | None = None, only: tuple[str, ...] = ()) -> Suite:
    """Read and check a suite file. ``device`` replaces the latency tables' device (``--device``), leaving
    out the tables of a mode that device cannot run (see ``Suite.left_out``); ``only`` keeps the tables
    of those measurements (``--only``)."""
    unknown_names = sorted(set(only) - set(KEYS))
    if unknown_names:
        raise UsageError(
            f"{opt('only')} {unknown_names[0]}: not a measurement; choose from {', '.join(KEYS)}"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"suite file '{path}' not found") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"suite file '{path}' is not UTF-8 text (byte {exc.start}); TOML is UTF-8") from None
    except IsADirectoryError:
        raise UsageError(f"suite file '{path}' is a folder; give a .toml file") from None
    except OSError as exc:
        raise UsageError(f"cannot read suite file '{path}': {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"suite", "defaults", *KEYS})
    if unknown:
        raise UsageError(
            f"{path}: unknown table '{unknown[0]}'; a suite has [suite], [defaults] and "
            f"{', '.join(f'[[{k}]]' for k in KEYS)}"
        )
    header = _table(path, "[suite]", data.get("suite", {}))
    _check_keys(path, "[suite]", header, SUITE_KEYS)
    if "name" in header and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", header["name"]):
        raise UsageError(f"{path}: [suite]: name '{header['name']}' must be letters, digits, '.', '_', '-'")
    defaults = _normalised(_table(path, "[defaults]", data.get("defaults", {})))
    for key in defaults:
        if not any(key in keys for keys in KEYS.values()):
            raise UsageError(f"{path}: [defaults]: key '{key}' is not accepted by any measurement")
    items: list[SuiteItem] = []
    left_out: list[str] = []
    for name in [k for k in data if k in KEYS and (not only or k in only)]:  # in the file's order
        tables = data[name]
        for number, table in enumerate(tables if isinstance(tables, list) else [tables], start=1):
            where = f"[[{name}]] #{number}"
            opts = _normalised(_table(path, where, table))
            _check_keys(path, where, opts, KEYS[name])
            merged = {k: v for k, v in defaults.items() if k in KEYS[name]} | opts
            if "device" in KEYS[name] and device is not None:
                merged["device"] = device
            _check_keys(path, where, merged, KEYS[name])
            items += _expand(path, name, where, merged, left_out if device is not None else None,
                             room=MAX_ITEMS - len(items))  # fmt: skip
    if not items and left_out:
        raise UsageError(f"{path}: nothing to run: {'; '.join(left_out)}")
    if not items:
        what = f"no {' or '.join(f'[[{k}]]' for k in only)} tables" if only else "no measurement tables"
        raise UsageError(f"{path}: {what}; add e.g. [[params]] with models = [...]")
    _check_unique(path, items)
    name, description = header.get("name", path.stem), header.get("description", "")
    return Suite(path, name, description, tuple(items), text, tuple(left_out))


MAX_ITEMS = 10_000  # items one table may expand to: more is a mistake, not a benchmark
DEVICE_ONLY_MODES = {"prepack": "cpu", "cuda-graphs": "cuda"}  # keys that need one device type


def _cannot_run_on(options: dict[str, Any], device: str) -> str | None:
    """Why an item cannot run on ``device`` (a mode for another device type), or None."""
    device_type = "cuda" if device.startswith("cuda") else "cpu"
    for key, needs in DEVICE_ONLY_MODES.items():
        if options.get(key) is True and device_type != needs:
            return f"{key} runs on {needs} only; left out on device {device}"
    return None


def _table(path: Path, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{path}: {where} must be a table of keys, got {type(value).__name__}")
    return value


def _normalised(table: dict[str, Any]) -> dict[str, Any]:
    return {key.replace("_", "-"): value for key, value in table.items()}


def _check_keys(path: Path, where: str, table: dict[str, Any], keys: dict[str, Option]) -> None:
    for key, value in table.items():
        if key not in keys:
            raise UsageError(f"{path}: {where}: unknown key '{key}'; known keys: {', '.join(keys)}")
        spec = keys[key]
        expands = not spec.is_list and isinstance(value, list)
        if expands and not value:
            raise UsageError(f"{path}: {where}: '{key}' is an empty list; give one value or several")
        if not (spec.accepts(value) or (expands and all(spec.accepts(v) for v in value))):
            plural = "" if spec.is_list else " (or a list of them: one item each)"
            raise UsageError(
                f"{path}: {where}: '{key}' must be {spec.describe()}{plural}, got {json.dumps(value)}"
            )


def _expand(
    path: Path,
    name: str,
    where: str,
    opts: dict[str, Any],
    left_out: list[str] | None = None,
    room: int = 10_000,
) -> list[SuiteItem]:
    """One item per combination of the list-valued conditions (and per model unless measured together).
    With ``left_out`` (a --device given), a combination that device cannot run is noted there instead."""
    models = opts.pop("models", None)
    note = opts.pop("note", None)
    if not models:
        raise UsageError(
            f'{path}: {where}: give the models to measure, e.g. models = ["lucid-unet", "ode-u"]'
        )
    repeated = sorted({m for m in models if models.count(m) > 1})
    if repeated:
        raise UsageError(f"{path}: {where}: models {', '.join(repeated)} given more than once")
    keys = KEYS[name]
    opts = {k: sorted(v) if keys[k].unordered else v for k, v in opts.items()}
    axes = [
        [(k, x) for x in v] if isinstance(v, list) and not keys[k].is_list else [(k, v)]
        for k, v in opts.items()
    ]
    measurement = MEASUREMENTS[name]
    groups = [tuple(models)] if measurement.together else [(m,) for m in models]
    count = math.prod(len(axis) for axis in axes) * len(groups)
    if count > room:  # counted before any item is built: a million would take minutes to check
        raise UsageError(
            f"{path}: {where} expands to {count:,} items (its lists multiply), more than the "
            f"{MAX_ITEMS:,} a suite may hold: split it, or shorten the lists"
        )
    items = []
    base = path.parent
    for combination in itertools.product(*axes):
        one = dict(combination)
        if left_out is not None and (reason := _cannot_run_on(one, one.get("device", "cpu"))):
            if f"{where}: {reason}" not in left_out:
                left_out.append(f"{where}: {reason}")
            continue
        for group in groups:
            try:
                conds = conditions(measurement, {"models": list(group), **one}, base)
            except UsageError as exc:
                raise UsageError(f"{path}: {where}: {_as_key(exc)}") from None
            items.append(SuiteItem(name, group, one, conds, where, note))
    return items


def _as_key(exc: UsageError) -> str:
    """The measurement's message, its options named as suite keys."""
    return exc.render("suite")


def _check_unique(path: Path, items: list[SuiteItem]) -> None:
    seen: dict[str, SuiteItem] = {}
    for item in items:
        first = seen.setdefault(item.item_id, item)
        if first is not item:
            raise UsageError(f"{path}: {item.table} repeats {first.table}: {item.label}")
