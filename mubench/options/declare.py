"""How an option is declared: its name, value type, help, default, range, unit, and how lists are given.

The CLI builds each measurement command's signature from these declarations, suites read their keys and
types, and the measurements build their conditions from the values: an option is declared once.
Standard library only: every command's ``--help`` imports this.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Range:
    """The values a numeric option accepts: the CLI's parser checks it (typer's min/max, from
    :meth:`parser_bounds`) and :func:`mubench.ranges.check_numbers` checks it for suites, Python callers
    and the conditions' own constructors."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is refused
    high_open: bool = False
    high_varies: bool = False  # the high bound depends on the machine: kept out of --help

    def parser_bounds(self) -> dict[str, Any]:
        """typer.Option's ``min``/``max``: closed bounds only (typer has no open ones; check_numbers
        refuses an open bound's own value, and a high bound that varies by machine)."""
        high = None if self.high_open or self.high_varies else self.high
        return {"min": None if self.low_open else self.low, "max": high}

    def refusal(self, value: float) -> str | None:
        """Why ``value`` is refused, as "must be ..." ends (None: accepted)."""
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if not (below or above):
            return None
        counting = self.low in (0, 1) and not self.low_open and not isinstance(self.high, float)
        if self.high is None or counting:  # a count, or a number bounded below only
            if above:
                return f"at most {self.high:,}"
            if self.low == 0:
                return "positive" if self.low_open else "0 or more"
            return "positive" if self.low == 1 else f"at least {self.low:g}"
        low, high = (
            ("(" if self.low_open else "[") + f"{self.low:g}",
            f"{self.high:g}" + (")" if self.high_open else "]"),
        )
        return f"in {low}, {high}"


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


@dataclass(frozen=True)
class Option:
    """One option of a measurement (``--batch-size`` on the command line, ``batch-size`` in a suite).

    ``is_list``: the value is itself a list (a repeatable flag; one suite value). Any other option given
    a list in a suite expands the table into one item per value. ``repeatable`` marks the few that the
    command takes several of at once (``--sigma 0.1 --sigma 0.3``) while a suite list still expands.
    ``comma_separated``: a list the command takes as one text, e.g. ``--steps-sweep 1,2,5``.
    """

    name: str  # snake case; the flag is --name-with-dashes
    type: type  # of the value, or of each element of a list: int, float, str or bool
    help: str
    default: Any = None  # None: absent (the measurement's own choice, which the help names)
    is_list: bool = False
    unordered: bool = False  # a list whose order means nothing (sorted: a suite item's id ignores it)
    repeatable: bool = False
    comma_separated: bool = False
    range: Range | None = None  # numbers only
    unit: str = ""  # of a number: "px", "images", "s", ...
    short: str | None = None  # e.g. "-m"
    is_path: bool = False  # relative paths in a suite are read from the suite file's folder

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def key(self) -> str:
        """The option's key in a suite table."""
        return self.name.replace("_", "-")

    def but(self, **changes: Any) -> Option:
        """This option with another default or help (a command whose use of it differs): same name, type
        and range."""
        return replace(self, **changes)

    def describe(self) -> str:
        name = _TYPE_NAMES[self.type]
        return f"a list of {name.split(' ', 1)[1]}s" if self.is_list else name

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` (from a suite file) has this option's type."""
        if self.is_list and not isinstance(value, list):
            return False
        return all(_is(v, self.type) for v in (value if self.is_list else [value]))


def _is(value: Any, value_type: type) -> bool:
    if value_type is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if value_type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, value_type)
