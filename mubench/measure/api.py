"""One definition per measurement: the options each accepts, how they become checked conditions, and the
run that turns conditions into rows.

The CLI commands and suite files both come through here, so an option means the same, has the same
default and gets the same checks in both: a command passes its option values, a suite table its keys
(``batch-size`` as ``batch_size``). Options are named in snake case; absent or None means the default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mubench.defaults import PAPER_RESOLUTION
from mubench.errors import UsageError, opt
from mubench.ranges import check_numbers

Rows = list[dict[str, Any]]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Option:
    """One option: the type of its value, and whether that value is itself a list (in a suite table, a
    list given to any other option expands the table into one item per value)."""

    kind: type
    is_list: bool = False
    unordered: bool = False  # a list whose order means nothing (sorted, so that a suite item's id ignores it)

    def describe(self) -> str:
        name = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[self.kind]
        return f"a list of {name.split(' ', 1)[1]}s" if self.is_list else name

    def accepts(self, value: Any) -> bool:
        if self.is_list and not isinstance(value, list):
            return False
        return all(_is(v, self.kind) for v in (value if self.is_list else [value]))


def _is(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


SOLVER = {
    "solver": Option(str),
    "ode_steps": Option(int),
    "ode_step_size": Option(float),
    "rtol": Option(float),
    "atol": Option(float),
    "adjoint": Option(bool),
    "ode_backend": Option(str),
}
# Weights read onto the models (mubench's files, diffusers folders, Trainer checkpoints, the authors' cU-Net).
WEIGHTS = {
    "checkpoint": Option(str, is_list=True),  # "NAME=PATH" entries
    "weights": Option(str),  # a Trainer checkpoint's "ema" or "raw" weights
}
# Every measurement's options, besides the models (``--model`` / ``models``) and where rows are written.
OPTIONS: dict[str, dict[str, Option]] = {
    "params": {},
    "flops": {
        "resolution": Option(int),
        "batch_size": Option(int),
        "channels": Option(int),
        "steps": Option(int),
        "seed": Option(int),
        "tier": Option(str),
        "depth": Option(int),
        **SOLVER,
        **WEIGHTS,
    },
    "latency": {
        "device": Option(str),
        "dtype": Option(str),
        "batch_size": Option(int),
        "resolution": Option(int),
        "steps": Option(int),
        "sampler": Option(str),
        "eta": Option(float),
        "repeats": Option(int),
        "trajectory_repeats": Option(int),
        "warmup": Option(int),
        "compile": Option(bool),
        "compile_option": Option(str, is_list=True, unordered=True),  # "KEY=VALUE" inductor settings
        "channels_last": Option(bool),
        "cuda_graphs": Option(bool),
        "prepack": Option(bool),
        "tf32": Option(bool),
        "cudnn_benchmark": Option(bool),
        "threads": Option(int),
        "seed": Option(int),
        "processes": Option(int),
        "prefault": Option(bool),
        **SOLVER,
        **WEIGHTS,
    },
    "robustness": {
        "sigma": Option(float),  # the command takes several; a suite list expands into items
        "dataset": Option(str),
        "data_root": Option(str),
        "num_images": Option(int),
        "sampler": Option(str),
        "steps": Option(int),
        "eta": Option(float),
        "steps_sweep": Option(int, is_list=True),
        "seed": Option(int),
        "reference": Option(str, is_list=True),
        **WEIGHTS,
        "prediction": Option(str),  # what weights whose source does not say were trained to predict
        "allow_untrained": Option(bool),
        "prefault": Option(bool),
        "metric": Option(str, is_list=True, unordered=True),  # psnr, ssim, lpips; absent: all it can
        "lpips_net": Option(str),
        "lpips_backbone": Option(str),  # a path
    },
}
# `mubench profile`: the inference modes of latency; repeats = calls profiled after warm-up.
OPTIONS["profile"] = {
    name: OPTIONS["latency"][name]
    for name in ("device", "dtype", "batch_size", "resolution", "repeats", "warmup", "compile",
                 "compile_option", "channels_last", "prepack", "tf32", "cudnn_benchmark", "threads", "seed",
                 "prefault", *SOLVER)
}  # fmt: skip
KINDS = tuple(OPTIONS)
# Measurements whose models are measured together (timing round-robin, shared noisy images).
TOGETHER = {"latency", "robustness"}


def options_of(kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``kind`` among ``values`` (a command's arguments), None-valued ones left out."""
    return {k: v for k, v in values.items() if k in OPTIONS[kind] and v is not None}


def solver_config(options: Mapping[str, Any]) -> Any:
    """The ODE solver the options ask for, or None when they give none (each model's own default)."""
    from mubench.models.ode_block import SolverConfig

    renamed = {"solver": "method", "ode_steps": "steps", "ode_step_size": "step_size", "rtol": "rtol",
               "atol": "atol", "ode_backend": "backend"}  # fmt: skip
    given = {field: options[name] for name, field in renamed.items() if options.get(name) is not None}
    adjoint = bool(options.get("adjoint", False))
    if not given and not adjoint:
        return None
    config = SolverConfig(**given, adjoint=adjoint)
    ignored = ("rtol", "atol") if not config.adaptive else ("ode_steps", "ode_step_size")
    unused = [opt(name) for name in ignored if options.get(name) is not None]
    if unused:
        kind = "adaptive" if config.adaptive else "fixed-step"
        raise UsageError(f"{' and '.join(unused)} has no effect with the {kind} solver '{config.method}'")
    return config


def shared_resolution(models: Sequence[str], resolution: int | None) -> int | None:
    """The input side models compared together share: the one given, else the paper's 64 px when there
    are several, else None (a single model at its own)."""
    if resolution is not None:
        return resolution
    return PAPER_RESOLUTION if len(models) > 1 else None


def _flops(models: Sequence[str], o: dict[str, Any], base: Path | None) -> Any:
    from mubench.measure.flops import FlopConditions
    from mubench.registry import get_spec

    channels = o.get("channels")
    for name in models:
        spec = get_spec(name)
        if channels is not None and channels != spec.channels and spec.family == "user":
            raise UsageError(f"{opt('channels')} cannot be changed for user model '{spec.name}'")
    keys = ("batch_size", "channels", "steps", "seed", "tier", "depth", "weights")
    return FlopConditions(resolution=shared_resolution(models, o.get("resolution")),
                          solver=solver_config(o), checkpoints=checkpoint_pairs(models, o, base),
                          **{k: o[k] for k in keys if k in o})  # fmt: skip


def _latency(models: Sequence[str], o: dict[str, Any], base: Path | None) -> Any:
    from mubench.measure.compile_options import parse_compile_options
    from mubench.measure.device import NumericFlags, resolve_device
    from mubench.measure.latency import LatencyConditions, default_steps

    keys = ("device", "dtype", "batch_size", "sampler", "eta", "repeats", "trajectory_repeats", "compile",
            "channels_last", "cuda_graphs", "prepack", "seed", "prefault", "processes",
            "weights")  # fmt: skip
    given = {k: o[k] for k in keys if k in o}
    if "warmup" in o:
        given["warmup_min"] = o["warmup"]
    if "compile_option" in o:
        if not o["compile_option"]:
            raise UsageError(
                f"'{opt('compile_option')}' is an empty list; leave it out for inductor's defaults"
            )
        given["compile_options"] = parse_compile_options(list(o["compile_option"]))
    flags = NumericFlags(**{k: o[k] for k in ("tf32", "cudnn_benchmark", "threads") if k in o})
    conds = LatencyConditions(
        **given,
        steps=o.get("steps", default_steps(o.get("sampler", "ddim"))),
        resolution=shared_resolution(models, o.get("resolution")),
        flags=flags,
        solver=solver_config(o),
        checkpoints=checkpoint_pairs(models, o, base),
    )
    resolve_device(conds.device)  # a missing GPU is found before anything runs
    return conds


def _step_counts(value: str | Sequence[int]) -> tuple[int, ...]:
    """A steps sweep: comma-separated text (the command) or a list (a suite)."""
    if isinstance(value, str):
        try:
            counts = tuple(int(part) for part in value.split(","))
        except ValueError:
            raise UsageError(
                f"{opt('steps_sweep')} '{value}': give comma-separated integers, e.g. 1,2,5,10"
            ) from None
    else:
        counts = tuple(value)
    if any(n <= 0 for n in counts):
        raise UsageError(f"{opt('steps_sweep')} {value}: step counts must be positive")
    check_numbers({"steps_sweep": counts})
    return counts


def _relative_to(base: Path | None, path: str) -> str:
    return str(path if base is None or Path(path).is_absolute() else base / path)


def checkpoint_pairs(
    models: Sequence[str], o: dict[str, Any], base: Path | None
) -> tuple[tuple[str, str], ...]:
    """The (model, path) pairs of ``checkpoint`` entries NAME=PATH: each for a model measured, once, and
    each path there; paths relative to ``base``."""
    from mubench.sources import WEIGHTS as WEIGHT_KINDS
    from mubench.sources.diffusers_folder import is_diffusers_folder

    if o.get("weights", "ema") not in WEIGHT_KINDS:
        raise UsageError(f"{opt('weights')} must be one of {', '.join(WEIGHT_KINDS)}, got '{o['weights']}'")
    pairs = []
    for entry in o.get("checkpoint", ()):
        name, sep, path = entry.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"{opt('checkpoint')} '{entry}': write it as NAME=PATH")
        pairs.append((name, _relative_to(base, path)))
    named = [name for name, _ in pairs]
    repeated = sorted({name for name in named if named.count(name) > 1})
    if repeated:
        raise UsageError(f"{opt('checkpoint')} for {', '.join(repeated)} given more than once; give one each")
    own = [name for name in named if name.startswith("diffusers:")]
    if own:
        raise UsageError(
            f"{opt('checkpoint')} for {own[0]}: a diffusers:PATH model runs with its folder's weights"
        )
    unknown = sorted(set(named) - set(models))
    if unknown:
        raise UsageError(
            f"{opt('checkpoint')} for {', '.join(unknown)}, which is not among the {opt('model')} names"
        )
    for name, path in pairs:
        if not Path(path).exists():
            raise UsageError(f"{opt('checkpoint')} {name}={path}: checkpoint '{path}' does not exist")
        if Path(path).is_dir() and not is_diffusers_folder(Path(path)):
            raise UsageError(
                f"{opt('checkpoint')} {name}={path}: '{path}' is a folder but not a diffusers model or "
                "pipeline folder (it has no config.json, unet/ or snapshots/)"
            )
    return tuple(pairs)


def _robustness(models: Sequence[str], o: dict[str, Any], base: Path | None) -> Any:
    from mubench.measure.robustness import RobustnessConditions

    pairs = checkpoint_pairs(models, o, base)
    sigma = o.get("sigma", (0.1,))
    given = {k: o[k] for k in ("dataset", "num_images", "sampler", "steps", "eta", "seed", "allow_untrained",
                               "prefault", "weights", "prediction") if k in o}  # fmt: skip
    if "reference" in o:
        given["references"] = tuple(o["reference"])
    if "steps_sweep" in o:
        given["steps_sweep"] = _step_counts(o["steps_sweep"])
    if "data_root" in o:
        given["data_root"] = _relative_to(base, str(o["data_root"]))
    if "metric" in o:
        if not o["metric"]:
            raise UsageError(f"'{opt('metric')}' is an empty list; leave it out for every metric available")
        given["metrics"] = tuple(sorted(set(o["metric"])))
    if "lpips_net" in o:
        given["lpips_net"] = o["lpips_net"]
    if "lpips_backbone" in o:
        given["lpips_backbone"] = _relative_to(base, str(o["lpips_backbone"]))
    return RobustnessConditions(
        sigmas=tuple(sigma) if isinstance(sigma, list | tuple) else (sigma,),
        checkpoints=tuple(pairs),
        **given,
    )


def _profile(models: Sequence[str], o: dict[str, Any], base: Path | None) -> Any:
    from mubench.measure.profile_run import ProfileConditions

    mode = _latency(models, {k: v for k, v in o.items() if k != "repeats"}, base)
    return ProfileConditions(mode=mode, **({"calls": o["repeats"]} if "repeats" in o else {}))


_BUILDERS: dict[str, Callable[[Sequence[str], dict[str, Any], Path | None], Any]] = {
    "flops": _flops,
    "latency": _latency,
    "robustness": _robustness,
    "profile": _profile,
}


def check_models(models: Sequence[str]) -> None:
    """Every name known (or importable), each given once."""
    from mubench.registry import get_spec

    repeated = sorted({n for n in models if list(models).count(n) > 1})
    if repeated:
        raise UsageError(f"{opt('model')} {', '.join(repeated)} given more than once; name each model once")
    for name in models:
        get_spec(name)


def conditions(kind: str, models: Sequence[str], options: Mapping[str, Any], base: Path | None = None) -> Any:
    """The checked conditions of measuring ``models`` with ``options`` (None for params).

    ``options`` holds option names of :data:`OPTIONS` (absent or None: the default); paths in them are
    relative to ``base`` when given (a suite file's folder). Raises :class:`UsageError` for bad input,
    before anything is measured.
    """
    from mubench.registry import get_spec

    unknown = sorted(set(options) - set(OPTIONS[kind]))
    if unknown:
        raise UsageError(f"{opt(unknown[0])} is not an option of {kind}")
    given = {k: v for k, v in options.items() if v is not None}
    check_numbers(given)
    check_models(models)
    conds = _BUILDERS[kind](models, given, base) if kind in _BUILDERS else None
    if getattr(conds, "resolution", None) is not None:
        for name in models:
            get_spec(name).check_resolution(conds.resolution)
    if kind == "robustness":
        from mubench.measure.robustness import checkpoint_paths, metric_plan

        checkpoint_paths(list(models), conds)  # weights for every model, before anything runs
        metric_plan(conds)  # LPIPS asked for: its backbone file is there
    return conds


def with_checkpoints(rows: Rows, checkpoints: Sequence[tuple[str, str]]) -> Rows:
    """``rows`` with the weights each model ran with in ``checkpoint`` (models without any: as they are)."""
    from mubench.sources import checkpoint_label

    labels = {name: checkpoint_label(path) for name, path in checkpoints}
    for row in rows:
        if row.get("model") in labels:
            row["checkpoint"] = labels[row["model"]]
    return rows


@dataclass
class Measured:
    """What a measurement gives: its rows, and for flops with a depth each model's per-module MACs."""

    rows: Rows
    breakdowns: list[Any]


def measure(
    kind: str,
    models: Sequence[str],
    conds: Any,
    run_id: str,
    tick: Progress | None = None,
    on_rows: Callable[[Rows], None] | None = None,
) -> Measured:
    """Measure ``models`` under ``conds``. A model that fails becomes an error row and the others go on;
    ``on_rows`` gets every row so far as they finish (to keep them if the run is interrupted)."""
    from mubench.measure.runner import run_item

    tick = tick or (lambda _: None)
    keep = on_rows or (lambda _: None)
    if kind == "latency":
        from mubench.measure.latency import measure_latency

        rows = with_checkpoints(measure_latency(list(models), conds, run_id, tick), conds.checkpoints)
        keep(rows)
        return Measured(rows, [])
    if kind == "profile":
        from mubench.measure.profile_run import measure_profile

        rows = measure_profile(list(models), conds, run_id, tick)
        keep(rows)
        return Measured(rows, [])
    if kind == "robustness":
        from mubench.measure.robustness import measure_robustness

        return Measured(measure_robustness(list(models), conds, run_id, tick, on_rows=keep), [])
    rows: Rows = []
    breakdowns: list[Any] = []
    for name in models:
        if kind == "params":
            from mubench.measure.params import measure_params

            rows += run_item("params", run_id, name, lambda name=name: [measure_params(name, run_id)])
        else:
            from mubench.measure.flops import measure_flops

            def count(name: str = name) -> Rows:
                found, breakdown = measure_flops(name, conds, run_id)
                breakdowns.append(breakdown)
                return found

            rows += with_checkpoints(run_item("flops", run_id, name, count, resolution=conds.resolution,
                                              batch_size=conds.batch_size, steps=conds.steps),
                                     conds.checkpoints)  # fmt: skip
        keep(rows)
        tick(name)
    return Measured(rows, breakdowns)
