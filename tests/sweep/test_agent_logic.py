"""The agent's bookkeeping on real trial processes: grid, run_cap, target, repeated errors, dead agents.

Each trial runs as a real child process through :func:`lex_dpr.sweep.trial.spawn`, watched, heartbeated and
told to the study as the agent does for ``lex-dpr train``; only the command is a stand-in trainer (a few lines
of Python) that reads the trial's overrides, as train does, and writes the score they imply to the run's
``metrics.jsonl`` or fails with an ``error:`` line. Every check reads the study back from its journal file, as
the next agent would.
"""

import os
import subprocess
import sys

import orjson
import pytest

from lex_dpr.sweep import agent as A
from lex_dpr.sweep import trial as T
from lex_dpr.sweep.create import create_sweep
from lex_dpr.sweep.parse import parse_sweep
from lex_dpr.sweep.space import resolved_values
from lex_dpr.sweep.storage import open_storage
from lex_dpr.sweep.study import consumed_before, open_sweep, stop_requested

TRAINER = """\
import json, os, pathlib, sys
import yaml
v = {k: yaml.safe_load(x) for k, x in (a.split("=", 1) for a in sys.argv[1:] if "=" in a)}
counter = pathlib.Path(os.environ["FAKE_TRAIN_COUNTER"])
n = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(n + 1))
out = eval(os.environ["FAKE_TRAIN_OUTCOME"], {"v": v, "n": n})
if isinstance(out, str):
    print("error: " + out)
    sys.exit(1)
run = pathlib.Path(v["out_dir"]) / "bi_encoder"
run.mkdir(parents=True, exist_ok=True)
(run / "metrics.jsonl").write_text(json.dumps({"step": 1, "eval/ndcg_at_10": out}) + "\\n")
"""


@pytest.fixture
def trainer(tmp_path, monkeypatch):
    """Trials run the stand-in trainer; ``trainer(expr)`` sets its outcome (a score, or an error text) from ``v``
    (the trial's overrides as values) and ``n`` (how many trials ran before)."""
    script = tmp_path / "fake_train.py"
    script.write_text(TRAINER, encoding="utf-8")
    monkeypatch.setattr(T, "train_command", lambda overrides, resume: [sys.executable, str(script), *overrides])
    monkeypatch.setenv("FAKE_TRAIN_COUNTER", str(tmp_path / "count"))
    return lambda expr: monkeypatch.setenv("FAKE_TRAIN_OUTCOME", expr)


def _sweep(tmp_path, method="random", run_cap=None, parameters=None, metric=None):
    raw = {"method": method, "metric": metric or {"name": "eval/ndcg_at_10", "goal": "maximize"},
           "parameters": parameters or {"trainer.lr": {"values": [0.05, 0.1, 0.2]}, "trainer.epochs": {"values": [1, 2]}}}
    if run_cap:
        raw["run_cap"] = run_cap
    spec = parse_sweep(raw, "test")
    sweep_id = create_sweep(spec, tmp_path / "sweeps")
    options = A.AgentOptions(root=tmp_path / "sweeps", poll_s=0.01)
    return open_sweep(sweep_id, options=options), options


def _stored(sweep):
    """The sweep's trials as a new agent reads them from the journal."""
    import optuna

    return optuna.load_study(study_name=sweep.sweep_id, storage=open_storage(sweep.storage_url)).get_trials()


def _check_recorded(sweep, trial):
    """What the agent recorded for a trial that ran: its values (those Optuna drew), the override list it trained
    with, its run folder, and the heartbeat of this process."""
    values = resolved_values(trial.params, sweep.spec.parameters)
    assert trial.user_attrs["values"] == values
    run_dir = sweep.folder / "runs" / f"trial-{trial.number:04d}"
    assert trial.user_attrs["run_dir"] == str(run_dir)
    assert trial.user_attrs["overrides"] == ["eval.metric=ndcg_at_10", *(f"{k}={v}" for k, v in values.items()),
                                             f"out_dir={run_dir}", f"wandb.group={sweep.sweep_id}",
                                             f"wandb.dir={sweep.folder}"]
    log = (run_dir / "train.log").read_text(encoding="utf-8")
    assert log.splitlines()[0].startswith("$ ") and log.splitlines()[0].endswith(" ".join(trial.user_attrs["overrides"]))
    assert trial.user_attrs["heartbeat"]["pid"] == os.getpid()
    return values, run_dir


def test_grid_runs_every_point_once_then_stops(tmp_path, trainer):
    trainer("v['trainer.lr'] * v['trainer.epochs']")
    sweep, options = _sweep(tmp_path, method="grid")
    result = A.run_agent(sweep, options)
    assert result.completed == 6 and result.stopped == "grid exhausted"
    stored = _stored(sweep)
    seen = []
    for t in stored:
        values, run_dir = _check_recorded(sweep, t)
        assert t.state.name == "COMPLETE" and t.value == pytest.approx(values["trainer.lr"] * values["trainer.epochs"])
        assert orjson.loads((run_dir / "bi_encoder" / "metrics.jsonl").read_bytes())["eval/ndcg_at_10"] == t.value
        seen.append((values["trainer.lr"], values["trainer.epochs"]))
    assert sorted(seen) == sorted((lr, e) for lr in (0.05, 0.1, 0.2) for e in (1, 2))


def test_run_cap_is_exact_and_a_later_agent_runs_nothing(tmp_path, trainer):
    trainer("v['trainer.lr']")
    sweep, options = _sweep(tmp_path, run_cap=4)
    first = A.run_agent(sweep, A.AgentOptions(root=options.root, count=3, poll_s=0.01))
    assert first.completed == 3 and first.stopped == "count 3 reached"
    second = A.run_agent(sweep, options)
    assert second.completed == 1 and second.stopped == "run_cap 4 reached"
    third = A.run_agent(sweep, options)
    assert third.completed == 0 and third.trials == []
    stored = _stored(sweep)
    ran = [t for t in stored if not t.user_attrs.get("surplus")]
    assert [t.state.name for t in ran] == ["COMPLETE"] * 4
    assert all(t.value == _check_recorded(sweep, t)[0]["trainer.lr"] for t in ran)
    assert all(t.state.name == "FAIL" and "overrides" not in t.user_attrs for t in stored if t.user_attrs.get("surplus"))
    assert sorted(p.name for p in (sweep.folder / "runs").iterdir()) == [f"trial-{t.number:04d}" for t in ran]


def test_target_reached_stops_every_agent(tmp_path, trainer):
    trainer("0.9")
    sweep, options = _sweep(tmp_path, metric={"name": "eval/ndcg_at_10", "goal": "maximize", "target": 0.8})
    result = A.run_agent(sweep, options)
    assert result.completed == 1 and result.stopped == "target 0.8 reached by trial 0 (0.9000)"
    assert stop_requested(sweep)
    at, why = (sweep.folder / "STOP").read_text(encoding="utf-8").splitlines()
    assert why == result.stopped and at.endswith("Z") and len(at) == len("2026-12-07T05:10:17Z")
    assert A.run_agent(sweep, options).stopped == "stop requested (lex-dpr sweep stop)"
    assert [t.value for t in _stored(sweep)] == [0.9]


def test_three_same_failures_stop_the_agent_with_the_error(tmp_path, trainer):
    trainer("'CUDA out of memory'")
    sweep, options = _sweep(tmp_path)
    with pytest.raises(A.SweepError, match="3 trials in a row failed with: CUDA out of memory"):
        A.run_agent(sweep, options)
    stored = _stored(sweep)
    assert [t.user_attrs["error"] for t in stored] == ["CUDA out of memory"] * 3
    assert [t.state.name for t in stored] == ["FAIL"] * 3
    for t in stored:
        _, run_dir = _check_recorded(sweep, t)
        assert "error: CUDA out of memory" in (run_dir / "train.log").read_text(encoding="utf-8")


def test_different_failures_do_not_stop_the_agent(tmp_path, trainer):
    trainer("'a' if n % 2 == 0 else 'b'")
    sweep, options = _sweep(tmp_path)
    result = A.run_agent(sweep, A.AgentOptions(root=options.root, count=4, poll_s=0.01))
    assert result.failed == 4 and result.stopped == "count 4 reached"
    assert [t.user_attrs["error"] for t in _stored(sweep)] == ["a", "b", "a", "b"]


def test_a_run_with_no_metric_fails_with_the_fix(tmp_path, trainer):
    trainer("float('nan')")  # the trainer exits 0 but logs no finite value of the sweep's metric
    sweep, options = _sweep(tmp_path)
    result = A.run_agent(sweep, A.AgentOptions(root=options.root, count=1, poll_s=0.01))
    assert result.failed == 1
    [t] = _stored(sweep)
    assert t.user_attrs["error"] == ("no eval/ndcg_at_10 was logged: give the trials a validation set "
                                     "(data.valid_pairs)")


def test_a_trial_whose_agent_died_is_failed_and_requeued_once(tmp_path):
    sweep, options = _sweep(tmp_path, run_cap=2)
    trial = sweep.study.ask()
    lr = trial.suggest_categorical("trainer.lr", [0.05, 0.1, 0.2])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    trial.set_user_attr("heartbeat", {"host": socket.gethostname(), "pid": int(dead.stdout), "time": options.clock()})
    assert T.recover_dead_trials(sweep, options) == [trial.number]
    assert T.recover_dead_trials(sweep, options) == []  # once only
    trials = sweep.study.get_trials()
    assert trials[0].state.name == "FAIL" and trials[1].state.name == "WAITING"
    assert trials[1].user_attrs["requeued_from"] == 0
    assert trials[1].system_attrs["fixed_params"] == trials[0].params == {"trainer.lr": lr}
    # the next ask takes the re-queued parameters; a live agent's trial is left alone, however old its heartbeat
    live = sweep.study.ask()
    assert live.number == 1 and live.suggest_categorical("trainer.lr", [0.05, 0.1, 0.2]) == lr
    live.set_user_attr("heartbeat", {"host": socket.gethostname(), "pid": os.getpid(), "time": 0})
    assert T.recover_dead_trials(sweep, options) == []
    # the dead trial does not use up run_cap: only its replacement counts
    assert consumed_before(sweep.study, 10**6) == 1
