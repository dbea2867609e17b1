"""Which engine a sweep command runs on, chosen by the library (the CLI only renders what it returns)."""

import pytest

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.sweep import engine
from lex_dpr.sweep.parse import load_sweep
from lex_dpr.sweep.study import request_stop

SWEEP = ("method: random\nmetric: {name: eval/ndcg_at_10, goal: maximize}\n"
         "parameters:\n  trainer.lr: {values: [0.1, 0.2]}\n"
         "fixed:\n  data.pairs: p.jsonl\n  data.passages: c.jsonl\n  data.valid_pairs: v.jsonl\n")


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    for name in ("p.jsonl", "c.jsonl", "v.jsonl"):
        (tmp_path / name).write_text("")
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP, encoding="utf-8")
    return path


def test_the_engine_follows_the_flag_and_wandb_mode(monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert (engine.engine_for(False), engine.engine_for(True)) == (engine.OFFLINE, engine.ONLINE)
    monkeypatch.setenv("WANDB_MODE", "Online")
    assert engine.engine_for(False) == engine.ONLINE


def test_create_then_an_offline_agent_plan_and_a_stopped_sweep(config, tmp_path):
    made = engine.create(load_sweep(config), config, root=tmp_path / "sweeps")
    assert made.engine == engine.OFFLINE and f"sweep_id: {made.sweep}" in config.read_text()
    plan = engine.prepare_agent(None, config, count=2, root=tmp_path / "sweeps", time_window="17-7", timezone="UTC")
    assert (plan.engine, plan.name, plan.count, plan.stopped) == (engine.OFFLINE, made.sweep, 2, None)
    assert plan.folder == tmp_path / "sweeps" / made.sweep and plan.options.window.describe() == "17:00–07:00 UTC"
    request_stop(plan.sweep, "by hand")
    stopped = engine.prepare_agent(made.sweep, root=tmp_path / "sweeps")
    assert stopped.stopped.startswith("at ") and stopped.stopped.endswith("Z (by hand)")
    assert engine.prepare_agent(made.sweep, root=tmp_path / "sweeps", resume=True).stopped is None


def test_refusals_name_the_fix(config, tmp_path):
    with pytest.raises(ConfigError, match="--sampler 'cmaes' is not one of gp, tpe"):
        engine.prepare_agent(None, config, root=tmp_path / "sweeps", sampler="cmaes")
    with pytest.raises(ConfigError, match="sweep agent --online needs --config F"):
        engine.prepare_agent("e/p/id", None, online=True)
    with pytest.raises(ConfigError, match="no wandb_sweep in the file"):
        engine.prepare_agent(None, config, online=True)
    assert engine.prepare_agent("e/p/abc", config, online=True, root=tmp_path / "s").folder == tmp_path / "s" / "abc"
    (tmp_path / "v.jsonl").unlink()
    with pytest.raises(InputError, match="data.valid_pairs: v.jsonl does not exist"):
        engine.create(load_sweep(config), config, root=tmp_path / "sweeps")
