"""`python -m lex_dpr.data_processing.merge_corpus`: same flags as `lex-dpr merge-corpus`."""

import typer

from lex_dpr.cli import merge_corpus
from lex_dpr.cli.main import run


def main() -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(merge_corpus.command)
    run(lambda: app(standalone_mode=True))


if __name__ == "__main__":
    main()
