"""Long commands stop cleanly on SIGTERM as on Ctrl-C: the library records it, the process exits 143 or 130."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer

from lex_dpr.cli._console import problem


@contextlib.contextmanager
def long_job(what: str) -> Iterator[None]:
    """Run a long job; SIGTERM raises inside it (see :func:`lex_dpr.utils.signals.sigterm_raises`).

    Typer turns any KeyboardInterrupt into exit 130, so SIGTERM is caught here to keep its own code, 143.
    """
    from lex_dpr.errors import Terminated
    from lex_dpr.utils.signals import sigterm_raises

    try:
        with sigterm_raises():
            yield
    except Terminated:
        problem(f"{what} stopped by SIGTERM; outputs are only replaced when complete", "interrupted")
        raise typer.Exit(143) from None
