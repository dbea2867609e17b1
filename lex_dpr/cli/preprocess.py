"""lex-dpr preprocess"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console
from lex_dpr.cli._options import QuietOpt, StrictOpt, WorkersOpt

EXAMPLES = [
    "lex-dpr preprocess --src-dir data/laws --out-law data/processed/law_passages.jsonl",
    "lex-dpr preprocess --src-dir data/sample --out-law out/law.jsonl --out-admin out/admin.jsonl --out-prec out/prec.jsonl",
    "lex-dpr preprocess --src-dir ../shared/data/lexdpr --unit paragraph --as-of 20250101 --workers 2",
]
DEFAULT_OUT = Path("data/processed")


def command(
    src_dir: Annotated[Path, typer.Option("--src-dir", help="Folder of law.go.kr Open API JSON files.")],
    glob: Annotated[str, typer.Option("--glob", help="Which files under --src-dir.")] = "**/*.json",
    out_law: Annotated[Path | None, typer.Option("--out-law", help="Law passages. Only the --out-* given are written; with none, all three go to data/processed/{law,admin,prec}_passages.jsonl.", show_default=False)] = None,
    out_admin: Annotated[Path | None, typer.Option("--out-admin", help="Admin-rule passages.", show_default=False)] = None,
    out_prec: Annotated[Path | None, typer.Option("--out-prec", help="Precedent passages.", show_default=False)] = None,
    report: Annotated[Path | None, typer.Option("--report", help="The JSON report (default: <first output>_report.json beside it).", show_default=False)] = None,
    allow_empty: Annotated[bool, typer.Option("--allow-empty", help="Let an output that holds passages be replaced by an empty file.")] = False,
    unit: Annotated[str, typer.Option("--unit", help="article or paragraph.")] = "article",
    as_of: Annotated[str, typer.Option("--as-of", help="YYYYMMDD: keep the version in force then (default today).")] = "",
    workers: WorkersOpt = 1,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Turn Open API JSON (laws, admin rules, precedents; detected by content) into passage JSONL.

    Writes only the --out-* given; files of another kind are counted as skipped."""
    from lex_dpr.data.preprocess import preprocess
    from lex_dpr.errors import ConfigError

    if unit not in ("article", "paragraph"):
        raise ConfigError(f"--unit {unit!r}: choose 'article' or 'paragraph'")
    if as_of and not (len(as_of) == 8 and as_of.isdigit()):
        raise ConfigError(f"--as-of {as_of!r}: use YYYYMMDD, e.g. 20250101")
    if out_law is None and out_admin is None and out_prec is None:
        out_law, out_admin, out_prec = (DEFAULT_OUT / f"{k}_passages.jsonl" for k in ("law", "admin", "prec"))
    r = preprocess(src_dir, out_law, out_admin, out_prec, glob, unit, as_of or None, workers,  # type: ignore[arg-type]
                   show_progress=not quiet, report=report, allow_empty=allow_empty)
    console.table("preprocess", [(k, r.files.get(k, 0), r.passages.get(k, 0), r.outputs[k])
                                 for k in ("law", "admin", "prec") if k in r.outputs],
                  ("kind", "files", "passages", "output"))
    for line in r.not_requested_lines():
        console.out.print(line, highlight=False, markup=False)
    console.counts("units dropped", dict(r.dropped_units))
    console.counts("files skipped", dict(r.skip_reasons))
    console.out.print(f"report: {r.report}", highlight=False, markup=False)
    if strict and r.skipped:
        console.err.print(f"[red]--strict: {len(r.skipped)} file(s) skipped[/red]")
        raise typer.Exit(1)
