"""What each measurement of a suite accepts, and how one suite item turns into result rows.

Keys are the command's option names without the dashes (``batch-size`` or ``batch_size``). A key
marked as taking a list (``models``, ``reference``, ``steps-sweep``, ``checkpoint``, ``compile-option``)
is passed as one value; any other
key given a list expands the table into one item per value (``batch-size = [1, 8]``: two items).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mubench.errors import UsageError
from mubench.measure.compile_options import parse_compile_options
from mubench.measure.device import NumericFlags, resolve_device
from mubench.measure.flops import FlopConditions, measure_flops
from mubench.measure.latency import LatencyConditions, default_steps, measure_latency
from mubench.measure.params import measure_params
from mubench.measure.robustness import RobustnessConditions, checkpoint_paths, measure_robustness
from mubench.measure.runner import failure_row
from mubench.measure.setup import PAPER_RESOLUTION
from mubench.models.ode_block import SolverConfig
from mubench.registry import get_spec

Rows = list[dict[str, Any]]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Key:
    """One accepted key: the type of its value, and whether that value is itself a list."""

    kind: type
    is_list: bool = False
    unordered: bool = False  # a list whose order means nothing (sorted, so that the item id ignores it)

    def describe(self) -> str:
        name = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[self.kind]
        return f"a list of {name.split(' ', 1)[1]}s" if self.is_list else name

    def accepts(self, value: Any) -> bool:
        values = value if self.is_list else [value]
        if self.is_list and not isinstance(value, list):
            return False
        return all(_is(v, self.kind) for v in values)


def _is(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


MODELS = {"models": Key(str, is_list=True), "note": Key(str)}
SOLVER = {
    "solver": Key(str),
    "ode-steps": Key(int),
    "ode-step-size": Key(float),
    "rtol": Key(float),
    "atol": Key(float),
    "adjoint": Key(bool),
    "ode-backend": Key(str),
}
KEYS: dict[str, dict[str, Key]] = {
    "params": {**MODELS},
    "flops": {
        **MODELS,
        "resolution": Key(int),
        "batch-size": Key(int),
        "channels": Key(int),
        "steps": Key(int),
        "seed": Key(int),
        "tier": Key(str),
        **SOLVER,
    },
    "latency": {
        **MODELS,
        "device": Key(str),
        "dtype": Key(str),
        "batch-size": Key(int),
        "resolution": Key(int),
        "steps": Key(int),
        "sampler": Key(str),
        "eta": Key(float),
        "repeats": Key(int),
        "trajectory-repeats": Key(int),
        "warmup": Key(int),
        "compile": Key(bool),
        "compile-option": Key(str, is_list=True, unordered=True),  # "KEY=VALUE" inductor settings
        "channels-last": Key(bool),
        "cuda-graphs": Key(bool),
        "prepack": Key(bool),
        "tf32": Key(bool),
        "cudnn-benchmark": Key(bool),
        "threads": Key(int),
        "seed": Key(int),
        "prefault": Key(bool),
        "processes": Key(int),
        **SOLVER,
    },
    "robustness": {
        **MODELS,
        "sigma": Key(float),
        "dataset": Key(str),
        "data-root": Key(str),
        "num-images": Key(int),
        "sampler": Key(str),
        "steps": Key(int),
        "eta": Key(float),
        "steps-sweep": Key(int, is_list=True),
        "seed": Key(int),
        "reference": Key(str, is_list=True),
        "checkpoint": Key(str, is_list=True),  # "NAME=PATH" entries, paths relative to the suite file
        "allow-untrained": Key(bool),
        "prefault": Key(bool),
    },
}
# Worker processes per latency item when a table does not say: suites give the verdicts of the claims
# table, so they measure the between-process spread those verdicts respect (the command's default is 1).
SUITE_PROCESSES = 3
# Measurements whose models are measured together in one item (timing round-robin, shared noisy images).
TOGETHER = {"latency", "robustness"}


def _given(
    opts: dict[str, Any], keys: tuple[str, ...], renamed: dict[str, str] | None = None
) -> dict[str, Any]:
    """The ``keys`` the table gives, as keyword arguments (``batch-size`` -> ``batch_size``, or as
    ``renamed``): what a table leaves out keeps the conditions' own default, the same as the command's
    (a flops item holds one model, counted at its own resolution unless the table gives one)."""
    renamed = renamed or {}
    return {renamed.get(k, k.replace("-", "_")): opts[k] for k in keys if k in opts}


def _solver(opts: dict[str, Any]) -> SolverConfig | None:
    renamed = {
        "solver": "method",
        "ode-steps": "steps",
        "ode-step-size": "step_size",
        "ode-backend": "backend",
    }
    given = _given(opts, tuple(SOLVER), renamed)
    return SolverConfig(**given) if given else None


def _flops(opts: dict[str, Any], base: Path) -> FlopConditions:
    given = _given(opts, ("resolution", "batch-size", "channels", "steps", "seed", "tier"))
    return FlopConditions(**given, solver=_solver(opts))


def _latency(opts: dict[str, Any], base: Path) -> LatencyConditions:
    resolve_device(opts.get("device", "cpu"))  # a missing GPU is found before anything runs
    keys = ("device", "dtype", "batch-size", "resolution", "steps", "sampler", "eta", "repeats",
            "trajectory-repeats", "warmup", "compile", "channels-last", "cuda-graphs", "prepack",
            "seed", "prefault", "processes")  # fmt: skip
    given = _given(opts, keys, {"warmup": "warmup_min"})
    given.setdefault("processes", SUITE_PROCESSES)
    if "compile-option" in opts:
        if not opts["compile-option"]:
            raise UsageError("'compile-option' is an empty list; leave it out for inductor's defaults")
        given["compile_options"] = parse_compile_options(opts["compile-option"])
    given.setdefault("steps", default_steps(opts.get("sampler", "ddim")))
    if len(opts["models"]) > 1:  # as `mubench latency`: models timed together share the paper's size
        given.setdefault("resolution", PAPER_RESOLUTION)
    flags = NumericFlags(**_given(opts, ("tf32", "cudnn-benchmark", "threads")))
    return LatencyConditions(**given, flags=flags, solver=_solver(opts))


def _relative_to(base: Path, path: str) -> str:
    return str(path if Path(path).is_absolute() else base / path)


def _robustness(opts: dict[str, Any], base: Path) -> RobustnessConditions:
    pairs = []
    for entry in opts.get("checkpoint", []):
        name, sep, path = entry.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"checkpoint '{entry}': write it as NAME=PATH")
        pairs.append((name, _relative_to(base, path)))
    keys = ("dataset", "num-images", "sampler", "steps", "eta", "seed", "allow-untrained", "prefault")
    lists = {"sigmas": (opts["sigma"],) if "sigma" in opts else None, "checkpoints": tuple(pairs),
             "references": tuple(opts["reference"]) if "reference" in opts else None,
             "steps_sweep": tuple(opts["steps-sweep"]) if "steps-sweep" in opts else None,
             "data_root": _relative_to(base, opts["data-root"]) if "data-root" in opts else None}  # fmt: skip
    return RobustnessConditions(**_given(opts, keys), **{k: v for k, v in lists.items() if v is not None})


CONDITIONS: dict[str, Callable[[dict[str, Any], Path], Any]] = {
    "flops": _flops,
    "latency": _latency,
    "robustness": _robustness,
}


def conditions(kind: str, opts: dict[str, Any], base: Path) -> Any:
    """The measurement's conditions object (validated: bad values raise UsageError); None for params."""
    models = opts["models"]
    for name in models:
        get_spec(name)
    conds = CONDITIONS[kind](opts, base) if kind in CONDITIONS else None
    if getattr(conds, "resolution", None) is not None:
        for name in models:
            get_spec(name).check_resolution(conds.resolution)
    if kind == "robustness":
        checkpoint_paths(models, conds)  # weights for every model, before anything runs
    return conds


def measure(kind: str, models: list[str], conds: Any, run_id: str, tick: Progress) -> Rows:
    """The rows of one suite item; if it fails as a whole, one error row per model (the suite goes on:
    in a suite even bad input found this late, such as a missing dataset, must not stop the rest)."""
    work: dict[str, Callable[[], Rows]] = {
        "params": lambda: [measure_params(models[0], run_id)],
        "flops": lambda: measure_flops(models[0], conds, run_id)[0],
        "latency": lambda: measure_latency(models, conds, run_id, tick),
        "robustness": lambda: measure_robustness(models, conds, run_id, tick),
    }
    known: dict[str, Any] = {}
    if kind == "flops":
        known = {"resolution": conds.resolution, "batch_size": conds.batch_size, "steps": conds.steps}
    elif kind == "robustness":
        known = {"sigma": conds.sigmas[0], "dataset": conds.dataset}
    try:
        return work[kind]()
    except Exception as exc:
        return [failure_row(kind, run_id, name, exc, **known) for name in models]
