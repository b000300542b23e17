"""Rich tables from result frames. Reads rows; never measures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from mubench.formatting import Formatter, text

if TYPE_CHECKING:  # imported where used: the commands import this module at `mubench --help`
    import pandas as pd

Column = tuple[str, str, Formatter]  # (frame column, header, formatter)


def table(
    frame: pd.DataFrame, columns: Sequence[Column], title: str | None = None, caption: str | None = None
) -> Table:
    """A rich table of ``frame`` showing ``columns`` that exist in it; numbers right-aligned."""
    present = [c for c in columns if c[0] in frame.columns]
    # Titles and captions are plain text, which may hold a user's path: never read as rich markup.
    out = Table(title=title and escape(title), caption=caption and escape(caption), caption_justify="left")
    body = [[fmt(row[name]) for name, _, fmt in present] for _, row in frame.iterrows()]
    for i, (_, header, fmt) in enumerate(present):
        width = max((len(cells[i]) for cells in body), default=1)
        if fmt is text and width > 24:  # long text (descriptions, messages) folds
            out.add_column(header, overflow="fold", min_width=16)
        elif fmt is text:  # short text (model names, flags) stays whole
            out.add_column(header, no_wrap=True, min_width=max(width, len(header)))
        else:  # numbers are never wrapped; headers and long text give way instead
            out.add_column(header, justify="right", no_wrap=True, min_width=width)
    for (_, row), cells in zip(frame.iterrows(), body):
        out.add_row(*map(escape, cells), style=None if row.get("status", "ok") == "ok" else "red")
    return out


def first_ok(frame: pd.DataFrame) -> pd.Series | None:
    """The first row whose status is ok (the baseline of ratios), or None."""
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    return ok.iloc[0] if len(ok) else None


def with_ratio_to_first(frame: pd.DataFrame, column: str) -> pd.Series:
    """``column`` of each row divided by that of the first ok row (the baseline)."""
    import pandas as pd

    base = first_ok(frame)
    if base is None or column not in frame or not base[column]:
        return pd.Series(float("nan"), index=frame.index)
    return frame[column] / base[column]
