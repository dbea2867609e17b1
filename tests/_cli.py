"""`lex-dpr ARGS` in-process through the real entry point, for tests (errors → one line and an exit code)."""

from __future__ import annotations


def lex_dpr(args: list[str]):
    """Run the CLI as `lex-dpr` runs it (one-line errors, exit codes); returns click's Result."""
    import logging

    import click
    from click.testing import CliRunner

    from lex_dpr.cli.main import app, run

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    entry = click.Command("lex-dpr", callback=lambda: run(lambda: app(args=args, prog_name="lex-dpr",
                                                                       standalone_mode=False)))
    try:
        return CliRunner().invoke(entry, [])
    finally:  # run() sets up logging for the CLI; leave the test session's as it was
        root.handlers[:], root.level = handlers, level
