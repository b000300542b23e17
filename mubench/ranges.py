"""Every numeric option's range, as its declaration gives it (:mod:`mubench.options`): the CLI's parser
gets it (``--help`` shows it) through :func:`bounds`, and :func:`check_numbers` checks it for suites,
Python callers and the conditions' own constructors. Standard library only: every command's ``--help``
imports this."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mubench.errors import UsageError, opt
from mubench.options.catalog import COMMAND_OPTIONS, COMMAND_RANGES, MEASUREMENT_OPTIONS
from mubench.options.declare import Range


def _declared_ranges() -> dict[str, Range]:
    """Each numeric option's range by name, from its declaration (an option means the same everywhere)."""
    every = (*MEASUREMENT_OPTIONS.values(), *COMMAND_OPTIONS.values())
    declared = [o for options in every for o in options if o.range is not None]
    return {**{o.name: o.range for o in declared}, **COMMAND_RANGES}


RANGES: dict[str, Range] = _declared_ranges()


def bounds(name: str) -> dict[str, Any]:
    """The range of option ``name`` as typer.Option's keywords: the parser refuses values out of it."""
    return RANGES[name].parser_bounds()


def check_numbers(options: Mapping[str, Any]) -> None:
    """Numbers are finite and within their :data:`RANGES`: checked before anything is built, so that no
    value overflows or hangs later."""
    for name, value in options.items():
        values = value if isinstance(value, list | tuple) else [value]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
            raise UsageError(f"{opt(name)} must be a finite number, got {value}")
        if name not in RANGES:
            continue
        for v in numbers:
            why = RANGES[name].refusal(v)
            if why:
                raise UsageError(f"{opt(name)} must be {why}, got {v}")
