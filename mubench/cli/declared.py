"""Declared options (:mod:`mubench.options.catalog`) as typer parameters: flag, help, bounds, default."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from mubench.options import Option


def _annotation(option: Option) -> Any:
    base = Path if option.is_path else option.type
    if option.comma_separated:
        return str | None
    if option.is_list or option.repeatable:
        return list[base] | None  # type: ignore[valid-type]
    return base if option.default is not None else base | None


def typer_parameter(option: Option) -> inspect.Parameter:
    """``option`` as a parameter typer reads: flag, help, parser bounds and default."""
    declarations = [option.flag] if option.short is None else [option.flag, option.short]
    if option.type is bool:
        declarations[0] = f"{option.flag}/--no-{option.key}" if option.default else option.flag
    settings: dict[str, Any] = {"help": option.help}
    if option.range is not None and not option.comma_separated:
        settings.update(option.range.parser_bounds())
    if option.default is None:
        settings["show_default"] = False
    annotation = Annotated[_annotation(option), typer.Option(*declarations, **settings)]
    return inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=option.default,
                             annotation=annotation)  # fmt: skip


def typer_annotation(option: Option) -> Any:
    """``option`` as the ``Annotated`` type of a hand-written typer signature (its default is the
    declared one: give it as the parameter's default)."""
    return typer_parameter(option).annotation
