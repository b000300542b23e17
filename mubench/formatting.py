"""Plain formatters of result values (numbers, ratios, percentages, missing values) as text.

Shared by the terminal tables (``mubench.cli.render``) and the reports; no rich, no typer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Formatter = Callable[[Any], str]


def missing(value: Any) -> bool:
    """None, NaN or pandas' NA: shown as a dash (or nothing, for text)."""
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def integer(value: Any) -> str:
    return "-" if missing(value) else f"{int(value):,}"


def giga(value: Any) -> str:
    return "-" if missing(value) else f"{value / 1e9:,.3f} G"


def fixed(decimals: int) -> Formatter:
    """A formatter with ``decimals`` digits after the point and thousands separators."""

    def format_value(value: Any) -> str:
        return "-" if missing(value) else f"{float(value):,.{decimals}f}"

    return format_value


ratio = fixed(4)


def percent(value: Any) -> str:
    return "-" if missing(value) else f"{100 * value:.1f}%"


def text(value: Any) -> str:
    return "" if missing(value) else str(value)


def weights(value: Any) -> str:
    """A ``checkpoint`` cell in a terminal table: another library's ``FORMAT:PATH@sha256:HEX`` shortened
    to ``FORMAT:NAME@HEX8`` (the rows keep it whole)."""
    label = text(value)
    head, sep, digest = label.partition("@sha256:")
    if not sep:
        return label
    source_format, _, path = head.partition(":")
    return f"{source_format}:{path.rstrip('/').rsplit('/', 1)[-1]}@{digest[:8]}"
