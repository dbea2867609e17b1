"""lex-dpr sweep preset | create | agent | status | best | stop | repair"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console

EXAMPLES = [
    "lex-dpr sweep preset                                   # write configs/sweep.yaml, create the sweep, run an agent",
    "lex-dpr sweep preset --family static --count 12 --pairs out/shared/pairs_train.jsonl --passages out/shared/merged_corpus.jsonl",
    "lex-dpr sweep --config configs/sweep.yaml --no-run-agent",
    "lex-dpr sweep agent --config configs/sweep.yaml --count 10 --time-window 17-7 --timezone Asia/Seoul",
    "CUDA_VISIBLE_DEVICES=1 lex-dpr sweep agent SWEEP_ID     # one agent per GPU",
    "lex-dpr sweep status --config configs/sweep.yaml",
    "lex-dpr sweep best --config configs/sweep.yaml --export configs/best.yaml",
    "lex-dpr sweep stop --config configs/sweep.yaml",
    "lex-dpr sweep agent --config configs/sweep.yaml --resume   # clear the stop and run trials again",
    "lex-dpr sweep status SWEEP_ID --json - --no-plots | jq '.[].value'",
    "lex-dpr sweep repair SWEEP_ID                          # a damaged journal: keep every record before the damage",
    "lex-dpr sweep create --config configs/sweep.yaml --online   # the same file on the W&B server",
]

app = typer.Typer(help="Hyperparameter sweeps from W&B sweep files, offline on Optuna (many agents, crash-safe).",
                  epilog="Examples:\n\n" + "\n\n".join(f"$ {e}" for e in EXAMPLES), invoke_without_command=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="The sweep file (W&B sweep YAML).")]
SweepIdArg = Annotated[str | None, typer.Argument(help="Sweep id (default: from --config, else the newest sweep).")]
CountOpt = Annotated[int | None, typer.Option("--count", min=1, help="Trials this agent runs at most.")]
StorageOpt = Annotated[str | None, typer.Option("--storage", help="Optuna storage URL (default: a journal file in sweeps/ID/).")]
RootOpt = Annotated[Path, typer.Option("--sweeps-dir", help="Where sweep folders live.")]
WindowOpt = Annotated[str | None, typer.Option("--time-window", help="Run trials only inside this daily window, e.g. 17-7.")]
TzOpt = Annotated[str | None, typer.Option("--timezone", help="IANA zone of the time window, e.g. Asia/Seoul.")]
OnlineOpt = Annotated[bool, typer.Option("--online", help="Run on the W&B server (wandb.sweep/wandb.agent); also WANDB_MODE=online.")]
SamplerOpt = Annotated[str, typer.Option("--sampler", help="For method bayes: gp (Gaussian process) or tpe.")]


@app.callback()
def main(ctx: typer.Context, config: ConfigOpt = None,
         no_run_agent: Annotated[bool, typer.Option("--no-run-agent", help="Create the sweep only.")] = False,
         count: CountOpt = None, storage: StorageOpt = None, root: RootOpt = Path("sweeps"),
         online: OnlineOpt = False) -> None:
    """`lex-dpr sweep --config F` creates the sweep from F and runs an agent (as `sweep create`)."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        console.out.print(ctx.get_help())
        raise typer.Exit(2)
    _create(config, no_run_agent=no_run_agent, count=count, storage=storage, root=root, online=online)


@app.command("create")
def create(config: Annotated[Path, typer.Option("--config", "-c", help="The sweep file (W&B sweep YAML).")],
           no_run_agent: Annotated[bool, typer.Option("--no-run-agent", help="Create the sweep only.")] = False,
           count: CountOpt = None, storage: StorageOpt = None, root: RootOpt = Path("sweeps"),
           online: OnlineOpt = False) -> None:
    """Create the sweep (its id is written back into the file) and run an agent unless --no-run-agent."""
    _create(config, no_run_agent=no_run_agent, count=count, storage=storage, root=root, online=online)


@app.command("preset")
def preset(output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the sweep file.")] = Path("configs/sweep.yaml"),
           family: Annotated[str | None, typer.Option("--family", help="static or transformer (default: transformer when its models load here).")] = None,
           no_run: Annotated[bool, typer.Option("--no-run", help="Write the file only.")] = False,
           no_run_agent: Annotated[bool, typer.Option("--no-run-agent", help="Write the file and create the sweep.")] = False,
           count: CountOpt = None,
           pairs: Annotated[str | None, typer.Option("--pairs", help="Training pairs (default data/processed/pairs_train.jsonl).")] = None,
           passages: Annotated[str | None, typer.Option("--passages", help="Corpus (default data/processed/merged_corpus.jsonl).")] = None,
           valid_pairs: Annotated[str | None, typer.Option("--valid-pairs", help="Validation pairs (default: the _valid sibling of --pairs).")] = None,
           run_cap: Annotated[int | None, typer.Option("--run-cap", min=1, help="Trials in the whole sweep, all agents together.")] = None,
           storage: StorageOpt = None, root: RootOpt = Path("sweeps"), online: OnlineOpt = False) -> None:
    """Write the preset sweep file; by default also create the sweep and run an agent on it."""
    from lex_dpr.sweep.preset import build_preset
    from lex_dpr.utils.io import atomic_open

    made = build_preset(family, pairs=pairs, passages=passages, valid_pairs=valid_pairs, run_cap=run_cap)
    with atomic_open(output) as fh:
        fh.write(made.text.encode())
    console.err.print(f"family {made.reason}", highlight=False, markup=False)
    for name, why in made.unavailable.items():
        console.err.print(f"left out {name}: {why}", highlight=False, markup=False)
    console.out.print(f"wrote {output}", highlight=False)
    if not no_run:
        _create(output, no_run_agent=no_run_agent, count=count, storage=storage, root=root, online=online)


@app.command("agent")
def agent(sweep_id: SweepIdArg = None, config: ConfigOpt = None, count: CountOpt = None, time_window: WindowOpt = None,
          timezone: TzOpt = None, storage: StorageOpt = None, root: RootOpt = Path("sweeps"),
          sampler: SamplerOpt = "gp", online: OnlineOpt = False,
          resume: Annotated[bool, typer.Option("--resume", help="Clear a stop (`sweep stop`, a reached target) "
                                                                 "and run trials again.")] = False) -> None:
    """Run trials until --count, the sweep's run_cap, an exhausted grid, a stop or the metric's target.

    On a stopped sweep the agent runs nothing and says when it was stopped; --resume clears the stop first.
    """
    from lex_dpr.sweep.engine import prepare_agent

    _run_agent(prepare_agent(sweep_id, config, count=count, time_window=time_window, timezone=timezone,
                             storage=storage, root=root, sampler=sampler, online=online, resume=resume))


@app.command("status")
def status(sweep_id: SweepIdArg = None, config: ConfigOpt = None, storage: StorageOpt = None,
           root: RootOpt = Path("sweeps"),
           json_out: Annotated[str | None, typer.Option("--json", help="Write the trials as JSON to this file; "
                                                                       "- prints only the JSON.")] = None,
           no_plots: Annotated[bool, typer.Option("--no-plots", help="Do not write the PNG plots.")] = False) -> None:
    """A table of trials and the best so far; PNG plots (history, importances, slice) in sweeps/ID/plots/.

    Read-only: a trial whose agent is gone shows as dead; the next agent re-queues it.
    """
    import sys

    import orjson

    from lex_dpr.sweep.agent import AgentOptions
    from lex_dpr.sweep.status import trial_rows, write_plots
    from lex_dpr.sweep.study import open_sweep
    from lex_dpr.utils.io import WriteError, write_json

    sweep = open_sweep(sweep_id, config, AgentOptions(root=root, storage=storage))
    to_stdout = json_out == "-"
    if to_stdout:
        sys.stdout.buffer.write(orjson.dumps([r.to_dict() for r in trial_rows(sweep)],
                                             option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        sys.stdout.flush()
    else:
        _status_table(sweep)
    if not no_plots:
        try:
            for path in write_plots(sweep):
                (console.err if to_stdout else console.out).print(f"wrote {path}", highlight=False, markup=False)
        except WriteError as exc:
            console.problem(exc, "warning")
    if json_out and not to_stdout:
        write_json(json_out, [r.to_dict() for r in trial_rows(sweep)])


@app.command("best")
def best(sweep_id: SweepIdArg = None, config: ConfigOpt = None, storage: StorageOpt = None,
         root: RootOpt = Path("sweeps"),
         export: Annotated[Path | None, typer.Option("--export", help="Write the best trial's config (YAML for train --config).")] = None) -> None:
    """The best trial, its config, and the one `lex-dpr train` line that reproduces it."""
    from lex_dpr.sweep.agent import AgentOptions
    from lex_dpr.sweep.status import best_config, best_rows, export_best, train_command
    from lex_dpr.sweep.study import open_sweep

    sweep = open_sweep(sweep_id, config, AgentOptions(root=root, storage=storage))
    cfg, trial = best_config(sweep)
    console.table(f"best of {sweep.sweep_id}: trial {trial.number}", best_rows(sweep, trial), ("", "value"))
    if export:
        path, command = export_best(sweep, export)
        console.out.print(f"wrote {path}; train it with: lex-dpr train --config {path}", highlight=False)
    else:
        command = train_command(cfg)
    console.out.print(command, highlight=False, markup=False, soft_wrap=True)


@app.command("stop")
def stop(sweep_id: SweepIdArg = None, config: ConfigOpt = None, storage: StorageOpt = None,
         root: RootOpt = Path("sweeps")) -> None:
    """Agents finish their current trial and exit."""
    from lex_dpr.sweep.agent import AgentOptions
    from lex_dpr.sweep.study import open_sweep, request_stop

    sweep = open_sweep(sweep_id, config, AgentOptions(root=root, storage=storage))
    request_stop(sweep)
    console.out.print(f"sweep {sweep.sweep_id}: agents stop after their current trial", highlight=False)


@app.command("repair")
def repair(sweep_id: SweepIdArg = None, config: ConfigOpt = None, storage: StorageOpt = None,
           root: RootOpt = Path("sweeps")) -> None:
    """Make a damaged journal readable: keep every record before the first damaged line (the file as it was
    is kept as journal.log.bad-TIME). Stop the agents first."""
    from lex_dpr.errors import ConfigError
    from lex_dpr.sweep.storage import find_sweep, repair_journal, storage_url, sweep_dir

    url = storage or storage_url(sweep_dir(find_sweep(sweep_id, config, root), root))
    if "://" in url:
        raise ConfigError("sweep repair mends journal files; this sweep is in a database")
    done = repair_journal(url)
    if not done.changed:
        console.out.print(f"{url}: every line is a readable record; nothing to repair", highlight=False)
        return
    for line in done.unglued:
        console.err.print(f"line {line}: dropped a torn record glued to the start of a whole one", highlight=False)
    if done.dropped_from is not None:
        console.err.print(f"line {done.dropped_from}: {done.reason}; set aside with every line after it",
                          highlight=False)
    console.out.print(f"repaired {url}: {done.kept} records kept; the old file is {done.backup}", highlight=False,
                      soft_wrap=True)


def _create(config: Path, *, no_run_agent: bool, count: int | None, storage: str | None, root: Path,
            online: bool) -> None:
    """`sweep create` (also `sweep --config F` and `sweep preset`): create on the chosen engine, then run an agent."""
    from lex_dpr.sweep import engine
    from lex_dpr.sweep.parse import load_sweep

    spec = load_sweep(config)
    _print_notes(spec)
    made = engine.create(spec, config, root=root, storage=storage, online=online)
    if made.engine == engine.ONLINE:
        console.out.print(f"W&B sweep {made.sweep} (written into {config} as wandb_sweep)", highlight=False)
        if not no_run_agent:
            _run_agent(engine.online_plan(made.sweep, spec, count, root))
        return
    console.out.print(f"sweep {made.sweep} (folder {root / made.sweep}; id written into {config})", highlight=False)
    if not no_run_agent:
        _run_agent(engine.prepare_agent(made.sweep, count=count, storage=storage, root=root))


def _run_agent(plan) -> None:
    """Run a prepared agent (:mod:`lex_dpr.sweep.engine`) and render what it did."""
    from lex_dpr.sweep import engine

    spec = plan.spec
    if plan.stopped is not None:
        console.problem(f"sweep {plan.name} was stopped {plan.stopped}; no trial run; to continue: "
                        f"lex-dpr sweep agent {plan.name} --resume", "warning")
        return
    who = "W&B agent" if plan.engine == engine.ONLINE else "agent"
    where = plan.name if plan.engine == engine.ONLINE else f"sweep {plan.name}"
    console.err.print(f"{who} on {where} ({spec.method}, {spec.metric} {spec.goal}); trials in {plan.folder / 'runs'}",
                      highlight=False, markup=False)
    result = engine.run(plan, _printer())
    if plan.engine == engine.ONLINE:
        console.table(f"W&B agent on {plan.name}", [("trials run", len(result)),
                                                    ("complete", sum(t.state == "complete" for t in result)),
                                                    ("failed", sum(t.state == "failed" for t in result))], ("", "value"))
        return
    console.table(f"agent on {plan.name}", [("trials run", len(result.trials)), ("complete", result.completed),
                                            ("failed", result.failed), ("pruned", result.pruned),
                                            ("stopped because", result.stopped)], ("", "value"))
    _status_table(plan.sweep)


def _print_notes(spec) -> None:
    if spec.legacy:
        from lex_dpr.sweep.legacy import legacy_table

        console.table("predecessor (LexDPR) keys", legacy_table(spec.legacy), ("their key", "lex-dpr key", "how"))
    for note in spec.notes:
        console.err.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)


def _printer():
    def on_event(kind: str, info: dict) -> None:
        if kind == "start":
            values = " ".join(f"{k}={v}" for k, v in info["values"].items())
            console.err.print(f"trial {info['number']}: {values}", highlight=False, markup=False, soft_wrap=True)
        elif kind == "end":
            detail = f"{info['value']:.4f}" if info["value"] is not None else (info["error"] or "")
            console.err.print(f"trial {info['number']}: {info['state']} {detail}", highlight=False, markup=False,
                              soft_wrap=True)
        elif kind == "waiting":
            s = int(info["seconds"])
            console.err.print(f"outside the time window {info['window']}: next trial in {s // 3600:d}:"
                              f"{s % 3600 // 60:02d}:{s % 60:02d}", highlight=False, markup=False)
        elif kind == "note":
            console.err.print(f"note: {info['text']}", highlight=False, markup=False)
        elif kind in ("prune", "pause"):
            console.err.print(f"trial {info['number']}: {kind}", highlight=False, markup=False)
    return on_event


def _status_table(sweep) -> None:
    """Trial, state, value and wall time always whole; parameters as columns when they fit the width, else
    one column of ``name=value`` pairs (:func:`lex_dpr.sweep.status.status_view` gives the cells)."""
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    from lex_dpr.sweep.status import StatusView, status_view

    view = status_view(sweep)

    def build(folded: bool) -> Table:
        t = Table(show_lines=folded)
        for i, col in enumerate(StatusView.COLUMNS):
            t.add_column(col, justify="left" if i == 1 else "right", no_wrap=True)
        for name in ["parameters"] if folded else view.names:
            t.add_column(name, justify="left" if folded else "right", overflow="fold")
        for cells, vals in zip(view.rows, view.params, strict=True):
            more = ["  ".join(f"{n}={v}" for n, v in zip(view.names, vals, strict=True))] if folded else vals
            t.add_row(*(Text(c) for c in (*cells, *more)))
        return t

    table = build(False)
    if view.names and Measurement.get(console.out, console.out.options.update_width(10**5), table).maximum > console.out.width:
        table = build(True)
    console.out.print(view.heading, highlight=False, soft_wrap=True)
    console.out.print(table)
    if view.best is not None:
        console.out.print(view.best, highlight=False)
