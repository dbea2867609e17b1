"""lex-dpr runs list|show|plot|check"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console

app = typer.Typer(help="Inspect run folders: list, show, plot, check.", no_args_is_help=True)


@app.command("list")
def list_runs(root: Annotated[Path, typer.Argument(help="Folder holding runs.")] = Path("runs"),
              json_out: Annotated[Path | None, typer.Option("--json")] = None) -> None:
    """Every run under ROOT with status, best metric and wall time."""
    from lex_dpr.runs.report import find_runs, summarize
    from lex_dpr.utils.io import ensure_writable, write_json

    if json_out:
        ensure_writable(json_out, flag="--json")
    summaries = [summarize(r) for r in find_runs(root)]
    console.table(f"runs under {root}", [(s.run, s.status, s.model, s.metric, "" if s.best is None else f"{s.best:.4f}",
                                          s.steps, s.wall_time_s or "") for s in summaries],
                  ("run", "status", "model", "metric", "best", "steps", "wall (s)"))
    if json_out:
        write_json(json_out, [s.to_dict() for s in summaries])


@app.command("show")
def show(run: Path) -> None:
    """The run's config, inputs, versions and last metrics."""
    from lex_dpr.runs.report import resolve_run
    from lex_dpr.runs.record import read_metrics, read_record

    folder = resolve_run(run)
    rec = read_record(folder)
    cfg = rec.get("config", {})
    rows = [(f"{section}.{k}", v) for section, values in cfg.items() if isinstance(values, dict)
            for k, v in values.items()]
    console.table(f"{folder} ({rec.get('status')})", rows, ("key", "value"))
    console.table("inputs", [(k, v["path"], v["sha256"][:16]) for k, v in rec.get("inputs", {}).items()],
                  ("input", "path", "sha256"))
    console.table("versions", list(rec.get("versions", {}).items()) + [("git", rec.get("git_commit"))],
                  ("package", "version"))
    last = {}
    for row in read_metrics(folder):
        last.update({k: v for k, v in row.items() if k.startswith("eval/")})
    if last:
        console.table("last evaluation", [(k, f"{v:.4f}") for k, v in sorted(last.items())], ("metric", "value"))


@app.command("plot")
def plot(runs: Annotated[list[Path], typer.Argument(help="One or more runs on one chart.")],
         out: Annotated[Path, typer.Option("--out", help="PNG file.")] = Path("runs/plot.png"),
         metric: Annotated[str, typer.Option("--metric")] = "ndcg_at_10") -> None:
    """Train loss, valid loss and an eval metric against steps (PNG)."""
    from lex_dpr.runs.report import plot_runs, resolve_run
    from lex_dpr.utils.io import ensure_writable

    ensure_writable(out, flag="--out")
    folders = [resolve_run(r) for r in runs]
    try:
        written = plot_runs(folders, out, metric)
    except OSError as exc:  # the PNG is written by matplotlib, not through atomic_open
        from lex_dpr.utils.io import WriteError

        if not exc.filename or Path(exc.filename).parent != out.parent:
            raise
        raise WriteError(out, exc) from None
    console.out.print(f"wrote {written}")


@app.command("check")
def check(run: Path, json_out: Annotated[Path | None, typer.Option("--json")] = None) -> None:
    """PASS/WARN/FAIL checks; exit 1 when any check fails."""
    from lex_dpr.runs.report import check_run, resolve_run
    from lex_dpr.utils.io import ensure_writable, write_json

    if json_out:
        ensure_writable(json_out, flag="--json")
    checks = check_run(resolve_run(run))
    colour = {"PASS": "green", "WARN": "yellow", "FAIL": "red"}
    console.table(f"check {run}", [(c.name, c.verdict, c.detail) for c in checks], ("check", "verdict", "detail"))
    if json_out:
        write_json(json_out, [c.__dict__ for c in checks])
    worst = "FAIL" if any(c.verdict == "FAIL" for c in checks) else "WARN" if any(
        c.verdict == "WARN" for c in checks) else "PASS"
    console.out.print(f"[{colour[worst]}]{worst}[/{colour[worst]}]")
    if worst == "FAIL":
        raise typer.Exit(1)
