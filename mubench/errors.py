"""Errors that the CLI turns into one clear line instead of a traceback."""


class MubenchError(Exception):
    """Base class: the message is written for the user, one line, saying what to do."""

    exit_code = 1


class UsageError(MubenchError):
    """Bad usage or input (unknown model, impossible resolution, unwritable path): exit code 2."""

    exit_code = 2


class MeasurementError(MubenchError):
    """A measurement could not be made (or was refused for safety): exit code 1."""

    exit_code = 1
