"""What a sweep has done: one row per trial, the best trial, Optuna's plots, and the best config exported.

Reading a sweep's status never changes the study: a trial whose agent is gone (killed, its machine off)
shows as ``dead`` here, and the next agent that starts marks it failed and re-queues its parameters.
"""

from __future__ import annotations

import errno
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lex_dpr.errors import InputError
from lex_dpr.utils.io import WriteError, atomic_open

PLOTS_DIR = "plots"


@dataclass
class TrialRow:
    number: int
    state: str  # complete, running, failed, pruned, waiting; dead: running, but its agent is gone
    value: float | None
    wall_s: float | None
    values: dict[str, Any] = field(default_factory=dict)  # the trial's parameters, as training keys
    error: str | None = None
    requeued_as_new_trial: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def trial_rows(sweep, stale_s: float | None = None, now: float | None = None) -> list[TrialRow]:
    """Every trial of the sweep but surplus ones (asked past ``run_cap`` and never run).

    A running trial whose agent is gone (:func:`lex_dpr.sweep.trial.agent_gone`; ``stale_s`` defaults to the
    agents' own) is ``dead``.
    """
    import time

    from lex_dpr.sweep.agent import AgentOptions
    from lex_dpr.sweep.trial import agent_gone

    now = time.time() if now is None else now
    stale_s = AgentOptions.stale_s if stale_s is None else stale_s
    trials = sweep.study.get_trials(deepcopy=False)
    requeued = {t.user_attrs.get("requeued_from") for t in trials} - {None}
    rows = []
    for t in trials:
        if t.user_attrs.get("surplus"):
            continue
        wall = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
        state = {"FAIL": "failed"}.get(t.state.name, t.state.name.lower())
        if state == "running" and agent_gone(t, now, stale_s):
            state = "dead"
        rows.append(TrialRow(t.number, state, t.value, None if wall is None else round(wall, 1),
                             dict(t.user_attrs.get("values") or {}), t.user_attrs.get("error"), t.number in requeued))
    return rows


def varying_keys(rows: list[TrialRow]) -> list[str]:
    """The parameters whose value differs between trials (the columns worth showing)."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row.values if k not in keys]
    return [k for k in keys if len({repr(r.values.get(k)) for r in rows if r.values}) > 1]


def short_names(keys: list[str]) -> list[str]:
    """Each dotted key by its shortest unique tail: ``trainer.lr`` → ``lr``, unless another key ends the same.

    Example:
        >>> short_names(["trainer.lr", "model.lr", "data.multiply", "trainer.epochs"])
        ['trainer.lr', 'model.lr', 'multiply', 'epochs']
    """
    parts = [k.split(".") for k in keys]
    out = []
    for p in parts:
        n = 1
        while n < len(p) and sum(q[-n:] == p[-n:] for q in parts) > 1:
            n += 1
        out.append(".".join(p[-n:]))
    return out


@dataclass
class StatusView:
    """The status table as text, ready to render: fixed columns, then one column per varying parameter.

    ``rows`` are (trial, state, value, wall s); ``params`` one list per row, one cell per ``names`` entry (the
    parameters' shortest unique tails, e.g. ``lr`` for ``trainer.lr``); ``best`` is the line under the table.
    """

    heading: str
    rows: list[tuple[str, str, str, str]]
    names: list[str]
    params: list[list[str]]
    best: str | None = None

    COLUMNS = ("trial", "state", "value", "wall (s)")


def status_view(sweep, stale_s: float | None = None, now: float | None = None) -> StatusView:
    """The sweep's trials as :class:`StatusView` cells (a dead trial reads ``dead (agent gone)``)."""
    rows = trial_rows(sweep, stale_s, now)
    keys = varying_keys(rows)
    cells = [(str(r.number), {"dead": "dead (agent gone)"}.get(r.state, r.state)
              + (" (re-queued)" if r.requeued_as_new_trial else ""), "" if r.value is None else f"{r.value:.4f}",
              "" if r.wall_s is None else str(r.wall_s)) for r in rows]
    params = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in (r.values.get(k, "") for k in keys)] for r in rows]
    best = best_trial(sweep)
    return StatusView(f"sweep {sweep.sweep_id} ({sweep.spec.metric}, {sweep.spec.goal})", cells, short_names(keys),
                      params, None if best is None else
                      f"best: trial {best.number}, {sweep.spec.metric} = {best.value:.4f}")


def best_trial(sweep):
    """The best finished trial by the sweep's metric and goal, or None."""
    complete = [t for t in sweep.study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        return None
    pick = max if sweep.spec.goal == "maximize" else min
    return pick(complete, key=lambda t: (t.value, -t.number))


def write_plots(sweep) -> list[Path]:
    """Optimisation history, parameter importances and a slice plot (Optuna's matplotlib versions) as PNGs."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as vis

    out = sweep.folder / PLOTS_DIR
    complete = [t for t in sweep.study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        return []
    plots = [("history", vis.plot_optimization_history)]
    if len(complete) >= 2 and any(len({repr(t.params.get(p)) for t in complete}) > 1 for p in complete[0].params):
        plots += [("importances", vis.plot_param_importances), ("slice", vis.plot_slice)]
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, plot in plots:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # optuna marks its matplotlib backend experimental on every call
                try:
                    axes = plot(sweep.study)
                except (ValueError, RuntimeError) as exc:  # e.g. importances with a single distinct value
                    import logging

                    logging.getLogger(__name__).warning("plot %s skipped: %s", name, exc)
                    continue
            figure = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
            path = out / f"{name}.png"
            tmp = path.with_name(f".{path.name}.tmp.png")
            try:
                figure.savefig(tmp, dpi=110, bbox_inches="tight")
            finally:
                plt.close(figure)
            tmp.replace(path)
            written.append(path)
    except OSError as exc:  # no permission, read-only, `plots` is a file, disk full
        if isinstance(exc, FileExistsError) or (out.exists() and not out.is_dir()):
            exc = OSError(errno.ENOTDIR, "Not a directory")
        raise WriteError(out, exc, "the plots were not written; skip them with --no-plots") from None
    return written


def best_config(sweep):
    """The best trial's resolved training config (a ``TrainConfig``) and its trial number."""
    from lex_dpr.training.config import load_config

    best = best_trial(sweep)
    if best is None:
        raise InputError(f"sweep {sweep.sweep_id}: no finished trial yet; see `lex-dpr sweep status {sweep.sweep_id}`")
    sweep_only = ("out_dir=", "wandb.group=", "wandb.dir=")  # where the trial ran, not what it trained
    overrides = [o for o in best.user_attrs.get("overrides", []) if not o.startswith(sweep_only)]
    cfg = load_config(None, [*overrides, f"out_dir=runs/{sweep.sweep_id}-best"])
    return cfg, best


def best_rows(sweep, trial) -> list[tuple[str, str]]:
    """``(name, value)`` rows of a trial: the sweep's metric, then its parameters by name."""
    return [(sweep.spec.metric, f"{trial.value:.4f}"),
            *sorted((k, str(v)) for k, v in (trial.user_attrs.get("values") or {}).items())]


def train_command(cfg) -> str:
    """The one ``lex-dpr train`` line that trains ``cfg`` (its overrides from the defaults), shell-quoted."""
    from lex_dpr.utils.config import to_overrides

    return shlex.join(["lex-dpr", "train", *to_overrides(cfg)])


def export_best(sweep, path: str | Path) -> tuple[Path, str]:
    """Write the best trial's config as YAML that ``lex-dpr train --config`` takes; return it and the command."""
    import yaml

    cfg, best = best_config(sweep)
    path = Path(path)
    header = (f"# Best trial {best.number} of sweep {sweep.sweep_id}: {sweep.spec.metric} = {best.value:.4f}\n"
              f"# Train it: lex-dpr train --config {path}\n")
    with atomic_open(path) as fh:
        fh.write((header + yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True)).encode())
    return path, train_command(cfg)
