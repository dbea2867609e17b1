"""`python -m lex_dpr.data_processing.make_pairs`: same flags as `lex-dpr make-pairs`."""

import typer

from lex_dpr.cli import make_pairs
from lex_dpr.cli.main import run


def main() -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(make_pairs.command)
    run(lambda: app(standalone_mode=True))


if __name__ == "__main__":
    main()
