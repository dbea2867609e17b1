"""The online engine's offline parts: translation to W&B's schema, its check, credentials, and the trial function
run against a real (offline-mode) W&B run. The W&B server itself cannot be reached from CI."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from lex_dpr.errors import ConfigError
from lex_dpr.sweep.parse import load_sweep, parse_sweep
from lex_dpr.sweep.online import check_for_wandb, to_wandb, wandb_problems

BASE = {"method": "bayes", "metric": {"name": "eval/ndcg_at_10", "goal": "maximize"}}


@pytest.mark.parametrize("family", ["static", "transformer"])
def test_the_presets_pass_wandbs_schema(family, tmp_path):
    from lex_dpr.sweep.preset import TRANSFORMER_MODELS, build_preset

    made = build_preset(family, "p.jsonl", "c.jsonl", "v.jsonl", 12,
                        availability=dict.fromkeys(TRANSFORMER_MODELS))  # as on a machine with the models
    (tmp_path / "s.yaml").write_text(made.text, encoding="utf-8")
    spec = load_sweep(tmp_path / "s.yaml")
    cfg = check_for_wandb(spec)
    assert cfg["method"] == "bayes" and cfg["run_cap"] == 12
    assert set(spec.parameters) <= set(cfg["parameters"])
    fixed_keys = {item.split("=", 1)[0] for item in spec.fixed}
    assert all(cfg["parameters"][k] == {"value": cfg["parameters"][k]["value"]} for k in fixed_keys)
    assert cfg["parameters"]["data.pairs"] == {"value": "p.jsonl"}


def test_every_distribution_translates_to_what_wandb_accepts():
    params = {"trainer.lr": {"distribution": "log_uniform_values", "min": 1e-3, "max": 0.3},
              "trainer.temperature": {"distribution": "normal", "mu": 0.05, "sigma": 0.01},
              "trainer.weight_decay": {"distribution": "uniform", "min": 0.0, "max": 0.3},
              "trainer.max_grad_norm": {"distribution": "log_normal", "mu": 0.5, "sigma": 0.2},
              "trainer.epochs": {"distribution": "q_uniform", "min": 2, "max": 10, "q": 2},
              "trainer.batch_size": {"distribution": "q_log_uniform_values", "min": 8, "max": 256, "q": 8},
              "data.hard_negatives": {"distribution": "int_uniform", "min": 1, "max": 4},
              "trainer.warmup_ratio": {"distribution": "q_normal", "mu": 0.1, "sigma": 0.02, "q": 0.01},
              "lora.target_modules": {"values": [["q_proj", "v_proj"], ["query", "value"]]},
              "trainer.seed": {"value": 3}}
    spec = parse_sweep({**BASE, "parameters": params, "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 3},
                        "metric": {"name": "eval/ndcg_at_10", "goal": "maximize", "target": 0.9}})
    cfg = to_wandb(spec, name="lr-search")
    assert wandb_problems(cfg) == []
    assert cfg["name"] == "lr-search" and cfg["metric"]["target"] == 0.9
    assert cfg["early_terminate"] == {"type": "hyperband", "eta": 3, "min_iter": 2}
    assert cfg["parameters"]["trainer.epochs"] == {"distribution": "q_uniform", "min": 2, "max": 10, "q": 2}
    assert cfg["parameters"]["lora.target_modules"] == {"values": [["q_proj", "v_proj"], ["query", "value"]]}


def test_a_predecessor_file_goes_online_under_lex_dpr_keys():
    spec = parse_sweep({**BASE, "parameters": {"model.peft.r": {"values": [4, 8]},
                                               "trainer.gradient_clip_norm": {"min": 1.0, "max": 5.0}}})
    cfg = check_for_wandb(spec)
    assert {"lora.r", "trainer.max_grad_norm"} <= set(cfg["parameters"])
    assert "model.peft.r" not in cfg["parameters"]


def test_wandbs_schema_catches_what_the_offline_parser_lets_through():
    cfg = to_wandb(parse_sweep({**BASE, "parameters": {"trainer.lr": {"values": [0.1, 0.2]}}}))
    cfg["metric"]["goal"] = "maximise"
    cfg["parameters"]["trainer.epochs"] = {"distribution": "uniform", "min": 3}
    cfg["run_cap"] = 0
    problems = wandb_problems(cfg)
    assert any("maximise" in p for p in problems)
    assert any("trainer.epochs" in p for p in problems)
    assert any("run_cap" in p for p in problems)


def test_deprecated_log_uniform_is_a_warning_not_a_refusal(caplog):
    spec = parse_sweep({**BASE, "parameters": {"trainer.lr": {"distribution": "log_uniform", "min": -5, "max": -1}}})
    cfg = check_for_wandb(spec)
    assert cfg["parameters"]["trainer.lr"]["distribution"] == "log_uniform"
    assert any("log_uniform_values" in r.getMessage() for r in caplog.records)


def test_check_for_wandb_lists_every_problem(monkeypatch):
    import lex_dpr.sweep.online as online

    spec = parse_sweep({**BASE, "parameters": {"trainer.lr": {"values": [0.1]}}})
    monkeypatch.setattr(online, "to_wandb", lambda s: {"method": "bayes", "metric": {"name": "m", "goal": "up"},
                                                       "parameters": {"x": {"distribution": "uniform"}}, "run_cap": -1})
    with pytest.raises(ConfigError) as err:
        online.check_for_wandb(spec)
    message = str(err.value)
    assert "W&B would refuse this sweep" in message and "run_cap" in message and "'up'" in message


def test_online_without_credentials_is_one_line_and_exit_1(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("method: random\nmetric: {name: eval/ndcg_at_10, goal: maximize}\n"
                    "parameters:\n  trainer.lr: {values: [0.1, 0.2]}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(HOME=str(tmp_path), NETRC=str(tmp_path / "no-netrc"), WANDB_CONFIG_DIR=str(tmp_path / "wb"),
               HF_HUB_OFFLINE="1", WANDB_MODE="online")
    done = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "sweep", "create", "--config", str(path),
                           "--no-run-agent"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert lines[-1].startswith("error: --online needs W&B credentials"), done.stderr
    assert "Traceback" not in done.stderr
    assert "wandb_sweep" not in path.read_text()  # nothing was created
    assert not (tmp_path / "sweeps").exists()


@pytest.mark.slow
def test_the_online_trial_function_trains_and_logs_into_a_real_wandb_run(sample_training_data, tmp_path):
    import wandb

    from lex_dpr.runs.record import read_metrics
    from lex_dpr.sweep.online import run_online_trial

    d = sample_training_data
    spec = parse_sweep({**BASE, "parameters": {"trainer.lr": {"values": [0.1, 0.2]}, "trainer.epochs": {"values": [2]}},
                        "fixed": {"model.vocab_size": 400, "model.embedding_dim": 16, "trainer.batch_size": 8,
                                  "data.pairs": str(d["pairs"]), "data.passages": str(d["passages"]),
                                  "data.valid_pairs": str(d["valid_pairs"])}})
    run = wandb.init(mode="offline", dir=str(tmp_path), config={"trainer.lr": 0.2, "trainer.epochs": 2},
                     project="lex-dpr-test")
    try:
        trial = run_online_trial(spec, run, tmp_path / "sweeps" / "s1", poll_s=0.2)
        summary = dict(run.summary)
    finally:
        run.finish()
    assert trial.state == "complete", trial.error
    rows = read_metrics(trial.run_dir / "bi_encoder")
    assert trial.logged == len(rows) > 0
    best = max(r["eval/ndcg_at_10"] for r in rows if "eval/ndcg_at_10" in r)
    assert trial.value == pytest.approx(best) and summary["eval/ndcg_at_10"] == pytest.approx(best)
    record = orjson.loads((trial.run_dir / "bi_encoder" / "training_config.json").read_bytes())
    assert "trainer.lr=0.2" in trial.overrides and "wandb.mode=disabled" in trial.overrides
    assert record["config"]["trainer"]["lr"] == 0.2 and record["config"]["trainer"]["epochs"] == 2
    assert trial.run_dir == Path(tmp_path / "sweeps" / "s1" / "runs" / run.id)
