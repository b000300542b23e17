"""Where tables go: a console as wide as a table needs when piped, and tables that never cut a figure.

rich assumes 80 columns when stdout is not a terminal (or the terminal's width, read from stderr), and
shortens cells and headers with an ellipsis to fit. Here, piped output is as wide as each table's natural
width (or ``COLUMNS`` when set), headers wrap between words, and a table wider than the screen is split
into several, each repeating the key column, so every figure is printed whole.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping

from rich.console import Console, ConsoleDimensions, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

UNBOUNDED = 10_000  # "as wide as the content": no table of mubench's comes near it


def columns_from_env(environ: Mapping[str, str] | None = None) -> int | None:
    """``COLUMNS`` as a width, or None when it is unset or not a whole number in [1, 100000] (ignored)."""
    value = (os.environ if environ is None else environ).get("COLUMNS", "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= 100_000 else None


class OutputConsole(Console):
    """A rich console of stdout whose width is ``COLUMNS`` when valid, the terminal's when stdout is one,
    and unbounded when stdout is piped or redirected (tables then print at their natural width)."""

    def __init__(self, **kwargs: object) -> None:
        environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # read here, not by rich
        super().__init__(width=columns_from_env(), _environ=environ, **kwargs)  # type: ignore[arg-type]

    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(UNBOUNDED, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


class WholeTable:
    """A rich table printed without cutting any cell or header: at the width it is given if it fits,
    else split into column groups that each fit, every group starting with the first ``keep`` columns
    (title over the first group, caption under the last). A column wider than the width on its own is
    printed whole all the same."""

    def __init__(self, table: Table, keep: int = 1) -> None:
        self.table = table
        self.keep = keep

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        groups = self.groups(console, options.max_width)
        if len(groups) == 1:
            yield _fitted(console, self.table, options.max_width)
            return
        widths = []
        for i, indexes in enumerate(groups):
            part = self._part(indexes, first=i == 0)
            widths.append(max(_minimum(console, part), min(options.max_width, _measure(console, part))))
            yield _fitted(console, part, options.max_width)
        if self.table.caption:  # under the parts, as wide as the widest (not the last, maybe narrow)
            caption = Text.from_markup(str(self.table.caption), style="table.caption")
            yield _AtWidth(caption, max(widths))

    def groups(self, console: Console, width: int) -> list[list[int]]:
        """The column indexes of each printed table: all of them when they fit ``width``."""
        count = len(self.table.columns)
        keep = list(range(min(self.keep, count)))
        if _minimum(console, self.table) <= width or count <= len(keep) + 1:
            return [list(range(count))]
        groups: list[list[int]] = []
        current = list(keep)
        for index in range(len(keep), count):
            trial = [*current, index]
            if len(current) > len(keep) and _minimum(console, self._part(trial, False)) > width:
                groups.append(current)
                current = [*keep, index]
            else:
                current = trial
        groups.append(current)
        return groups

    def _part(self, indexes: Iterable[int], first: bool) -> Table:
        part = copy.copy(self.table)
        part.columns = [copy.copy(self.table.columns[i]) for i in indexes]
        for position, column in enumerate(part.columns):
            column._index = position  # rich pads the first and last columns by their index
        part.title = self.table.title if first else None
        part.caption = None
        return part


class _AtWidth:
    """A renderable at a given width: a table at its minimum when wider than the screen (rather than cut),
    a caption as wide as the tables above it."""

    def __init__(self, renderable: Table | Text, width: int) -> None:
        self.renderable, self.width = renderable, width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.renderable, options.update(width=self.width))


def _fitted(console: Console, table: Table, width: int) -> Table | _AtWidth:
    """``table`` as it fits ``width``: as is when it fits whole; else with each column given its minimum
    (every cell and header word whole) and the space left shared in proportion to what each lacks of
    its natural width (rich's own squeeze may go below a column's minimum, then crop the line); at its
    minimum width, wider than ``width``, when even that does not fit."""
    natural, least = _measure(console, table), _minimum(console, table)
    if natural <= width:
        return table
    if least > width:
        return _AtWidth(table, least)
    wide = console.options.update(width=UNBOUNDED)
    ranges = [table._measure_column(console, wide, column) for column in table.columns]
    spare = width - least
    wants = [r.maximum - r.minimum for r in ranges]
    gives = [spare * want // max(1, sum(wants)) for want in wants]
    fitted = copy.copy(table)
    fitted.columns = []
    for column, measured, give in zip(table.columns, ranges, gives):
        column = copy.copy(column)
        column.width = measured.minimum + give - table._get_padding_width(column._index)
        fitted.columns.append(column)
    return fitted


def _measure(console: Console, table: Table) -> int:
    """The natural width of ``table``: every cell on one line."""
    return Measurement.get(console, console.options.update(width=UNBOUNDED), table).maximum


def _minimum(console: Console, table: Table) -> int:
    """The narrowest width at which ``table`` shows every cell and header whole (its title and caption
    wrap to the width the table takes)."""
    return Measurement.get(console, console.options.update(width=UNBOUNDED), table).minimum
