"""One console for results (stdout) and one for progress and problems (stderr).

Problems are printed one to a line, whatever the terminal width (``soft_wrap``: rich never folds them), so a
script that greps ``error:`` gets the whole message.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable, Mapping

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

out = Console()
err = Console(stderr=True, soft_wrap=True)

_COLOURS = {"error": "red", "warning": "yellow", "interrupted": "yellow", "info": "cyan", "debug": "dim"}


def one_line(text: object) -> str:
    """``text`` with its line breaks joined by "; ".

    Example:
        >>> one_line("two problems:\\n  a\\n  b")
        'two problems:; a; b'
    """
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    r"""``text`` with its C0/C1 control characters (ESC, BEL, CR, ...; not newline or tab) written as ``\xNN``,
    so that text from a file (a passage title, an answer) cannot clear, move or retitle the terminal.

    Example:
        >>> printable("\x1b[2J민법\t제750조")
        '\\x1b[2J민법\t제750조'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def problem(message: object, label: str = "error") -> None:
    """Print ``label: message`` as one line on stderr (no markup, emoji or highlighting inside the message)."""
    err.print(Text.assemble((f"{label}:", _COLOURS.get(label, "red")), " ", one_line(printable(message))))


class OneLineHandler(logging.Handler):
    """Log records as ``warning: message``, one line each; tracebacks only when verbose."""

    def __init__(self, level: int, verbose: bool) -> None:
        super().__init__(level)
        self.verbose = verbose

    def emit(self, record: logging.LogRecord) -> None:
        try:
            problem(record.getMessage(), record.levelname.lower())
            if self.verbose and record.exc_info:
                err.print(Text("".join(traceback.format_exception(*record.exc_info)).rstrip()))
        except Exception:
            self.handleError(record)


def setup_logging(verbose: bool = False) -> None:
    """Library warnings (one line per skipped file or record) go to stderr."""
    level = logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=level, handlers=[OneLineHandler(level, verbose)], force=True)


def table(title: str, rows: Iterable[tuple], columns: tuple[str, ...] = ("", "count")) -> None:
    t = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        t.add_column(col, justify="right" if i else "left")
    for row in rows:
        t.add_row(*(escape(printable(c)) for c in row))
    out.print(t)


def counts(title: str, mapping: Mapping[str, int], columns: tuple[str, str] = ("", "count")) -> None:
    if mapping:
        table(title, sorted(mapping.items(), key=lambda kv: (-kv[1], kv[0])), columns)
