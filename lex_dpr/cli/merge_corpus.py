"""lex-dpr merge-corpus"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console
from lex_dpr.cli._options import StrictOpt

EXAMPLES = ["lex-dpr merge-corpus --law out/law.jsonl --admin out/admin.jsonl --prec out/prec_fallback_passages.jsonl --out out/merged_corpus.jsonl"]


def command(
    law: Annotated[Path, typer.Option("--law")],
    out: Annotated[Path, typer.Option("--out")] = Path("data/processed/merged_corpus.jsonl"),
    admin: Annotated[Path | None, typer.Option("--admin")] = None,
    prec: Annotated[list[Path] | None, typer.Option("--prec", help="Precedent passages (repeatable).")] = None,
    strict: StrictOpt = False,
) -> None:
    """Merge passage files: input order kept, identical duplicates merged, conflicts reported
    (the later effective_date wins, else the first read)."""
    from lex_dpr.data.merge import merge_corpus
    from lex_dpr.mining.pairset import check_pair_set

    inputs = [law, *([admin] if admin else []), *(prec or [])]
    for path in inputs:  # prec_fallback_passages.jsonl belongs to a make-pairs set: never merge another run's
        check_pair_set(path)
    r = merge_corpus(inputs, out)
    console.table("merge-corpus", [*r.by_input.items(), ("identical duplicates merged", r.identical_duplicates),
                                   ("conflicting duplicates", len(r.conflicts)), ("written", r.passages)],
                  ("input", "passages"))
    for line in r.conflicts[:20] + r.bad_lines[:20]:
        console.err.print(f"[yellow]{line}[/yellow]", markup=True, highlight=False)
    if strict and (r.conflicts or r.bad_lines):
        raise typer.Exit(1)
