"""lex-dpr validate"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console

EXAMPLES = ["lex-dpr validate --pairs out/pairs_train.jsonl --pairs out/pairs_train_valid.jsonl --passages out/merged_corpus.jsonl"]


def command(
    pairs: Annotated[list[Path], typer.Option("--pairs", help="Pair files, one per split (repeatable).")],
    passages: Annotated[list[Path], typer.Option("--passages", help="Passage files (repeatable).")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write findings as JSON.")] = None,
) -> None:
    """Check pairs against passages; exit 1 when any error is found.

    Files written by make-pairs are first checked against the manifest beside them (one set, one run)."""
    from lex_dpr.data.validate import validate
    from lex_dpr.mining.pairset import check_pair_set
    from lex_dpr.utils.io import ensure_writable, write_json

    if json_out:
        ensure_writable(json_out, flag="--json")
    for path in [*pairs, *passages]:
        check_pair_set(path)
    r = validate(list(pairs), list(passages))
    console.counts("validate", dict(r.counts), ("check", "count"))
    if r.findings:
        console.table("first findings", [(f.level, f.check, f.where, f.detail) for f in r.findings[:20]],
                      ("level", "check", "where", "detail"))
    if json_out:
        write_json(json_out, r.to_dict())
    if r.errors:
        console.err.print(f"[red]{r.errors} error(s)[/red]")
        raise typer.Exit(1)
    console.out.print("[green]no errors[/green]")
