"""Sweep files: a full W&B file parses, a bad one lists every problem at once, sweep_id is written back in place."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lex_dpr.errors import ConfigError
from lex_dpr.sweep.parse import load_sweep, parse_sweep, set_sweep_id
from lex_dpr.sweep.spec import DISTRIBUTIONS, HyperbandSpec
from lex_dpr.training.config import load_config

FULL = """\
# a W&B sweep file, with lex-dpr's own keys
program: train.py
project: lex-dpr-sweeps
entity: legal-ir
name: lr-and-lora
description: every distribution kind
command: [python, train.py, "${args}"]
method: bayes
metric:
  name: eval/ndcg_at_10
  goal: maximize
  target: 0.95
early_terminate:
  type: hyperband
  min_iter: 2
  eta: 3
run_cap: 30
initial_runs: 5
time_window: "17:30-07:00"
timezone: Asia/Seoul
storage: sqlite:///sweeps.db
parameters:
  trainer.lr: {distribution: log_uniform_values, min: 1e-5, max: 1e-3}
  trainer.weight_decay: {min: 0.0, max: 0.1}
  trainer.warmup_ratio: {distribution: q_uniform, min: 0.0, max: 0.3, q: 0.05}
  lora.r: {min: 4, max: 64}
  lora.alpha: {distribution: q_log_uniform_values, min: 8, max: 128, q: 8}
  trainer.temperature: {distribution: log_uniform, min: -4.6, max: -2.3}
  trainer.max_grad_norm: {distribution: normal, mu: 1.0, sigma: 0.1}
  data.hard_negatives: {distribution: q_normal, mu: 4, sigma: 0.5, q: 1}
  lora.dropout: {distribution: log_normal, mu: -3, sigma: 0.3}
  trainer.batch_size: {distribution: q_log_normal, mu: 4, sigma: 0.3, q: 8}
  lora.target_modules: {values: [[q_proj, v_proj], [query, value]]}
  model.name: {value: static}
  trainer:
    parameters:
      epochs: {distribution: categorical, values: [1, 2]}
  data.hard_negative_ratio: {distribution: uniform, min: 0.5, max: 1.0}
  trainer.eval_steps: {distribution: int_uniform, min: 0, max: 100}
  model.query_prompt: {distribution: constant, value: "query: "}
fixed:
  data.pairs: out/pairs_train.jsonl
  wandb:
    mode: disabled
"""


def test_a_full_wandb_file_parses(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(FULL, encoding="utf-8")
    spec = load_sweep(path)
    assert spec.source == path and spec.raw == yaml.safe_load(FULL)
    assert (spec.method, spec.metric, spec.goal, spec.direction(), spec.target) == (
        "bayes", "eval/ndcg_at_10", "maximize", "maximize", 0.95)
    got = {k: p.distribution for k, p in spec.parameters.items()}
    assert set(got.values()) == set(DISTRIBUTIONS)
    assert list(got)[:3] == ["trainer.lr", "trainer.weight_decay", "trainer.warmup_ratio"]  # file order
    assert got["lora.r"] == "int_uniform" and got["trainer.weight_decay"] == "uniform"  # W&B's inference
    assert got["trainer.epochs"] == "categorical"  # W&B's nested parameters
    lr = spec.parameters["trainer.lr"]
    assert (lr.min, lr.max) == (1e-5, 1e-3)  # YAML 1.1 reads 1e-5 as text
    assert spec.parameters["data.hard_negatives"].q == 1
    assert spec.parameters["lora.target_modules"].values == [["q_proj", "v_proj"], ["query", "value"]]
    assert spec.fixed == ["data.pairs=out/pairs_train.jsonl", "wandb.mode=disabled"]
    assert spec.early_terminate == HyperbandSpec(min_iter=2, max_iter=None, eta=3, s=None)
    assert (spec.run_cap, spec.initial_runs, spec.time_window, spec.timezone) == (30, 5, "17:30-07:00", "Asia/Seoul")
    assert (spec.storage, spec.project, spec.entity, spec.sweep_id) == ("sqlite:///sweeps.db", "lex-dpr-sweeps",
                                                                        "legal-ir", None)
    for key in ("program", "command", "name", "description", "project", "entity"):
        assert any(n.startswith(f"ignored offline: {key} (") for n in spec.notes), key
    assert spec.legacy == []
    assert parse_sweep(spec.raw) == parse_sweep(yaml.safe_load(yaml.safe_dump(spec.raw)))  # what sweep create stores


def test_fixed_as_a_list_and_defaults():
    spec = parse_sweep({"method": "random", "parameters": {"trainer.lr": {"values": ["1e-5", "2e-5"]}},
                        "fixed": ["trainer.epochs=1", "lora.target_modules=[q_proj, v_proj]", "~trainer.seed"],
                        "metric": {"name": "eval/loss"}})
    assert spec.fixed == ["trainer.epochs=1", "lora.target_modules=[q_proj, v_proj]", "~trainer.seed"]
    assert spec.parameters["trainer.lr"].values == [1e-5, 2e-5]  # numbers for a float key
    assert (spec.metric, spec.goal) == ("eval/loss", "minimize")  # a loss is minimised
    assert load_config(None, spec.fixed).lora.target_modules == ["q_proj", "v_proj"]
    spec = parse_sweep({"method": "grid", "parameters": {"lora.r": {"values": [8, 16]}},
                        "fixed": {"eval.metric": "recall_at_10"}})
    assert (spec.metric, spec.goal) == ("eval/recall_at_10", "maximize")  # from the training's eval.metric
    assert any(n.startswith("metric not set") for n in spec.notes)


@pytest.mark.parametrize(("name", "key"), [("eval/ndcg_at_10", "eval/ndcg_at_10"), ("ndcg_at_10", "eval/ndcg_at_10"),
                                           ("eval_recall_at_5", "eval/recall_at_5"), ("eval/MRR@10", "eval/mrr_at_10"),
                                           ("eval/loss", "eval/loss"), ("train/loss", "train/loss"),
                                           ("loss", None), ("accuracy", None), ("eval/f1_at_10", None)])
def test_metric_names(name, key):
    raw = {"method": "random", "metric": {"name": name}, "parameters": {"lora.r": {"values": [8, 16]}}}
    if key is None:
        with pytest.raises(ConfigError, match="is not a metric training logs"):
            parse_sweep(raw)
    else:
        assert parse_sweep(raw).metric == key


def test_hyperband_forms():
    base = {"method": "random", "metric": {"name": "eval/ndcg_at_10"}, "parameters": {"lora.r": {"values": [8]}}}
    spec = parse_sweep({**base, "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2}})
    assert spec.early_terminate == HyperbandSpec(min_iter=None, max_iter=27, eta=3, s=2)
    assert spec.early_terminate.bands() == [3, 9]  # W&B: max_iter / eta^i, i = 1..s
    spec = parse_sweep({**base, "early_terminate": {"type": "hyperband", "min_iter": 3, "s": 4, "eta": 2}})
    assert spec.early_terminate.s is None and spec.early_terminate.bands(up_to=30) == [3, 6, 12, 24]
    with pytest.raises(ConfigError) as err:
        parse_sweep({**base, "early_terminate": {"type": "hyperbnd", "max_iter": 27, "eta": 1}})
    message = str(err.value)
    assert "'early_terminate.type': 'hyperbnd' must be hyperband" in message
    assert "'early_terminate.eta': 1 must be a number > 1" in message
    assert "'early_terminate.s' is required with max_iter" in message


def test_every_problem_is_listed_at_once():
    raw = yaml.safe_load("""
method: gird
metrc: {name: eval/ndcg_at_10}
metric: {name: accuracy, goal: maximise}
timezone: Asia/Seol
time_window: "25-7"
run_cap: 0
parameters:
  trainer.lrr: {min: 1.0e-5, max: 1.0e-3}
  trainer.lr: {min: 0, max: 0.1}
  trainer.weight_decay: {min: 0.5, max: 0.1}
  trainer.warmup_ratio: {distribution: unifrom, min: 0, max: 0.1}
  lora.dropout: {distribution: inv_log_uniform_values, min: 0.01, max: 0.1}
  trainer.batch_size: {distribution: uniform, min: 8, max: 64}
  lora.alpha: {min: 8, max: 32, mn: 4}
  trainer.max_grad_norm: {distribution: normal, mu: 1, sigma: 0}
  trainer.epochs: {values: [1, one]}
  trainer.precision: {values: [bf16, bf61]}
fixed: {trainer.seed: -1}
""")
    with pytest.raises(ConfigError) as err:
        parse_sweep(raw, "sweep.yaml")
    message = str(err.value)
    problems = message.split(": ", 2)[2].split("; ")
    assert message.startswith(f"sweep.yaml: {len(problems)} problems: ")
    expected = [
        "unknown key 'metrc' (did you mean 'metric'?)",
        "'method': 'gird' is not one of grid, random, bayes (did you mean 'grid'?)",
        "'metric.name': 'accuracy' is not a metric training logs: use eval/ndcg_at_10",
        "'metric.goal': 'maximise' is not maximize or minimize (did you mean 'maximize'?)",
        "'timezone': 'Asia/Seol' is not an IANA time zone (e.g. Asia/Seoul, UTC) (did you mean 'Asia/Seoul'?)",
        "'time_window': '25-7' has an hour outside 0-24",
        "'run_cap': 0 must be a whole number >= 1",
        "'parameters.trainer.lrr': unknown training key (did you mean 'trainer.lr'?)",
        "'parameters.trainer.lr': min 0.0 is rejected by training: 'trainer.lr': 0.0 must be > 0",
        "'parameters.trainer.weight_decay': min 0.5 must be < max 0.1",
        "'parameters.trainer.warmup_ratio': distribution 'unifrom' is not one of constant, categorical",
        "'parameters.lora.dropout': inverse log-uniform is not supported",
        "'parameters.trainer.batch_size': 'trainer.batch_size' takes whole numbers but uniform draws real ones",
        "'parameters.lora.alpha': unknown key 'mn' (did you mean 'min'?)",
        "'parameters.trainer.max_grad_norm': sigma 0 must be > 0",
        "'parameters.trainer.epochs': values mix number and text",
        "'parameters.trainer.precision': value bf61 is rejected by training: 'trainer.precision': 'bf61' is not one of "
        "auto, fp32, bf16, fp16 (did you mean 'bf16'?)",
        "fixed: 'trainer.seed': -1 must be >= 0",
    ]
    for want in expected:
        assert any(p.startswith(want) for p in problems), f"{want!r} not in:\n" + "\n".join(problems)
    assert "did you mean 'uniform'?" in message
    assert len(problems) == len(expected)


def test_grid_needs_enumerable_parameters():
    raw = {"method": "grid", "metric": {"name": "eval/ndcg_at_10"},
           "parameters": {"trainer.lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-3},
                          "lora.r": {"min": 4, "max": 8}, "trainer.warmup_ratio": {"distribution": "q_uniform",
                                                                                  "min": 0, "max": 0.2, "q": 0.1},
                          "trainer.max_grad_norm": {"distribution": "normal", "mu": 1, "sigma": 0.1}}}
    with pytest.raises(ConfigError, match=r"method grid cannot enumerate 'parameters.trainer.lr' \(log_uniform_values\), "
                                          r"'parameters.trainer.max_grad_norm' \(normal\)"):
        parse_sweep(raw)
    del raw["parameters"]["trainer.lr"], raw["parameters"]["trainer.max_grad_norm"]
    assert set(parse_sweep(raw).parameters) == {"lora.r", "trainer.warmup_ratio"}
    raw["parameters"]["trainer.eval_steps"] = {"min": 0, "max": 10**6}
    with pytest.raises(ConfigError, match="combinations"):
        parse_sweep(raw)


def test_range_problems():
    base = {"method": "random", "metric": {"name": "eval/ndcg_at_10"}}

    def problems(spec, key="trainer.lr"):
        with pytest.raises(ConfigError) as err:
            parse_sweep({**base, "parameters": {key: spec}})
        return str(err.value)

    assert "min > 0" in problems({"distribution": "log_uniform_values", "min": 0, "max": 1})
    assert "q 0 must be > 0" in problems({"distribution": "q_uniform", "min": 0.1, "max": 1, "q": 0})
    assert "no multiple of q=0.5" in problems({"distribution": "q_uniform", "min": 0.1, "max": 0.4, "q": 0.5})
    assert "values must be a non-empty list" in problems({"values": []})
    assert "values repeat 8" in problems({"values": [8, 8.0]}, "lora.r")
    assert "'mu' does not apply to uniform" in problems({"distribution": "uniform", "min": 0.1, "max": 1, "mu": 1})
    assert "give value (a constant) or values" in problems({"value": 1, "values": [1]})
    assert "mu and sigma need a distribution" in problems({"mu": 1, "sigma": 1})
    assert "is text, not a number" in problems({"min": 1, "max": 2}, "model.name")
    # a normal's reachable tail (quantile 1e-6) must be valid too: lr = 1e-4 - 4.75 * 1e-4 < 0
    assert "lowest value" in problems({"distribution": "normal", "mu": 1e-4, "sigma": 1e-4})
    assert "must be a spec such as" in problems(2e-5)
    assert "weighted categoricals are not supported" in problems({"values": [1e-5], "probabilities": [1.0]})
    assert "is not logged by training: add 50 to eval.k_values" in str(
        pytest.raises(ConfigError, parse_sweep, {**base, "metric": {"name": "ndcg_at_50"},
                                                 "parameters": {"lora.r": {"values": [8]}}}).value)
    assert parse_sweep({**base, "metric": {"name": "ndcg_at_50"}, "parameters": {"lora.r": {"values": [8]}},
                        "fixed": {"eval.k_values": [10, 50]}}).metric == "eval/ndcg_at_50"


def test_a_key_in_both_fixed_and_parameters_is_an_error():
    with pytest.raises(ConfigError, match="'trainer.lr' is set in both fixed and parameters: keep one"):
        parse_sweep({"method": "random", "parameters": {"trainer.lr": {"values": [1e-5]}},
                     "fixed": {"trainer.lr": 2e-5}})


def test_set_sweep_id_keeps_comments_and_replaces_an_existing_id(tmp_path):
    path = tmp_path / "sweep.yaml"
    text = "# my sweep\nmethod: random  # fast\nparameters:\n  # the learning rate\n  trainer.lr: {values: [1e-5]}\n"
    path.write_text(text, encoding="utf-8")
    set_sweep_id(path, "lr-20250101-ab12")
    assert path.read_text(encoding="utf-8") == text + "sweep_id: lr-20250101-ab12\n"
    set_sweep_id(path, "12345678")  # YAML would read it as a number: quoted
    assert path.read_text(encoding="utf-8") == text + 'sweep_id: "12345678"\n'
    assert load_sweep(path).sweep_id == "12345678"
    path.write_text("method: random\nsweep_id: old  # written by sweep create\nrun_cap: 3", encoding="utf-8")
    set_sweep_id(path, "new-id")
    assert path.read_text(encoding="utf-8") == "method: random\nsweep_id: new-id  # written by sweep create\nrun_cap: 3"
    path.write_bytes(b"method: random\r\nrun_cap: 3")  # Windows line ends, no final newline
    set_sweep_id(path, "x1")
    assert path.read_bytes() == b"method: random\r\nrun_cap: 3\r\nsweep_id: x1\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml"]  # no temporary file left
    with pytest.raises(ConfigError, match="one line"):
        set_sweep_id(path, "a\nb")


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(), st.text(max_size=6),
                     st.sampled_from(["1e-5", "uniform", "q_uniform", "normal", "categorical", "inf", "17-7"]))
_VALUES = st.recursive(_SCALARS, lambda c: st.one_of(st.lists(c, max_size=3),
                                                     st.dictionaries(st.text(max_size=4), c, max_size=3)), max_leaves=6)
_SPECS = st.dictionaries(st.sampled_from(["distribution", "value", "values", "min", "max", "mu", "sigma", "q",
                                          "probabilities", "parameters"]), _VALUES, max_size=4)
_KEYS = st.sampled_from(["trainer.lr", "lora.r", "trainer.batch_size", "model.name", "lora.target_modules", "seed",
                         "model.peft.r", "trainer.use_amp", "data.use_hard_negatives", "model.bi_model", "x.y"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({"method": st.sampled_from(["grid", "random", "bayes", "x"]),
                              "parameters": st.dictionaries(_KEYS, st.one_of(_SPECS, _VALUES), max_size=4)},
                             optional={"metric": _VALUES, "fixed": st.one_of(_VALUES, st.dictionaries(_KEYS, _VALUES)),
                                       "early_terminate": _VALUES, "run_cap": _VALUES, "time_window": _VALUES,
                                       "timezone": _VALUES, "sweep_id": _VALUES, "test_run": _VALUES}))
def test_any_file_parses_or_is_a_config_error(raw):
    try:
        parse_sweep(raw)
    except ConfigError as exc:
        assert str(exc).startswith("sweep: ")
