"""A measurement as an object: its name, its options (declared once, :mod:`mubench.options.catalog`),
how option values become its typed conditions, and how models are measured under them into rows.

The CLI commands, suite files and Python callers all go through these objects, so an option means the
same, has the same default and gets the same checks everywhere. Options are named in snake case; absent
or None means the default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from mubench.errors import UsageError, opt
from mubench.options import Option
from mubench.ranges import check_numbers

Rows = list[dict[str, Any]]
Progress = Callable[[str], None]
KeepRows = Callable[[Rows], None]


@dataclass
class Measured:
    """What a measurement gives: its rows, and for flops with a depth each model's per-module MACs."""

    rows: Rows
    breakdowns: list[Any] = field(default_factory=list)


C = TypeVar("C")  # a measurement's conditions: LatencyConditions, FlopConditions, ...


@dataclass(frozen=True)
class Measurement(Generic[C]):
    """One measurement: ``params``, ``flops``, ``latency``, ``profile`` or ``robustness``, with its
    conditions type ``C``."""

    name: str
    options: tuple[Option, ...]
    # (models, checked option values, the folder relative paths are read from) -> conditions
    build: Callable[[Sequence[str], dict[str, Any], Path | None], C]
    # (models, conditions, run id, progress, keep rows so far) -> what was measured
    run: Callable[[Sequence[str], C, str, Progress, KeepRows], Measured]
    together: bool = False  # models measured together (round-robin timing, shared noisy images)
    failure_fields: Callable[[C], dict[str, Any]] = lambda conds: {}  # keys of a whole-item failure row
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # e.g. rigorous: 3 processes
    notes: Callable[[C], list[str]] = lambda conds: []  # what to say once of a run's conditions

    def option(self, name: str) -> Option:
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(name)

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(option.name for option in self.options)

    def with_preset(self, preset: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` over the named preset's values (given values win)."""
        if preset is None:
            return dict(options)
        if preset not in self.presets:
            known = ", ".join(self.presets) or "none"
            raise UsageError(
                f"{opt('preset')} '{preset}' is not a preset of {self.name} (its presets: {known})"
            )
        return {**self.presets[preset], **options}

    def conditions(self, models: Sequence[str], options: Mapping[str, Any], base: Path | None = None) -> Any:
        """The checked conditions of measuring ``models`` with ``options``.

        ``options`` holds this measurement's option names (absent or None: the default); paths in them
        are relative to ``base`` when given (a suite file's folder). Raises :class:`UsageError` for bad
        input, before anything is measured.
        """
        from mubench.registry import get_spec

        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            raise UsageError(f"{opt(unknown[0])} is not an option of {self.name}")
        given = {k: v for k, v in options.items() if v is not None}
        given = self.with_preset(given.pop("preset", None), given)
        check_numbers(given)
        check_models(models)
        conds = self.build(models, given, base)
        if getattr(conds, "resolution", None) is not None:
            for name in models:
                get_spec(name).check_resolution(conds.resolution)
        return conds

    def measure(
        self,
        models: Sequence[str],
        conds: C,
        run_id: str,
        tick: Progress | None = None,
        on_rows: KeepRows | None = None,
    ) -> Measured:
        """Measure ``models`` under ``conds``. A model that fails becomes an error row and the others go
        on; ``on_rows`` gets every row so far as they finish (to keep them if the run is interrupted)."""
        return self.run(list(models), conds, run_id, tick or (lambda _: None), on_rows or (lambda _: None))


def check_models(models: Sequence[str]) -> None:
    """Every name known (or importable), each given once."""
    from mubench.registry import get_spec

    repeated = sorted({n for n in models if list(models).count(n) > 1})
    if repeated:
        raise UsageError(f"{opt('model')} {', '.join(repeated)} given more than once; name each model once")
    for name in models:
        get_spec(name)
