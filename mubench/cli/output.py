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

UNBOUNDED = 10_000  # "as wide as the content": no table of mubench's comes near it


def columns_from_env(environ: Mapping[str, str] | None = None) -> int | None:
    """``COLUMNS`` as a width, or None when it is unset or not a positive whole number (ignored)."""
    value = (os.environ if environ is None else environ).get("COLUMNS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


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
        for i, indexes in enumerate(groups):
            part = self._part(indexes, first=i == 0, last=i == len(groups) - 1)
            need = _minimum(console, part)
            yield part if need <= options.max_width else _Overflow(part, need)

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
            if len(current) > len(keep) and _minimum(console, self._part(trial, False, False)) > width:
                groups.append(current)
                current = [*keep, index]
            else:
                current = trial
        groups.append(current)
        return groups

    def _part(self, indexes: Iterable[int], first: bool, last: bool) -> Table:
        part = copy.copy(self.table)
        part.columns = [copy.copy(self.table.columns[i]) for i in indexes]
        for position, column in enumerate(part.columns):
            column._index = position  # rich pads the first and last columns by their index
        part.title = self.table.title if first else None
        part.caption = self.table.caption if last else None
        return part


class _Overflow:
    """A table rendered at its own minimum width, wider than the screen, rather than cut."""

    def __init__(self, table: Table, width: int) -> None:
        self.table, self.width = table, width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.table, options.update(width=self.width))


def _minimum(console: Console, table: Table) -> int:
    """The narrowest width at which ``table`` shows every cell and header whole (its title and caption
    wrap to the width the table takes)."""
    return Measurement.get(console, console.options.update(width=UNBOUNDED), table).minimum
