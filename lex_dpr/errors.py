"""Exceptions that the CLI turns into one red line and a meaningful exit code."""

from __future__ import annotations


class LexDprError(Exception):
    """Base class for errors a user can fix; the CLI prints the message, not a traceback."""

    exit_code = 1


class InputError(LexDprError):
    """An input file or directory is missing, unreadable or has the wrong layout."""


class ConfigError(LexDprError):
    """A flag or config value is invalid; the message lists every problem found, ``problems`` holds them apart.

    Example:
        >>> err = ConfigError("overrides: 2 problems: a; b", problems=["a", "b"])
        >>> str(err), err.problems
        ('overrides: 2 problems: a; b', ['a', 'b'])
        >>> ConfigError("one thing").problems
        ['one thing']
    """

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems is not None else [message]


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that runs stop at a safe point and record ``interrupted``."""

    exit_code = 143
