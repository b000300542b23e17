"""What several measurements build alike from their option values: the ODE solver, the shared input
side, the weights given as NAME=PATH, the inference mode, paths relative to a suite file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mubench.defaults import PAPER_RESOLUTION
from mubench.errors import UsageError, opt
from mubench.ranges import check_numbers

Rows = list[dict[str, Any]]


def solver_config(options: Mapping[str, Any]) -> Any:
    """The ODE solver the options ask for, or None when they give none (each model's own default)."""
    from mubench.models.solver_config import SolverConfig

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
        stepping = "adaptive" if config.adaptive else "fixed-step"
        raise UsageError(f"{' and '.join(unused)} has no effect with the {stepping} solver '{config.method}'")
    return config


def shared_resolution(models: Sequence[str], resolution: int | None) -> int | None:
    """The input side models compared together share: the one given, else the paper's 64 px when there
    are several, else None (a single model at its own)."""
    if resolution is not None:
        return resolution
    return PAPER_RESOLUTION if len(models) > 1 else None


def step_counts(value: str | Sequence[int]) -> tuple[int, ...]:
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


def relative_to(base: Path | None, path: str) -> str:
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
        pairs.append((name, relative_to(base, path)))
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


def with_checkpoints(rows: Rows, checkpoints: Sequence[tuple[str, str]]) -> Rows:
    """``rows`` with the weights each model ran with in ``checkpoint`` (models without any: as they are)."""
    from mubench.sources import checkpoint_label

    labels = {name: checkpoint_label(path) for name, path in checkpoints}
    for row in rows:
        if row.get("model") in labels:
            row["checkpoint"] = labels[row["model"]]
    return rows


def inference_mode_fields(models: Sequence[str], o: dict[str, Any], base: Path | None) -> dict[str, Any]:
    """The fields of :class:`~mubench.measure.runtime.mode.InferenceMode` the options give (latency and
    profile share them)."""
    from mubench.measure.runtime.compile_options import parse_compile_options
    from mubench.measure.runtime.device import NumericFlags

    keys = ("device", "dtype", "batch_size", "compile", "channels_last", "cuda_graphs", "prepack", "seed",
            "prefault", "weights")  # fmt: skip
    given = {k: o[k] for k in keys if k in o}
    if "warmup" in o:
        given["warmup_min"] = o["warmup"]
    if "compile_option" in o:
        if not o["compile_option"]:
            raise UsageError(
                f"'{opt('compile_option')}' is an empty list; leave it out for inductor's defaults"
            )
        given["compile_options"] = parse_compile_options(list(o["compile_option"]))
    return dict(
        **given,
        resolution=shared_resolution(models, o.get("resolution")),
        flags=NumericFlags(**{k: o[k] for k in ("tf32", "cudnn_benchmark", "threads") if k in o}),
        solver=solver_config(o),
        checkpoints=checkpoint_pairs(models, o, base),
    )
