"""Rich tables from result frames. Reads rows; never measures."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from mubench.cli.output import WholeTable
from mubench.formatting import Formatter, text

if TYPE_CHECKING:  # imported where used: the commands import this module at `mubench --help`
    import pandas as pd

Column = tuple[str, str, Formatter]  # (frame column, header, formatter)
Caption = str | Sequence[tuple[str | None, str]]  # text, or sentences each about one frame column (or None)
EMPTY = ("", "-")  # cells that say nothing: a column of only these is left out


def table(
    frame: pd.DataFrame,
    columns: Sequence[Column],
    title: str | None = None,
    caption: Caption | None = None,
    hide: Collection[str] = (),
) -> WholeTable:
    """A rich table of ``frame`` showing ``columns`` that exist in it and say something (not every cell
    empty; a status column only when a row is not ok); numbers right-aligned, never cut. Columns named in
    ``hide`` are left out and listed in the caption as what ``--wide`` adds. A caption given as
    (column, sentence) pairs keeps the sentences of the columns shown (and those of None)."""
    body = {name: [fmt(value) for value in frame[name]] for name, _, fmt in columns if name in frame.columns}
    said = [c for c in columns if c[0] in body and any(cell not in EMPTY for cell in body[c[0]])]
    said = [c for c in said if c[0] != "status" or any(cell != "ok" for cell in body["status"])]
    present = [c for c in said if c[0] not in hide]
    text_caption = _caption(caption, {name for name, _, _ in present})
    wider = [header for name, header, _ in said if name in hide]
    if wider:
        text_caption = f"{text_caption} --wide adds: {', '.join(wider)}.".strip()
    # Titles and captions are plain text, which may hold a user's path: never read as rich markup.
    out = Table(title=title and escape(title), caption=text_caption and escape(text_caption),
                caption_justify="left")  # fmt: skip
    for name, header, fmt in present:
        cells = body[name]
        width = max((len(cell) for cell in cells), default=1)
        word = max((len(w) for w in header.split()), default=1)  # headers wrap between words
        if fmt is text and width > 24:  # long text (descriptions, messages) wraps between words
            longest = max((len(w) for cell in cells for w in cell.split()), default=1)
            out.add_column(header, overflow="fold", min_width=max(16, word, min(longest, 32)))
        elif fmt is text:  # short text (model names, flags) stays whole
            out.add_column(header, overflow="fold", min_width=max(width, word))
        else:  # numbers are never wrapped nor cut
            out.add_column(header, justify="right", overflow="fold", min_width=max(width, word))
    status = frame["status"] if "status" in frame.columns else None
    for i in range(len(frame)):
        failed = status is not None and status.iloc[i] != "ok"
        out.add_row(*(escape(body[name][i]) for name, _, _ in present), style="red" if failed else None)
    return WholeTable(out)


def _caption(caption: Caption | None, shown: set[str]) -> str:
    if caption is None or isinstance(caption, str):
        return caption or ""
    return " ".join(sentence for column, sentence in caption if column is None or column in shown)


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
