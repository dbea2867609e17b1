"""lex-dpr preprocess"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console
from lex_dpr.cli._options import QuietOpt, StrictOpt, WorkersOpt

EXAMPLES = [
    "lex-dpr preprocess --src-dir data/sample --out-law out/law_passages.jsonl",
    "lex-dpr preprocess --src-dir ../shared/data/lexdpr --unit paragraph --as-of 20250101 --workers 2",
]


def command(
    src_dir: Annotated[Path, typer.Option("--src-dir", help="Folder of law.go.kr Open API JSON files.")],
    glob: Annotated[str, typer.Option("--glob", help="Which files under --src-dir.")] = "**/*.json",
    out_law: Annotated[Path, typer.Option("--out-law")] = Path("data/processed/law_passages.jsonl"),
    out_admin: Annotated[Path, typer.Option("--out-admin")] = Path("data/processed/admin_passages.jsonl"),
    out_prec: Annotated[Path, typer.Option("--out-prec")] = Path("data/processed/prec_passages.jsonl"),
    unit: Annotated[str, typer.Option("--unit", help="article or paragraph.")] = "article",
    as_of: Annotated[str, typer.Option("--as-of", help="YYYYMMDD: keep the version in force then (default today).")] = "",
    workers: WorkersOpt = 1,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Turn Open API JSON (laws, admin rules, precedents; detected by content) into passage JSONL."""
    from lex_dpr.data.preprocess import preprocess
    from lex_dpr.errors import ConfigError

    if unit not in ("article", "paragraph"):
        raise ConfigError(f"--unit {unit!r}: choose 'article' or 'paragraph'")
    if as_of and not (len(as_of) == 8 and as_of.isdigit()):
        raise ConfigError(f"--as-of {as_of!r}: use YYYYMMDD, e.g. 20250101")
    report = preprocess(src_dir, out_law, out_admin, out_prec, glob, unit, as_of or None, workers,  # type: ignore[arg-type]
                        show_progress=not quiet)
    console.table("preprocess", [(k, report.files.get(k, 0), report.passages.get(k, 0), report.outputs.get(k, ""))
                                 for k in ("law", "admin", "prec")], ("kind", "files", "passages", "output"))
    console.counts("units dropped", dict(report.dropped_units))
    console.counts("files skipped", dict(report.skip_reasons))
    if strict and report.skipped:
        console.err.print(f"[red]--strict: {len(report.skipped)} file(s) skipped[/red]")
        raise typer.Exit(1)
