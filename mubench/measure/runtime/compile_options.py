"""``--compile-option KEY=VALUE``: TorchInductor settings for ``torch.compile``, checked before anything runs.

Any bool, int, float or str setting of ``torch._inductor.config`` (e.g. ``cpp_wrapper=true``,
``freezing=true``, ``layout_optimization=false``); the value is read as the setting's declared type.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Any

from mubench.errors import UsageError, opt

CompileOptions = tuple[tuple[str, Any], ...]  # (key, value) pairs, hashable for frozen conditions

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_SCALARS = (bool, int, float, str)
_RESERVED = ",+()="  # would make the mode label, e.g. compile(a=1,b=2)+channels_last, ambiguous


def parse_compile_options(entries: list[str] | tuple[str, ...]) -> CompileOptions:
    """``["cpp_wrapper=true"]`` -> ``(("cpp_wrapper", True),)``, sorted by key; one line for a bad entry."""
    import torch._inductor.config as inductor_config

    known = inductor_config.get_config_copy()
    options: dict[str, Any] = {}
    for entry in entries:
        key, sep, text = entry.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key or not text:
            raise UsageError(f"{opt('compile_option')} takes KEY=VALUE (an inductor setting), got '{entry}'")
        if key not in known:
            raise UsageError(f"{opt('compile_option')}: torch._inductor.config has no setting '{key}'")
        if key in options:
            raise UsageError(f"{opt('compile_option')}: '{key}' is given twice")
        declared = inductor_config.get_type(key) if hasattr(inductor_config, "get_type") else type(known[key])
        options[key] = _typed(key, text, declared)
    return tuple(sorted(options.items()))


def describe_compile_options(options: CompileOptions) -> str:
    """``cpp_wrapper=True,freezing=True``; empty when there are none."""
    return ",".join(f"{key}={value}" for key, value in options)


def _typed(key: str, text: str, declared: Any) -> Any:
    value_type = _scalar_type(declared)
    if typing.get_origin(declared) is typing.Literal:
        choices = [str(choice) for choice in typing.get_args(declared)]
        if text not in choices:
            raise UsageError(f"{opt('compile_option')} {key} is one of {', '.join(choices)}, got '{text}'")
        return text
    if value_type is None:
        raise UsageError(
            f"{opt('compile_option')} {key} is not a bool, int, float or str setting; mubench sets only those"
        )
    if value_type is bool:
        if text.lower() not in _TRUE + _FALSE:
            raise UsageError(f"{opt('compile_option')} {key} is true or false, got '{text}'")
        return text.lower() in _TRUE
    if value_type in (int, float):
        try:
            value = value_type(text)
        except ValueError:
            raise UsageError(
                f"{opt('compile_option')} {key} is a number ({value_type.__name__}), got '{text}'"
            ) from None
        if not math.isfinite(value):
            raise UsageError(f"{opt('compile_option')} {key} must be a finite number, got '{text}'")
        return value
    if any(char in text for char in _RESERVED):
        raise UsageError(
            f"{opt('compile_option')} {key}: a value may not contain any of {' '.join(_RESERVED)}"
        )
    return text


def _scalar_type(declared: Any) -> type | None:
    """bool, int, float or str for a setting declared as one of them or as one of them or None."""
    if declared in _SCALARS:
        return declared
    if typing.get_origin(declared) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(declared) if arg is not type(None)]
        if len(rest) == 1 and rest[0] in _SCALARS:
            return rest[0]
    return None
