"""Helpers shared by tests in several folders: the in-process CLI runner and a cheap folder copy."""

from __future__ import annotations

from pathlib import Path


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


def link_copy(src: Path, dst: Path) -> Path:
    """The folder's tree with every file a symlink to the original (cheap for 90 MB of weights)."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    return dst
