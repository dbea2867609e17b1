"""The online engine: the same sweep file on the real W&B server, through ``wandb.sweep`` / ``wandb.agent``.

The file is first translated to W&B's own schema (:func:`to_wandb`: parameters under their dotted training keys,
``fixed`` overrides as constant parameters, hyperband as ``early_terminate``) and checked with W&B's schema
(the ``sweeps`` package that ``wandb[sweeps]`` uses; :func:`wandb_problems`) before anything starts, so a bad
file fails here with every problem listed, not on the server after the first run.

Each W&B run is one trial and runs exactly as an offline trial does: a ``lex-dpr train`` child process with the
run's values as overrides, in ``sweeps/ID/runs/RUN_ID/`` (:func:`run_online_trial`). The child writes its own
``metrics.jsonl`` and does not talk to W&B; the agent's process tails that file and logs every evaluation to
the run as it appears, so W&B's bayes search and hyperband see the same numbers as the offline engine.

Example:
    >>> from lex_dpr.sweep.parse import parse_sweep
    >>> spec = parse_sweep({"method": "bayes", "metric": {"name": "eval/ndcg_at_10", "goal": "maximize"},
    ...     "parameters": {"trainer.lr": {"distribution": "log_uniform_values", "min": 0.01, "max": 0.3}},
    ...     "fixed": {"trainer.epochs": 3}, "run_cap": 8})
    >>> cfg = to_wandb(spec)
    >>> cfg["parameters"]["trainer.epochs"], cfg["run_cap"], wandb_problems(cfg)
    ({'value': 3}, 8, [])
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.models.run_folder import RUN_SUBDIR
from lex_dpr.runs.record import read_metrics
from lex_dpr.sweep.agent import SweepError
from lex_dpr.sweep.spec import SweepSpec
from lex_dpr.sweep.trial import RUNS_DIR, TRIAL_LOG, best_value, last_error, overrides_for, spawn, terminate
from lex_dpr.utils.config import parse_override

_SPEC_FIELDS = ("value", "values", "min", "max", "mu", "sigma", "q")


def to_wandb(spec: SweepSpec, name: str | None = None) -> dict[str, Any]:
    """The sweep as W&B's server reads it: method, metric, parameters (swept and fixed), early_terminate, run_cap."""
    metric: dict[str, Any] = {"name": spec.metric, "goal": spec.goal}
    if spec.target is not None:
        metric["target"] = spec.target
    parameters: dict[str, Any] = {}
    for key, p in spec.parameters.items():
        if p.distribution == "constant":
            parameters[key] = {"value": p.value}
        elif p.distribution == "categorical":
            parameters[key] = {"values": list(p.values or [])}
        else:
            parameters[key] = {"distribution": p.distribution,
                               **{f: getattr(p, f) for f in _SPEC_FIELDS if getattr(p, f) is not None}}
    for item in spec.fixed:  # the values lex-dpr train reads from the overrides (a ~key reset is shown as null)
        read = parse_override(item)  # the parser wrote each one: key=value or ~key
        parameters[item if read.reset else read.key] = {"value": read.value}
    cfg: dict[str, Any] = {"method": spec.method, "metric": metric, "parameters": parameters}
    if name or spec.sweep_id:
        cfg["name"] = name or spec.sweep_id
    if spec.early_terminate is not None:
        et = spec.early_terminate
        cfg["early_terminate"] = {"type": "hyperband", "eta": et.eta,
                                  **({"min_iter": et.min_iter} if et.min_iter is not None else {}),
                                  **({"max_iter": et.max_iter} if et.max_iter is not None else {}),
                                  **({"s": et.s} if et.s is not None else {})}
    if spec.run_cap is not None:
        cfg["run_cap"] = spec.run_cap
    return cfg


def wandb_problems(cfg: dict[str, Any]) -> list[str]:
    """Every violation of W&B's sweep schema in ``cfg`` (empty when the server will accept it).

    ``run_cap`` is checked here (a positive integer): the schema in the ``sweeps`` package predates it.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sweeps 0.2 declares pydantic v1 settings
        import sweeps

    body = {k: v for k, v in cfg.items() if k != "run_cap"}
    problems = list(sweeps.schema_violations_from_proposed_config(body))
    cap = cfg.get("run_cap")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
        problems.append(f"run_cap must be a positive integer, not {cap!r}")
    return problems


def check_for_wandb(spec: SweepSpec) -> dict[str, Any]:
    """:func:`to_wandb`, refused with every schema problem in one :class:`ConfigError`.

    W&B only warns about its deprecated ``log_uniform`` (base-e exponent bounds); so does this (a log warning).
    """
    import logging

    cfg = to_wandb(spec)
    problems = []
    for problem in wandb_problems(cfg):
        if "log_uniform_values" in problem and "deprecated" not in problem.lower() and "exponents" in problem:
            logging.getLogger(__name__).warning("W&B: %s", problem)
        else:
            problems.append(problem)
    if problems:
        where = spec.source or "sweep"
        raise ConfigError(f"{where}: W&B would refuse this sweep: " + "; ".join(problems))
    return cfg


def online_requested(flag: bool) -> bool:
    """``--online``, or ``WANDB_MODE=online`` in the environment."""
    return flag or os.environ.get("WANDB_MODE", "").strip().lower() == "online"


def require_credentials() -> None:
    """Refuse to go online without a W&B API key (``wandb login`` or ``WANDB_API_KEY``), saying so."""
    import wandb

    try:
        key = wandb.Api().api_key
    except Exception:  # noqa: BLE001 - any failure to read settings means "no key"
        key = None
    if not (key or os.environ.get("WANDB_API_KEY")):
        raise InputError("--online needs W&B credentials: run `wandb login` or set WANDB_API_KEY "
                         "(or drop --online: the offline engine needs no server)")


def create_online(spec: SweepSpec) -> str:
    """Create the sweep on the W&B server; returns ``entity/project/id`` (what ``sweep agent --online`` takes)."""
    import wandb

    cfg = check_for_wandb(spec)
    require_credentials()
    project = spec.project or "lex-dpr"
    try:
        sweep_id = wandb.sweep(cfg, entity=spec.entity, project=project)
    except Exception as exc:  # noqa: BLE001 - network, auth, server-side validation
        raise InputError(f"W&B refused to create the sweep: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    entity = spec.entity or wandb.Api().default_entity
    return f"{entity}/{project}/{sweep_id}"


@dataclass
class OnlineTrial:
    """What one online trial did: its run folder, outcome and best metric value."""

    run_dir: Path
    state: str  # complete | failed
    value: float | None = None
    error: str | None = None
    logged: int = 0  # metric rows sent to the W&B run
    overrides: list[str] = field(default_factory=list)


def trial_values(spec: SweepSpec, config: dict[str, Any]) -> dict[str, Any]:
    """The swept parameters' values in a W&B run's config (fixed ones come from the spec itself)."""
    missing = [k for k in spec.parameters if k not in config]
    if missing:
        raise SweepError(f"the W&B run config has no {', '.join(missing)}: is the agent on the right sweep?")
    return {k: config[k] for k in spec.parameters}


def run_online_trial(spec: SweepSpec, run, folder: Path, poll_s: float = 1.0,
                     should_stop: Callable[[], bool] | None = None) -> OnlineTrial:
    """Train one trial for the W&B ``run`` (its config holds the values) and log its evaluations to it."""
    values = trial_values(spec, dict(run.config))
    run_dir = Path(folder) / RUNS_DIR / str(run.id)
    run_dir.mkdir(parents=True, exist_ok=True)
    overrides = overrides_for(spec, values, run_dir, "wandb.mode=disabled")
    proc = spawn(overrides, run_dir, resume=False)
    sent = 0
    try:
        while proc.poll() is None:
            sent = _log_new(run, run_dir, sent)
            if should_stop is not None and should_stop():
                terminate(proc)
                break
            time.sleep(poll_s)
    except BaseException:
        terminate(proc)
        raise
    sent = _log_new(run, run_dir, sent)
    best = best_value(run_dir, spec.metric, spec.goal)
    if best is not None:
        run.summary[spec.metric] = best
    if proc.returncode == 0 and best is not None:
        return OnlineTrial(run_dir, "complete", best, None, sent, overrides)
    error = (last_error(run_dir / TRIAL_LOG) or f"lex-dpr train exited with {proc.returncode}"
             if proc.returncode != 0 else f"no {spec.metric} was logged: give the trials a validation set")
    return OnlineTrial(run_dir, "failed", best, error, sent, overrides)


def run_online_agent(sweep_path: str, spec: SweepSpec, folder: Path, count: int | None = None,
                     max_same_failures: int = 3, on_event: Callable[[str, dict], None] | None = None) -> list[OnlineTrial]:
    """``wandb.agent`` on ``entity/project/id``: each run it hands out is a :func:`run_online_trial`."""
    import wandb

    require_credentials()
    emit = on_event or (lambda kind, info: None)
    done: list[OnlineTrial] = []

    def trial() -> None:
        run = wandb.init(dir=str(folder), group=sweep_path.rsplit("/", 1)[-1])
        try:
            emit("start", {"number": run.id, "values": trial_values(spec, dict(run.config))})
            result = run_online_trial(spec, run, folder)
            done.append(result)
            emit("end", {"number": run.id, "state": result.state, "value": result.value, "error": result.error})
            run.finish(exit_code=0 if result.state == "complete" else 1)
        except BaseException:
            with contextlib.suppress(Exception):
                run.finish(exit_code=1)
            raise
        errors = [t.error for t in done[-max_same_failures:]]
        if len(errors) == max_same_failures and errors[0] is not None and len(set(errors)) == 1:
            raise SweepError(f"{max_same_failures} trials in a row failed with: {errors[0]}")

    entity, project, sweep_id = _split(sweep_path)
    wandb.agent(sweep_id, function=trial, entity=entity, project=project, count=count)
    return done


def _split(path: str) -> tuple[str | None, str | None, str]:
    parts = path.strip().split("/")
    if len(parts) == 3 and all(parts):
        return parts[0], parts[1], parts[2]
    if len(parts) == 1 and parts[0]:
        return None, None, parts[0]
    raise ConfigError(f"W&B sweep {path!r}: give it as ENTITY/PROJECT/ID (as `sweep create --online` prints)")


def _log_new(run, run_dir: Path, sent: int) -> int:
    rows = read_metrics(run_dir / RUN_SUBDIR)
    for row in rows[sent:]:
        clean = {k: v for k, v in row.items() if isinstance(v, int | float) and not isinstance(v, bool)
                 and math.isfinite(v) and k != "step"}
        step = row.get("step")
        run.log(clean, step=int(step) if isinstance(step, int | float) and math.isfinite(step) else None)
    return max(sent, len(rows))
