"""The sweep agent: ask the study for a trial, train it in a child process, tell the study how it went.

The trial's process (spawn, watch, heartbeat, terminate) is :mod:`lex_dpr.sweep.trial`; the study (open, sampler,
pruner, stop marks) is :mod:`lex_dpr.sweep.study`. This module is the loop and its bookkeeping: a trial whose
agent died is re-queued when any agent next starts, so a restarted sweep never runs a completed trial again and
never loses one.

``run_cap`` is exact across agents: trial numbers are handed out atomically by the storage, and a trial
asked for past the cap is marked ``surplus`` and not run. Three failures in a row with the same error stop
the agent with that error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lex_dpr.errors import LexDprError
from lex_dpr.sweep.study import Sweep, consumed_before, make_sampler, request_stop, stop_requested, tell
from lex_dpr.sweep.trial import RUNS_DIR, TRIAL_LOG, recover_dead_trials, run_trial, wait_for_window


class SweepError(LexDprError):
    """The agent stopped on a condition the user must act on (the same failure three times, ...)."""


@dataclass
class AgentOptions:
    count: int | None = None  # trials this agent runs at most (None: until the sweep is done or stopped)
    root: Path = Path("sweeps")
    storage: str | None = None
    sampler: str = "gp"  # for method bayes: gp (Optuna's GPSampler) or tpe
    window: Any = None  # a lex_dpr.sweep.window.TimeWindow, or None: always
    heartbeat_s: float = 10.0
    stale_s: float = 300.0  # a RUNNING trial on another host with no heartbeat for this long is dead
    poll_s: float = 1.0
    max_same_failures: int = 3
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


@dataclass
class AgentResult:
    sweep_id: str
    trials: list[int] = field(default_factory=list)  # trial numbers this agent ran
    completed: int = 0
    failed: int = 0
    pruned: int = 0
    stopped: str = ""  # why the agent ended

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_agent(sweep: Sweep, options: AgentOptions, on_event: Callable[[str, dict], None] | None = None) -> AgentResult:
    """Run trials until ``options.count``, the sweep's ``run_cap``, an exhausted grid, a stop, or a target."""
    import optuna
    from optuna.trial import TrialState

    from lex_dpr.sweep.space import suggest

    emit = on_event or (lambda kind, info: None)
    result = AgentResult(sweep.sweep_id)
    recover_dead_trials(sweep, options)
    same: list[str] = []
    while options.count is None or len(result.trials) < options.count:
        if stop_requested(sweep):
            result.stopped = "stop requested (lex-dpr sweep stop)"
            break
        if options.window is not None:
            wait_for_window(options, emit)
        _maybe_switch_to_tpe(sweep, options, emit)
        if isinstance(sweep.study.sampler, optuna.samplers.GridSampler) and sweep.study.sampler.is_exhausted(sweep.study):
            result.stopped = "grid exhausted"
            break
        trial = sweep.study.ask()
        if sweep.spec.run_cap is not None and consumed_before(sweep.study, trial.number) >= sweep.spec.run_cap:
            trial.set_user_attr("surplus", True)
            tell(sweep.study, trial, state=TrialState.FAIL)
            result.stopped = f"run_cap {sweep.spec.run_cap} reached"
            break
        values = suggest(trial, sweep.spec.parameters)
        result.trials.append(trial.number)
        emit("start", {"number": trial.number, "values": values})
        state, value, error = run_trial(sweep, trial, values, options, emit)
        emit("end", {"number": trial.number, "state": state, "value": value, "error": error})
        if state == "complete":
            result.completed += 1
            same.clear()
            target = sweep.spec.target
            if target is not None and (value >= target if sweep.spec.goal == "maximize" else value <= target):
                result.stopped = f"target {target} reached by trial {trial.number} ({value:.4f})"
                request_stop(sweep, result.stopped)
                break
        elif state == "pruned":
            result.pruned += 1
        else:
            result.failed += 1
            same.append(error or "")
            if len(same) >= options.max_same_failures and len(set(same[-options.max_same_failures:])) == 1:
                raise SweepError(f"{options.max_same_failures} trials in a row failed with: {error} "
                                 f"(logs: {sweep.folder / RUNS_DIR}/trial-*/{TRIAL_LOG})")
    else:
        result.stopped = f"count {options.count} reached"
    return result


def _maybe_switch_to_tpe(sweep: Sweep, options: AgentOptions, emit) -> None:
    import optuna

    from lex_dpr.sweep.study import GP_MAX_TRIALS

    if not isinstance(sweep.study.sampler, optuna.samplers.GPSampler):
        return
    finished = sum(t.state.name == "COMPLETE" for t in sweep.study.get_trials(deepcopy=False))
    if finished >= GP_MAX_TRIALS:
        sweep.study.sampler = make_sampler(sweep.spec, options.sampler, finished)
        emit("note", {"text": f"{finished} finished trials: the GP sampler would take seconds per trial; "
                              "TPE takes over"})
