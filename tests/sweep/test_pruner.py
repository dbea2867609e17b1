"""Offline hyperband is W&B's rule: replayed trial by trial, the pruner stops every trial at the evaluation where
``sweeps.hyperband_stop_runs`` (what W&B's sweep controller runs) stops it."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState
from sweeps import RunState, SweepRun
from sweeps.hyperband_stopping import hyperband_stop_runs

from lex_dpr.sweep.parse import parse_sweep
from lex_dpr.sweep.spec import HyperbandSpec
from lex_dpr.sweep.pruner import HyperbandStopping, make_pruner

METRIC = "eval/ndcg_at_10"
GOALS = ("maximize", "minimize")
SETTINGS = [
    {"min_iter": 1},
    {"min_iter": 2, "eta": 2},
    {"min_iter": 1, "eta": 2, "strict": True},
    {"min_iter": 3, "eta": 1.5},
    {"min_iter": 1, "eta": 1.2},
    {"max_iter": 27, "s": 3},
    {"max_iter": 9, "s": 3, "eta": 2},
    {"max_iter": 20, "s": 2, "eta": 3, "strict": True},
]
TRIALS = 40
AGENTS = 4

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _file(et: dict, goal: str) -> dict:
    return {"method": "random", "metric": {"name": METRIC, "goal": goal},
            "parameters": {"trainer.lr": {"values": [0.1, 0.2]}}, "early_terminate": {"type": "hyperband", **et}}


def _histories(seed: int) -> tuple[list[list[float]], list[int | None]]:
    """Random walks rounded to 0.05 (ties), a few non-finite values, and the evaluation after which a trial crashes."""
    rng = random.Random(seed)
    histories, crashes = [], []
    for _ in range(TRIALS):
        value, drift, history = rng.random(), rng.gauss(0, 0.05), []
        for _ in range(rng.randint(1, 16)):
            value += drift + rng.gauss(0, 0.1)
            history.append(rng.choice([math.nan, math.inf]) if rng.random() < 0.05 else round(value * 20) / 20)
        histories.append(history)
        crashes.append(rng.randrange(len(history)) if rng.random() < 0.1 else None)
    return histories, crashes


class OptunaAgents:
    """Trials asked from an in-memory study, reported and judged the way ``lex_dpr.sweep.agent`` does."""

    def __init__(self, goal: str, pruner, report_non_finite: bool = False) -> None:
        self.report_non_finite = report_non_finite
        self.study = optuna.create_study(storage=None, direction=goal, pruner=pruner)
        self.trials: dict[int, optuna.Trial] = {}
        self.best: dict[int, list[float]] = {}

    def start(self, i: int) -> None:
        self.trials[i], self.best[i] = self.study.ask(), []

    def report(self, i: int, step: int, value: float) -> bool:
        if not math.isfinite(value):
            if self.report_non_finite:
                self.trials[i].report(value, step)
            return False
        self.best[i].append(value)
        self.trials[i].report(value, step)
        return self.trials[i].should_prune()

    def finish(self, i: int, state: str) -> None:
        trial, values = self.trials.pop(i), self.best[i]
        if state == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
        elif state == "complete" and values:
            self.study.tell(trial, max(values) if self.study.direction.name == "MAXIMIZE" else min(values))
        else:
            self.study.tell(trial, state=TrialState.FAIL)


class WandbController:
    """W&B's side: every run's logged rows and state, and ``hyperband_stop_runs`` after each evaluation."""

    STATES = {"pruned": RunState.killed, "complete": RunState.finished, "failed": RunState.crashed}

    def __init__(self, config: dict) -> None:
        self.config = config
        self.rows: dict[int, list[dict]] = {}
        self.states: dict[int, RunState] = {}

    def start(self, i: int) -> None:
        self.rows[i], self.states[i] = [], RunState.running

    def report(self, i: int, step: int, value: float) -> bool:
        self.rows[i] += [{"train/loss": 1.0 / step}, {METRIC: value, "epoch": step}]
        if not math.isfinite(value):
            return False
        runs = [SweepRun(name=str(n), state=self.states[n], sampledHistory=list(rows)) for n, rows in self.rows.items()]
        return str(i) in {run.name for run in hyperband_stop_runs(runs, self.config)}

    def finish(self, i: int, state: str) -> None:
        self.states[i] = self.STATES[state]


def _replay(engine, histories, crashes, seed: int) -> dict[int, tuple[str, int]]:
    """``AGENTS`` trials at a time, the next evaluation from a random running one; each trial's end and evaluations."""
    rng = random.Random(seed)
    queue, running, ends = list(range(len(histories))), {}, {}
    while queue or running:
        while queue and len(running) < AGENTS:
            i = queue.pop(0)
            engine.start(i)
            running[i] = 0
        i = rng.choice(sorted(running))
        pos = running[i]
        running[i] += 1
        if engine.report(i, pos + 1, histories[i][pos]):
            ends[i] = ("pruned", pos + 1)
        elif crashes[i] == pos:
            ends[i] = ("failed", pos + 1)
        elif pos + 1 == len(histories[i]):
            ends[i] = ("complete", pos + 1)
        else:
            continue
        engine.finish(i, ends[i][0])
        del running[i]
    return ends


def _case(k: int, goal: str, pruner=None, report_non_finite: bool = False):
    et = SETTINGS[k]
    spec = parse_sweep(_file(et, goal))
    histories, crashes = _histories(1000 + 10 * k + GOALS.index(goal))
    seed = 7 * k + GOALS.index(goal)
    wandb = _replay(WandbController(_file(et, goal)), histories, crashes, seed)
    offline = _replay(OptunaAgents(goal, pruner or make_pruner(spec), report_non_finite), histories, crashes, seed)
    return wandb, offline


@pytest.mark.parametrize("goal", GOALS)
@pytest.mark.parametrize("k", range(len(SETTINGS)), ids=[str(s) for s in SETTINGS])
def test_each_replayed_trial_stops_where_wandb_stops_it(k, goal):
    wandb, offline = _case(k, goal)
    assert len(wandb) == len(offline) == TRIALS
    differ = {i: (wandb[i], offline[i]) for i in wandb if wandb[i] != offline[i]}
    assert not differ, f"{len(differ)} of {TRIALS} trials end differently (W&B, offline): {differ}"


@pytest.mark.parametrize("k", [0, 6])
def test_non_finite_values_reported_to_the_study_are_skipped_as_sweeps_skips_them(k):
    wandb, offline = _case(k, "maximize", report_non_finite=True)
    assert wandb == offline


def test_the_replays_prune_at_several_bands_and_let_others_finish():
    ends = Counter()
    for k in range(len(SETTINGS)):
        for goal in GOALS:
            wandb, _ = _case(k, goal)
            ends.update((k, state) for state, _ in wandb.values())
            ends.update((k, "pruned late") for state, n in wandb.values() if state == "pruned" and n > 3)
    for k, et in enumerate(SETTINGS):
        assert ends[k, "pruned"] >= 5 and ends[k, "complete"] >= 5 and ends[k, "failed"] >= 1, (et, ends)
    assert sum(ends[k, "pruned late"] for k in range(len(SETTINGS))) >= 10


class _ValueAtBand(HyperbandStopping):
    def prune(self, study, trial):
        history = self.history(trial)
        if trial.state != TrialState.RUNNING or len(history) <= self.bands[0]:
            return False
        band = max(b for b in self.bands if b < len(history))
        values = [h[band] for h in map(self.history, study.get_trials(deepcopy=False)) if len(h) > band]
        return history[band] > sorted(values)[int(self.rate * len(values))]


@pytest.mark.parametrize("wrong", ["optuna hyperband", "value at the band"])
def test_the_replay_tells_other_rules_apart(wrong):
    differ = 0
    for k, et in enumerate(SETTINGS):
        for goal in GOALS:
            spec = parse_sweep(_file(et, goal)).early_terminate
            if wrong == "optuna hyperband":
                if spec.eta < 2:
                    continue
                pruner = optuna.pruners.HyperbandPruner(min_resource=spec.min_iter or 1, reduction_factor=spec.eta,
                                                        max_resource=spec.max_iter or "auto")
            else:
                pruner = _ValueAtBand(spec, goal)
            wandb, offline = _case(k, goal, pruner)
            differ += sum(wandb[i] != offline[i] for i in wandb)
    assert differ >= 10


DOCSTRING_RUNS = [("a", RunState.finished, [10, 9]), ("b", RunState.running, [10, 10]),
                  ("c", RunState.running, [10, 8, 8]), ("d", RunState.running, [10, 7, 7]),
                  ("e", RunState.finished, [10, 6, 6])]
DOCSTRING_CONFIG = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
                    "early_terminate": {"type": "hyperband", "max_iter": 5, "eta": 2, "s": 2},
                    "parameters": {"a": {"values": [1, 2, 3]}}}


@pytest.mark.parametrize("goal", GOALS)
def test_the_case_in_sweeps_docstring(goal):
    sign = 1 if goal == "minimize" else -1
    config = {**DOCSTRING_CONFIG, "metric": {"name": "loss", "goal": goal}}
    runs = [SweepRun(name=name, state=state, sampledHistory=[{"loss": sign * v} for v in values])
            for name, state, values in DOCSTRING_RUNS]
    expected = sorted(run.name for run in hyperband_stop_runs(runs, config))
    assert expected == ["b", "c"]
    study = optuna.create_study(direction=goal, pruner=make_pruner(parse_sweep(
        {**_file({"max_iter": 5, "eta": 2, "s": 2}, goal), "metric": {"name": METRIC, "goal": goal}})))
    asked = {}
    for name, state, values in DOCSTRING_RUNS:
        if state == RunState.finished:
            study.add_trial(optuna.trial.create_trial(
                value=sign * min(values), intermediate_values={n: sign * v for n, v in enumerate(values, 1)},
                distributions={}, params={}))
        else:
            asked[name] = study.ask()
            for n, v in enumerate(values, 1):
                asked[name].report(sign * v, n)
    assert sorted(name for name, trial in asked.items() if trial.should_prune()) == expected


@pytest.mark.parametrize("et", [*SETTINGS, {"min_iter": 1, "eta": 1.01}, {"min_iter": 4, "eta": 10}], ids=str)
def test_bands_are_the_ones_sweeps_reports(et):
    config = _file(et, "minimize")
    run = SweepRun(name="r", state=RunState.running, sampledHistory=[{METRIC: 1.0}])
    hyperband_stop_runs([run], config)
    assert parse_sweep(config).early_terminate.bands() == run.early_terminate_info["bands"]


def test_without_early_terminate_nothing_is_pruned():
    spec = parse_sweep({k: v for k, v in _file({"min_iter": 1}, "maximize").items() if k != "early_terminate"})
    assert isinstance(make_pruner(spec), optuna.pruners.NopPruner)
    assert isinstance(make_pruner(parse_sweep(_file({"min_iter": 1}, "maximize"))), HyperbandStopping)


def test_a_band_beyond_every_history_never_prunes():
    pruner = HyperbandStopping(HyperbandSpec(min_iter=5, eta=3), "maximize")
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trial = study.ask()
    for step, value in enumerate([0.9, 0.1, 0.0, 0.0, 0.0], 1):
        trial.report(value, step)
        assert not trial.should_prune()


def test_the_package_exposes_load_sweep_and_make_pruner(tmp_path):
    import yaml

    from lex_dpr.sweep import load_sweep
    from lex_dpr.sweep import make_pruner as exposed

    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(_file({"max_iter": 9, "s": 2, "eta": 3}, "maximize")), encoding="utf-8")
    spec = load_sweep(path)
    assert spec.source == path and spec.early_terminate.bands() == [1, 3]
    assert exposed is make_pruner and isinstance(exposed(spec), HyperbandStopping)
    import lex_dpr.sweep

    assert {"load_sweep", "make_pruner"} <= set(lex_dpr.sweep.__all__) <= set(dir(lex_dpr.sweep))
    for name in lex_dpr.sweep.__all__:  # every public name resolves to the object in its home module
        value = getattr(lex_dpr.sweep, name)
        assert value.__module__.startswith("lex_dpr.sweep.") and value.__name__ == name
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = lex_dpr.sweep.no_such_name


def test_importing_the_package_imports_neither_optuna_nor_the_config():
    code = ("import sys, lex_dpr.sweep\n"
            "print(sorted(m for m in ('optuna', 'lex_dpr.sweep.parse', 'lex_dpr.sweep.pruner') if m in sys.modules))\n"
            "from lex_dpr.sweep import make_pruner\n"
            "print('optuna' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "True"]
