"""The types of a diffusers folder's ``config.json`` and ``scheduler_config.json``, checked before use.

A value of the wrong type (a string for a count, an empty list, a negative step count) gets one line
naming the field, instead of failing deep inside mubench or diffusers. ``sample_size`` may be a number or
an (height, width) pair, as diffusers allows; mubench's models are square, so a pair must be too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mubench.errors import UsageError


def _whole(least: int, optional: bool = False) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if optional and value is None:
            return None
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
        return None if ok else f"a whole number >= {least}{' or null' if optional else ''}"

    return check


def _number(low: float, high: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok and low < value < high else f"a number in ({low:g}, {high:g})"

    return check


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def _list_of(item: Callable[[Any], str | None], what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = isinstance(value, list) and value and all(item(v) is None for v in value)
        return None if ok else f"a non-empty list of {what}"

    return check


def _sample_size(value: Any) -> str | None:
    if value is None or _whole(1)(value) is None:
        return None
    if isinstance(value, list) and len(value) == 2 and all(_whole(1)(v) is None for v in value):
        return None
    return "a whole number >= 1 or a [height, width] pair of them"


UNET_FIELDS: dict[str, Callable[[Any], str | None]] = {
    "sample_size": _sample_size,
    "in_channels": _whole(1),
    "out_channels": _whole(1),
    "block_out_channels": _list_of(_whole(1), "whole numbers >= 1"),
    "down_block_types": _list_of(_text, "block names"),
    "up_block_types": _list_of(_text, "block names"),
    "layers_per_block": _whole(1),
    "norm_num_groups": _whole(1),
    "norm_eps": _number(0, math.inf),
    "attention_head_dim": _whole(1, optional=True),
    "attn_norm_num_groups": _whole(1, optional=True),
    "time_embedding_dim": _whole(1, optional=True),
    "freq_shift": _number(-math.inf, math.inf),
    "mid_block_scale_factor": _number(-math.inf, math.inf),
    "flip_sin_to_cos": _flag,
    "center_input_sample": _flag,
    "add_attention": _flag,
}
SCHEDULER_FIELDS: dict[str, Callable[[Any], str | None]] = {
    "num_train_timesteps": _whole(2),
    "beta_start": _number(0, 1),
    "beta_end": _number(0, 1),
    "beta_schedule": _text,
    "prediction_type": _text,
    "rescale_betas_zero_snr": _flag,
    "trained_betas": lambda v: None if v is None else _list_of(_number(0, 1), "numbers in (0, 1)")(v),
}


def _check(
    config: dict[str, Any], path: Path, fields: dict[str, Callable[[Any], str | None]], what: str
) -> None:
    for name, check in fields.items():
        if name in config:
            expected = check(config[name])
            if expected is not None:
                shown = repr(config[name])
                shown = shown if len(shown) <= 40 else shown[:36] + " ..."
                raise UsageError(f"{what} '{path}': {name} is {shown}; it must be {expected}")


def check_unet_config(config: dict[str, Any], path: Path) -> None:
    """Refuse a UNet2DModel config whose fields have the wrong type or an impossible value."""
    _check(config, path, UNET_FIELDS, "diffusers config")
    widths = config.get("block_out_channels")
    for field in ("down_block_types", "up_block_types"):
        if widths is not None and field in config and len(config[field]) != len(widths):
            raise UsageError(
                f"diffusers config '{path}': {field} has {len(config[field])} entries and block_out_channels "
                f"{len(widths)}; they must be as many"
            )
    sample_resolution(config, path)


def check_scheduler_config(config: dict[str, Any], path: Path) -> None:
    """Refuse a scheduler config whose fields have the wrong type or an impossible value."""
    _check(config, path, SCHEDULER_FIELDS, "scheduler config")


def sample_resolution(config: dict[str, Any], path: Path) -> int | None:
    """``sample_size`` as one side (None when absent); a pair of two different sides is refused."""
    size = config.get("sample_size")
    if isinstance(size, list):
        if size[0] != size[1]:
            raise UsageError(
                f"diffusers config '{path}': sample_size {size} is not square; mubench measures square images"
            )
        return int(size[0])
    return None if size is None else int(size)
