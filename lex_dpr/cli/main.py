"""Registers the commands; turns known errors into one red line and an exit code."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

import typer

from lex_dpr.cli import audit_adapter, inspect_cmd
from lex_dpr.cli import config as config_cmd
from lex_dpr.cli import sweep as sweep_cmd
from lex_dpr.cli import rag as rag_cmd
from lex_dpr.cli import serve as serve_cmd
from lex_dpr.cli import embed as embed_cmd
from lex_dpr.cli import visualize as visualize_cmd
from lex_dpr.cli import eval as eval_cmd
from lex_dpr.cli import index as index_cmd
from lex_dpr.cli import make_pairs, merge_corpus, parse_refs, preprocess, runs, stats, synth, train, validate

app = typer.Typer(name="lex-dpr", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="lex-dpr: 한국 법령·행정규칙·판례 검색기 학습 도구 / Korean legal dense retrieval toolchain.")

for name, module in [("preprocess", preprocess), ("make-pairs", make_pairs), ("merge-corpus", merge_corpus),
                     ("validate", validate), ("stats", stats), ("parse-refs", parse_refs), ("train", train),
                     ("eval", eval_cmd), ("audit-adapter", audit_adapter), ("inspect", inspect_cmd), ("synth", synth),
                     ("embed", embed_cmd), ("visualize", visualize_cmd), ("serve", serve_cmd)]:
    app.command(name, epilog="Examples:\n\n" + "\n\n".join(f"$ {e}" for e in module.EXAMPLES),
                context_settings=getattr(module, "CONTEXT_SETTINGS", None))(module.command)
app.add_typer(runs.app, name="runs")
app.add_typer(config_cmd.app, name="config")
app.add_typer(sweep_cmd.app, name="sweep")
app.add_typer(index_cmd.app, name="index")
app.add_typer(rag_cmd.app, name="rag")


def run(entry: Callable[[], object]) -> None:
    """Call a Typer entry point (``standalone_mode=False``); every user error is one ``error:`` line on stderr.

    LexDprError exits with its own code (LEX_DPR_DEBUG=1 shows the traceback instead); a usage error
    (bad flag or value) exits 2 and names the ``--help`` to read.
    """
    from lex_dpr.cli._console import problem, setup_logging
    from lex_dpr.errors import LexDprError
    from lex_dpr.utils.signals import received, sigterm_raises

    setup_logging(verbose=bool(os.environ.get("LEX_DPR_DEBUG")))
    try:
        with sigterm_raises():  # SIGTERM stops a job the way Ctrl-C does: at a safe point, recorded
            code = entry()
    except LexDprError as exc:
        if os.environ.get("LEX_DPR_DEBUG"):
            raise
        problem(exc)
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # typer's click: UsageError, BadParameter, NoSuchOption, ...
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help is already printed
            sys.exit(exc.exit_code)
        problem(exc.format_message() + (f" (see `{ctx.command_path} --help`)" if ctx is not None else ""))
        sys.exit(exc.exit_code)
    except typer.Abort:
        problem("aborted")
        sys.exit(1)
    except KeyboardInterrupt:
        code = 130
    if code == 130:  # typer turns Ctrl-C (and our SIGTERM exception) inside a command into Exit(130)
        if received() == signal.SIGTERM:
            code = 143
        problem(f"{'SIGTERM' if code == 143 else 'Ctrl-C'}; outputs are only replaced when complete", "interrupted")
    sys.exit(code if isinstance(code, int) else 0)


def main() -> None:
    run(lambda: app(prog_name="lex-dpr", standalone_mode=False))


def run_single(command: Callable[..., None]) -> None:
    """Run one command as its own program (the ``python -m lex_dpr.data_processing.*`` entry points)."""
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command()(command)
    run(lambda: single(standalone_mode=False))


if __name__ == "__main__":
    main()
