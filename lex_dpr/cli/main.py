"""Registers the commands; turns known errors into one red line and an exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import typer

from lex_dpr.cli import audit_adapter, inspect_cmd
from lex_dpr.cli import eval as eval_cmd
from lex_dpr.cli import make_pairs, merge_corpus, parse_refs, preprocess, runs, stats, train, validate

app = typer.Typer(name="lex-dpr", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="lex-dpr: 한국 법령·행정규칙·판례 검색기 학습 도구 / Korean legal dense retrieval toolchain.")

for name, module in [("preprocess", preprocess), ("make-pairs", make_pairs), ("merge-corpus", merge_corpus),
                     ("validate", validate), ("stats", stats), ("parse-refs", parse_refs), ("train", train),
                     ("eval", eval_cmd), ("audit-adapter", audit_adapter), ("inspect", inspect_cmd)]:
    app.command(name, epilog="Examples:\n\n" + "\n\n".join(f"$ {e}" for e in module.EXAMPLES),
                context_settings=getattr(module, "CONTEXT_SETTINGS", None))(module.command)
app.add_typer(runs.app, name="runs")


def run(entry: Callable[[], object]) -> None:
    """Call a Typer entry point; user errors print one line (LEX_DPR_DEBUG=1 for the traceback)."""
    from lex_dpr.cli._console import err, setup_logging
    from lex_dpr.errors import LexDprError

    setup_logging(verbose=bool(os.environ.get("LEX_DPR_DEBUG")))
    try:
        entry()
    except LexDprError as exc:
        if os.environ.get("LEX_DPR_DEBUG"):
            raise
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted; outputs are only replaced when complete[/yellow]")
        sys.exit(130)


def main() -> None:
    run(lambda: app(standalone_mode=True))


def run_single(command: Callable[..., None]) -> None:
    """Run one command as its own program (the ``python -m lex_dpr.data_processing.*`` entry points)."""
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command()(command)
    run(lambda: single(standalone_mode=True))


if __name__ == "__main__":
    main()
