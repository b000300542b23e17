"""What every measurement's section is made with: a plot as an image block, a column's values in words, a
table of formatted cells.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from mubench.report.document import Image
from mubench.report.output import PLOTS_DIR
from mubench.report.rows import column


def plot_image(images: Mapping[str, bytes], name: str, alt: str, caption: str) -> list[Image]:
    return [Image(f"{PLOTS_DIR}/{name}.png", images[name], alt, caption)] if name in images else []


def distinct_values(frame: pd.DataFrame, name: str) -> str:
    """The distinct values of a column, in order, joined ("—" when none)."""
    values = [plain(v) for v in column(frame, name).dropna()]
    return ", ".join(dict.fromkeys(values)) or "—"


def plain(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def format_table(frame: pd.DataFrame, columns: list[tuple[str, str, Callable[[Any], str]]]) -> pd.DataFrame:
    """A table of strings: ``columns`` (name, header, formatter) that exist in ``frame``."""
    out = {header: [fmt(v) for v in frame[name]] for name, header, fmt in columns if name in frame}
    return pd.DataFrame(out)
