"""Which engine runs a sweep command: offline (Optuna, agents on this machine or sharing its folder) or online (W&B).

``--online`` or ``WANDB_MODE=online`` picks W&B's server (:mod:`lex_dpr.sweep.online`); otherwise the sweep is an
Optuna study (:mod:`lex_dpr.sweep.study`, :mod:`lex_dpr.sweep.agent`). The CLI calls :func:`create` and
:func:`prepare_agent` then :func:`run`, and renders what they return; it never chooses an engine itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lex_dpr.errors import ConfigError, InputError

if TYPE_CHECKING:
    from lex_dpr.sweep.agent import AgentOptions
    from lex_dpr.sweep.spec import SweepSpec
    from lex_dpr.sweep.study import Sweep

OFFLINE, ONLINE = "offline", "online"


@dataclass
class Created:
    """A created sweep: ``sweep`` is the offline sweep id, or the online ``ENTITY/PROJECT/ID``."""

    engine: str
    sweep: str


@dataclass
class AgentPlan:
    """An agent ready to run: the engine, the spec, where its trials go, and (offline) the open sweep.

    ``stopped`` (offline): the sweep was stopped (when, why) and nothing will run; resume clears it.
    """

    engine: str
    spec: SweepSpec
    folder: Path  # the sweep's folder; trials run in folder/runs
    sweep: Sweep | None = None  # offline
    options: AgentOptions | None = None  # offline
    wandb_sweep: str | None = None  # online: ENTITY/PROJECT/ID
    count: int | None = None
    stopped: str | None = None

    @property
    def name(self) -> str:
        return self.sweep.sweep_id if self.sweep is not None else str(self.wandb_sweep)


def engine_for(online: bool) -> str:
    """``online`` for ``--online`` or ``WANDB_MODE=online``, else ``offline``."""
    from lex_dpr.sweep.online import online_requested

    return ONLINE if online_requested(online) else OFFLINE


def create(spec: SweepSpec, config: Path, *, root: Path = Path("sweeps"), storage: str | None = None,
           online: bool = False) -> Created:
    """Create the sweep of the file ``config`` (read as ``spec``) on its engine; its id is written into the file.

    Raises:
        InputError: a data file the sweep trains on does not exist (each named with the command that makes it).
    """
    from lex_dpr.sweep.preset import missing_data

    missing = missing_data(Path(config).read_text(encoding="utf-8"))
    if missing:
        raise InputError("; ".join(missing))
    if engine_for(online) == ONLINE:
        from lex_dpr.sweep.online import create_online
        from lex_dpr.sweep.parse import set_sweep_id

        path = spec.wandb_sweep or create_online(spec)
        set_sweep_id(config, path, key="wandb_sweep")
        return Created(ONLINE, path)
    from lex_dpr.sweep.create import create_sweep

    return Created(OFFLINE, create_sweep(spec, root, storage))


def online_plan(wandb_sweep: str, spec: SweepSpec, count: int | None = None, root: Path = Path("sweeps")) -> AgentPlan:
    """A W&B agent on ``wandb_sweep`` (ENTITY/PROJECT/ID); trials run in ``root/ID/runs``."""
    return AgentPlan(ONLINE, spec, Path(root) / wandb_sweep.rsplit("/", 1)[-1], wandb_sweep=wandb_sweep, count=count)


def prepare_agent(sweep_id: str | None = None, config: Path | None = None, *, count: int | None = None,
                  time_window: str | None = None, timezone: str | None = None, storage: str | None = None,
                  root: Path = Path("sweeps"), sampler: str = "gp", online: bool = False,
                  resume: bool = False) -> AgentPlan:
    """The agent a ``sweep agent`` command runs: online on the file's ``wandb_sweep``, else on the offline sweep
    (``resume`` clears a stop first; a stopped sweep gives a plan with ``stopped`` set).

    Raises:
        ConfigError: online without a sweep file or its ``wandb_sweep``; a sampler other than gp or tpe.
    """
    if engine_for(online) == ONLINE:
        from lex_dpr.sweep.parse import load_sweep

        if config is None:
            raise ConfigError("sweep agent --online needs --config F (the sweep file; W&B runs get its parameters)")
        spec = load_sweep(config)
        path = sweep_id or spec.wandb_sweep
        if not path:
            raise ConfigError(f"{config}: no wandb_sweep in the file: create it with `lex-dpr sweep create --config "
                              f"{config} --online`")
        return online_plan(path, spec, count, root)

    from lex_dpr.sweep.agent import AgentOptions
    from lex_dpr.sweep.study import SAMPLERS, clear_stop, open_sweep, stopped_because
    from lex_dpr.sweep.window import TimeWindow

    if sampler not in SAMPLERS:
        raise ConfigError(f"--sampler {sampler!r} is not one of {', '.join(SAMPLERS)}")
    options = AgentOptions(count=count, root=root, storage=storage, sampler=sampler)
    sweep = open_sweep(sweep_id, config, options)
    plan = AgentPlan(OFFLINE, sweep.spec, sweep.folder, sweep=sweep, options=options, count=count)
    if resume:
        clear_stop(sweep)
    elif (why := stopped_because(sweep)) is not None:
        plan.stopped = why
        return plan
    text = time_window or sweep.spec.time_window
    if text:
        options.window = TimeWindow.parse(text, timezone or sweep.spec.timezone)
    return plan


def run(plan: AgentPlan, on_event: Callable[[str, dict], None] | None = None) -> Any:
    """Run the planned agent: an ``AgentResult`` offline, the list of ``OnlineTrial`` online."""
    if plan.engine == ONLINE:
        from lex_dpr.sweep.online import run_online_agent

        return run_online_agent(plan.wandb_sweep, plan.spec, plan.folder, plan.count, on_event=on_event)
    from lex_dpr.sweep.agent import run_agent

    return run_agent(plan.sweep, plan.options, on_event)
