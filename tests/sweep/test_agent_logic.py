"""The agent's bookkeeping with the trial run replaced in-process: grid, run_cap, target, repeated errors, dead agents."""

import os
import subprocess
import sys

import pytest

from lex_dpr.sweep import agent as A
from lex_dpr.sweep.config import parse_sweep
from lex_dpr.sweep.create import create_sweep


def _sweep(tmp_path, method="random", run_cap=None, parameters=None, metric=None):
    raw = {"method": method, "metric": metric or {"name": "eval/ndcg_at_10", "goal": "maximize"},
           "parameters": parameters or {"trainer.lr": {"values": [0.05, 0.1, 0.2]}, "trainer.epochs": {"values": [1, 2]}}}
    if run_cap:
        raw["run_cap"] = run_cap
    spec = parse_sweep(raw, "test")
    sweep_id = create_sweep(spec, tmp_path / "sweeps")
    options = A.AgentOptions(root=tmp_path / "sweeps", poll_s=0.0)
    return A.open_sweep(sweep_id, options=options), options


def _fake(outcomes):
    """A run_trial that tells the study a value computed from the trial's values (or fails with a message)."""
    def run_trial(sweep, trial, values, options, emit):
        from optuna.trial import TrialState

        result = outcomes(values)
        if isinstance(result, str):
            trial.set_user_attr("error", result)
            A._tell(sweep.study, trial, state=TrialState.FAIL)
            return "failed", None, result
        trial.set_user_attr("values", values)
        A._tell(sweep.study, trial, result)
        return "complete", result, None
    return run_trial


def test_grid_runs_every_point_once_then_stops(tmp_path, monkeypatch):
    monkeypatch.setattr(A, "run_trial", _fake(lambda v: v["trainer.lr"] * v["trainer.epochs"]))
    sweep, options = _sweep(tmp_path, method="grid")
    result = A.run_agent(sweep, options)
    assert result.completed == 6 and result.stopped == "grid exhausted"
    seen = [(t.user_attrs["values"]["trainer.lr"], t.user_attrs["values"]["trainer.epochs"])
            for t in sweep.study.get_trials()]
    assert sorted(seen) == sorted((lr, e) for lr in (0.05, 0.1, 0.2) for e in (1, 2))


def test_run_cap_is_exact_and_a_later_agent_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(A, "run_trial", _fake(lambda v: v["trainer.lr"]))
    sweep, options = _sweep(tmp_path, run_cap=4)
    first = A.run_agent(sweep, A.AgentOptions(root=options.root, count=3, poll_s=0))
    assert first.completed == 3 and first.stopped == "count 3 reached"
    second = A.run_agent(sweep, options)
    assert second.completed == 1 and second.stopped == "run_cap 4 reached"
    third = A.run_agent(sweep, options)
    assert third.completed == 0
    states = [t.state.name for t in sweep.study.get_trials() if not t.user_attrs.get("surplus")]
    assert states == ["COMPLETE"] * 4


def test_target_reached_stops_every_agent(tmp_path, monkeypatch):
    monkeypatch.setattr(A, "run_trial", _fake(lambda v: 0.9))
    sweep, options = _sweep(tmp_path, metric={"name": "eval/ndcg_at_10", "goal": "maximize", "target": 0.8})
    result = A.run_agent(sweep, options)
    assert result.completed == 1 and result.stopped.startswith("target 0.8 reached by trial 0")
    assert A.stop_requested(sweep)
    assert A.run_agent(sweep, options).stopped == "stop requested (lex-dpr sweep stop)"


def test_three_same_failures_stop_the_agent_with_the_error(tmp_path, monkeypatch):
    monkeypatch.setattr(A, "run_trial", _fake(lambda v: "CUDA out of memory"))
    sweep, options = _sweep(tmp_path)
    with pytest.raises(A.SweepError, match="3 trials in a row failed with: CUDA out of memory"):
        A.run_agent(sweep, options)
    assert [t.user_attrs["error"] for t in sweep.study.get_trials()] == ["CUDA out of memory"] * 3


def test_different_failures_do_not_stop_the_agent(tmp_path, monkeypatch):
    errors = iter(["a", "b", "a", "b"])
    monkeypatch.setattr(A, "run_trial", _fake(lambda v: next(errors)))
    sweep, options = _sweep(tmp_path)
    result = A.run_agent(sweep, A.AgentOptions(root=options.root, count=4, poll_s=0))
    assert result.failed == 4


def test_a_trial_whose_agent_died_is_failed_and_requeued_once(tmp_path):
    sweep, options = _sweep(tmp_path, run_cap=2)
    trial = sweep.study.ask()
    lr = trial.suggest_categorical("trainer.lr", [0.05, 0.1, 0.2])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    trial.set_user_attr("heartbeat", {"host": socket.gethostname(), "pid": int(dead.stdout), "time": options.clock()})
    assert A.recover_dead_trials(sweep, options) == [trial.number]
    assert A.recover_dead_trials(sweep, options) == []  # once only
    trials = sweep.study.get_trials()
    assert trials[0].state.name == "FAIL" and trials[1].state.name == "WAITING"
    assert trials[1].user_attrs["requeued_from"] == 0
    assert trials[1].system_attrs["fixed_params"] == trials[0].params == {"trainer.lr": lr}
    # the next ask takes the re-queued parameters; a live agent's trial is left alone, however old its heartbeat
    live = sweep.study.ask()
    assert live.number == 1 and live.suggest_categorical("trainer.lr", [0.05, 0.1, 0.2]) == lr
    live.set_user_attr("heartbeat", {"host": socket.gethostname(), "pid": os.getpid(), "time": 0})
    assert A.recover_dead_trials(sweep, options) == []
    # the dead trial does not use up run_cap: only its replacement counts
    assert A.consumed_before(sweep.study, 10**6) == 1
