"""`python -m lex_dpr.data_processing.preprocess_auto`: same flags as `lex-dpr preprocess`."""

import typer

from lex_dpr.cli import preprocess
from lex_dpr.cli.main import run


def main() -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(preprocess.command)
    run(lambda: app(standalone_mode=True))


if __name__ == "__main__":
    main()
