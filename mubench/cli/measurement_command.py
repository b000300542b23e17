"""A measurement's command, its signature built from the measurement's option declarations.

``--help``, defaults and ranges come from :mod:`mubench.options.catalog`, the same declarations suites
read: a command body receives the parsed values as a :class:`CommandCall`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mubench.cli.common import friendly_errors, models_or_default
from mubench.cli.declared import typer_parameter
from mubench.defaults import DEFAULT_PAIR
from mubench.options.catalog import MEASUREMENT_OPTIONS, MODEL, OUTPUTS, WIDE


@dataclass
class CommandCall:
    """What a measurement command was given: models, the measurement's options (None: not given),
    where rows go."""

    models: list[str]  # the --model names, or the command's default pair
    models_given: bool
    options: dict[str, Any]  # the measurement's options with a value (defaults included)
    csv: Path | None
    json: Path | None
    quiet: bool
    wide: bool = False  # every column in the terminal table (commands whose default leaves some out)


def measurement_command(
    name: str, default_models: Sequence[str] = DEFAULT_PAIR, wide: bool = False
) -> Callable[[Callable[[CommandCall], None]], Callable[..., None]]:
    """Decorate ``body(call)`` as the command of measurement ``name``: ``--model``, then the
    measurement's options in their declared order, then ``--csv``, ``--json``, ``--quiet`` (and
    ``--wide`` for a command whose default table leaves columns out)."""
    options = MEASUREMENT_OPTIONS[name]
    outputs = (*OUTPUTS, WIDE) if wide else OUTPUTS
    parameters = [typer_parameter(option) for option in (MODEL, *options, *outputs)]

    def decorate(body: Callable[[CommandCall], None]) -> Callable[..., None]:
        def command(**values: Any) -> None:
            given = {o.name: values[o.name] for o in options if values.get(o.name) is not None}
            body(
                CommandCall(
                    models=models_or_default(values["model"], tuple(default_models)),
                    models_given=bool(values["model"]),
                    options=given,
                    csv=values["csv"],
                    json=values["json"],
                    quiet=values["quiet"],
                    wide=values.get("wide", False),
                )
            )

        command.__name__, command.__qualname__ = body.__name__, body.__qualname__
        command.__doc__ = body.__doc__
        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        return friendly_errors(command)

    return decorate
