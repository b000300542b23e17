"""Rich tables from result frames. Reads rows; never measures."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from rich.table import Table

Formatter = Callable[[Any], str]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def integer(value: Any) -> str:
    return "-" if _missing(value) else f"{int(value):,}"


def millions(value: Any) -> str:
    return "-" if _missing(value) else f"{value / 1e6:,.3f} M"


def giga(value: Any) -> str:
    return "-" if _missing(value) else f"{value / 1e9:,.3f} G"


def ratio(value: Any) -> str:
    return "-" if _missing(value) else f"{value:.4f}"


def percent(value: Any) -> str:
    return "-" if _missing(value) else f"{100 * value:.1f}%"


def text(value: Any) -> str:
    return "" if _missing(value) else str(value)


Column = tuple[str, str, Formatter]  # (frame column, header, formatter)


def table(
    frame: pd.DataFrame, columns: Sequence[Column], title: str | None = None, caption: str | None = None
) -> Table:
    """A rich table of ``frame`` showing ``columns`` that exist in it; numbers right-aligned."""
    present = [c for c in columns if c[0] in frame.columns]
    out = Table(title=title, caption=caption, caption_justify="left")
    body = [[fmt(row[name]) for name, _, fmt in present] for _, row in frame.iterrows()]
    for i, (_, header, fmt) in enumerate(present):
        width = max((len(cells[i]) for cells in body), default=1)
        if fmt is text:  # long text folds; short text (names) stays whole
            out.add_column(header, overflow="fold", min_width=min(width, 16))
        else:  # numbers are never wrapped; headers and long text give way instead
            out.add_column(header, justify="right", no_wrap=True, min_width=width)
    for (_, row), cells in zip(frame.iterrows(), body):
        out.add_row(*cells, style=None if row.get("status", "ok") == "ok" else "red")
    return out


def with_ratio_to_first(frame: pd.DataFrame, column: str, by: str = "model") -> pd.Series:
    """``column`` of each row divided by that of the first row's ``by`` group (the baseline)."""
    if frame.empty or column not in frame:
        return pd.Series(dtype=float)
    base = frame[column].iloc[0]
    return frame[column] / base if base else pd.Series(float("nan"), index=frame.index)
