"""One console for results (stdout) and one for progress and problems (stderr)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

out = Console()
err = Console(stderr=True)


def setup_logging(verbose: bool = False) -> None:
    """Library warnings (one line per skipped file or record) go to stderr."""
    level = logging.DEBUG if verbose else logging.WARNING
    handler = RichHandler(console=err, level=level, show_time=False, show_path=False, markup=False)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)


def table(title: str, rows: Iterable[tuple], columns: tuple[str, ...] = ("", "count")) -> None:
    t = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        t.add_column(col, justify="right" if i else "left")
    for row in rows:
        t.add_row(*(escape(str(c)) for c in row))
    out.print(t)


def counts(title: str, mapping: Mapping[str, int], columns: tuple[str, str] = ("", "count")) -> None:
    if mapping:
        table(title, sorted(mapping.items(), key=lambda kv: (-kv[1], kv[0])), columns)
