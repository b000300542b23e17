"""Which weights each model is scored with, and what they were trained as."""

from __future__ import annotations

from pathlib import Path

from mubench.checkpoints import shipped_checkpoint
from mubench.diffusion.schedules import NoiseSchedule
from mubench.errors import UsageError, opt
from mubench.measure.robustness.conditions import RobustnessConditions
from mubench.registry import ModelSpec
from mubench.sources import noise_schedule


def checkpoint_paths(names: list[str], conds: RobustnessConditions) -> dict[str, Path | None]:
    """Each model's weights: --checkpoint, else the shipped checkpoint, else None (refused unless
    untrained models are allowed). Checks what can be checked before any work."""
    given = dict(conds.checkpoints)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise UsageError(
            f"{opt('checkpoint')} for {', '.join(unknown)}, which is not among the {opt('model')} names"
        )
    absent = [(name, path) for name, path in conds.checkpoints if not Path(path).exists()]
    if absent:
        name, path = absent[0]
        raise UsageError(f"{opt('checkpoint')} {name}={path}: checkpoint '{path}' does not exist")
    paths = {name: Path(given[name]) if name in given else shipped_checkpoint(name) for name in names}
    missing = [name for name, path in paths.items() if path is None]
    if missing and not conds.allow_untrained:
        raise UsageError(
            f"no checkpoint for {', '.join(missing)}: pass {opt('checkpoint')} {missing[0]}=PATH (train one "
            f"with "
            f"`mubench train`), or {opt('allow_untrained')}"
        )
    return paths


def weights_label(path: Path | None, name: str, trained: dict[str, dict] | None = None) -> str:
    """How a row names its weights: ``shipped:<file>``, the path given (another library's: its format,
    path and sha256), or ``untrained``."""
    if path is None:
        return "untrained"
    if trained and (trained.get(name) or {}).get("label"):
        return trained[name]["label"]
    return f"shipped:{path.name}" if path == shipped_checkpoint(name) else str(path)


def trained_schedule(spec: ModelSpec, trained: dict[str, dict]) -> NoiseSchedule:
    """The schedule the weights were trained with (their own betas when the source holds them)."""
    return noise_schedule(trained.get(spec.name, {}), spec.schedule)


def trained_as(spec: ModelSpec, trained: dict[str, dict], key: str) -> str:
    """The schedule or prediction a checkpoint was trained with (the model's registered one if unknown)."""
    return trained.get(spec.name, {}).get(key) or getattr(spec, key)
