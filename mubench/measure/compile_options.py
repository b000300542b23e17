"""``--compile-option KEY=VALUE``: TorchInductor settings for ``torch.compile``, checked before anything runs.

Any key of ``torch._inductor.config`` (e.g. ``cpp_wrapper=true``, ``freezing=true``,
``layout_optimization=false``); the value is read as that setting's type (bool, int, float or str), or
for a setting that is unset (None) as a number, true/false or else a string.
"""

from __future__ import annotations

from typing import Any

from mubench.errors import UsageError

CompileOptions = tuple[tuple[str, Any], ...]  # (key, value) pairs, hashable for frozen conditions

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def parse_compile_options(entries: list[str] | tuple[str, ...]) -> CompileOptions:
    """``["cpp_wrapper=true"]`` -> ``(("cpp_wrapper", True),)``; one clear error for a bad entry."""
    import torch._inductor.config as inductor_config

    known = inductor_config.get_config_copy()
    options: dict[str, Any] = {}
    for entry in entries:
        key, sep, text = entry.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key or not text:
            raise UsageError(f"--compile-option takes KEY=VALUE (an inductor setting), got '{entry}'")
        if key not in known:
            raise UsageError(f"--compile-option: torch._inductor.config has no setting '{key}'")
        if key in options:
            raise UsageError(f"--compile-option: '{key}' is given twice")
        options[key] = _typed(key, text, known[key])
    return tuple(sorted(options.items()))


def describe_compile_options(options: CompileOptions) -> str:
    """``cpp_wrapper=True,freezing=True``; empty when there are none."""
    return ",".join(f"{key}={value}" for key, value in options)


def _typed(key: str, text: str, current: Any) -> Any:
    if isinstance(current, bool):
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise UsageError(f"--compile-option {key} is true or false, got '{text}'")
    for kind in (int, float):
        if isinstance(current, kind):
            try:
                return kind(text)
            except ValueError:
                raise UsageError(
                    f"--compile-option {key} is a number ({kind.__name__}), got '{text}'"
                ) from None
    if current is None:  # unset (Optional) setting: the value's own type
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text.lower() in _TRUE if text.lower() in _TRUE + _FALSE else text
    if isinstance(current, str):
        return text
    raise UsageError(f"--compile-option {key} holds a {type(current).__name__}; mubench sets only scalars")
