"""lex-dpr audit-adapter"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from lex_dpr.cli import _console as console

EXAMPLES = [
    "lex-dpr audit-adapter adapters/my-lora --base models/Qwen2.5-1.5B-Instruct --json audit.json",
    "lex-dpr audit-adapter adapters/my-lora --base models/Qwen2.5-1.5B-Instruct --smoke-test --samples 24",
    "lex-dpr audit-adapter --matrix --adapters a1 --adapters a2 --bases b1 --bases b2 --csv matrix.csv",
]
COLOURS = {"PASS": "green", "INFO": "cyan", "WARN": "yellow", "FAIL": "red"}


def command(
    adapter: Annotated[str | None, typer.Argument(help="Adapter folder (or hub id in the local cache).")] = None,
    base: Annotated[str | None, typer.Option("--base", help="Base model folder (or hub id in the local cache).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the full report.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 on warnings.")] = False,
    smoke: Annotated[bool, typer.Option("--smoke-test", help="Also load and run base + adapter.")] = False,
    samples: Annotated[int, typer.Option("--samples", min=1)] = 12,
    prompts: Annotated[Path | None, typer.Option("--prompts", help="One prompt per line.")] = None,
    matrix: Annotated[bool, typer.Option("--matrix", help="Audit every adapter against every base.")] = False,
    adapters: Annotated[list[str] | None, typer.Option("--adapters")] = None,
    bases: Annotated[list[str] | None, typer.Option("--bases")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv")] = None,
) -> None:
    """Is this LoRA adapter really compatible with that base? Static checks from configs and tensor headers."""
    from lex_dpr.errors import ConfigError

    if matrix:
        if not adapters or not bases:
            raise ConfigError("--matrix needs --adapters A1 [--adapters A2 ...] and --bases B1 [...]")
        raise typer.Exit(_matrix(list(adapters), list(bases), csv_out, json_out, strict))
    if not adapter or not base:
        raise ConfigError("give ADAPTER and --base BASE (or --matrix --adapters ... --bases ...)")
    from lex_dpr.audit.checks import audit
    from lex_dpr.utils.io import write_json

    report = audit(adapter, base)
    if smoke:
        from lex_dpr.audit.smoke import read_prompts, smoke_test

        report.checks += smoke_test(report.adapter, report.base, read_prompts(prompts, samples))
    console.table(f"audit {adapter} on {base}", [(c.name, c.verdict, c.evidence) for c in report.checks],
                  ("check", "verdict", "evidence"))
    for c in report.checks:  # each failure again as one line, whatever the terminal width
        if c.verdict == "FAIL":
            console.out.print(Text(f"FAIL {c.name}: {c.evidence}", style="red"), soft_wrap=True)
    colour = COLOURS[report.verdict]
    console.out.print(f"[{colour}]{report.verdict}[/{colour}]")
    if json_out:
        write_json(json_out, report.to_dict())
    raise typer.Exit(report.exit_code(strict))


def _matrix(adapters: list[str], bases: list[str], csv_out: Path | None, json_out: Path | None, strict: bool) -> int:
    import csv
    import io

    from lex_dpr.audit.checks import audit_matrix
    from lex_dpr.utils.io import atomic_open, write_json

    reports = audit_matrix(adapters, bases)
    rows = []
    for a in adapters:
        cells = []
        for b in bases:
            r = reports[(a, b)]
            failed = [c.name for c in r.checks if c.verdict == "FAIL"]
            cells.append(r.verdict + (f" ({', '.join(failed[:2])})" if failed else ""))
        rows.append((a, *cells))
    console.table("adapters × bases", rows, ("adapter", *bases))
    if csv_out:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["adapter", *bases])
        writer.writerows([a, *(reports[(a, b)].verdict for b in bases)] for a in adapters)
        with atomic_open(csv_out) as fh:
            fh.write(buf.getvalue().encode())
    if json_out:
        write_json(json_out, [r.to_dict() for r in reports.values()])
    verdicts = {r.verdict for r in reports.values()}
    return 2 if "FAIL" in verdicts else 1 if strict and "WARN" in verdicts else 0
