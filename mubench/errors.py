"""Errors that the CLI turns into one clear line instead of a traceback.

Messages name the options they are about with :func:`opt`, so that each caller sees them in its own
terms: the CLI prints ``--batch-size``, a suite file ``batch-size``, and Python callers ``batch_size``
(``UsageError.field`` holds the first one named).
"""

from __future__ import annotations

import re

_MARK = "\x1f"  # ASCII unit separator: brackets an option's field name inside a message
_MARKED = re.compile(f"{_MARK}([a-z0-9_]+){_MARK}")
_SUITE_KEYS = {"model": "models"}  # suite keys that differ from the flag without its dashes
STYLES = ("python", "cli", "suite")


def opt(field: str) -> str:
    """The option ``field`` (snake case, e.g. ``batch_size``) as it will be named in a message."""
    return f"{_MARK}{field}{_MARK}"


def option_name(field: str, style: str) -> str:
    """``field`` as written in ``style``: ``--batch-size`` (cli), ``batch-size`` (suite), ``batch_size``."""
    if style == "cli":
        return "--" + field.replace("_", "-")
    if style == "suite":
        return _SUITE_KEYS.get(field, field.replace("_", "-"))
    return field


class MubenchError(Exception):
    """Base class: the message is written for the user, one line, saying what to do."""

    exit_code = 1

    def __init__(self, message: str = "", field: str | None = None):
        super().__init__(message)
        self.message = message
        found = _MARKED.search(message)
        self.field = field or (found[1] if found else None)

    def render(self, style: str = "python") -> str:
        """The message with its options written for ``style`` (python, cli or suite)."""
        return _MARKED.sub(lambda m: option_name(m[1], style), self.message)

    def __str__(self) -> str:
        return self.render("python")


class UsageError(MubenchError):
    """Bad usage or input (unknown model, impossible resolution, unwritable path): exit code 2."""

    exit_code = 2


class MeasurementError(MubenchError):
    """A measurement could not be made (or was refused for safety): exit code 1."""

    exit_code = 1
