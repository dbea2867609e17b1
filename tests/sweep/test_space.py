"""The search space: every distribution stays in its declared range under real Optuna samplers, grids enumerate
exactly, stored trial params resolve to the values suggested, and overrides load back to the same config."""

from __future__ import annotations

import itertools
import math
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lex_dpr.errors import ConfigError
from lex_dpr.sweep.parse import parse_sweep
from lex_dpr.sweep.spec import ParamSpec
from lex_dpr.sweep.space import format_value, grid_space, param_name, resolved_values, suggest, to_overrides
from lex_dpr.training.config import load_config
from lex_dpr.utils.config import flatten, to_dict

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)

QS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 2.5]  # float steps; ints are drawn separately
TOL = 1e-9


def _multiple_of(value, q):
    k = value / q
    return abs(k - round(k)) <= TOL * max(1.0, abs(k))


@st.composite
def specs(draw, name):
    """One valid ParamSpec of any distribution, with W&B's constraints (min < max, q > 0, sigma > 0)."""
    d = draw(st.sampled_from(["constant", "categorical", "int_uniform", "uniform", "q_uniform", "log_uniform",
                              "log_uniform_values", "q_log_uniform_values", "normal", "q_normal", "log_normal",
                              "q_log_normal"]))
    finite = dict(allow_nan=False, allow_infinity=False)
    if d == "constant":
        return ParamSpec(name, d, value=draw(st.one_of(st.integers(), st.floats(**finite), st.text(max_size=5))))
    if d == "categorical":
        values = draw(st.one_of(st.lists(st.integers(-50, 50), min_size=1, max_size=5, unique=True),
                                st.lists(st.text("abc", min_size=1, max_size=3), min_size=1, max_size=4, unique=True),
                                st.lists(st.lists(st.sampled_from(["q_proj", "v_proj", "query"]), min_size=1,
                                                  max_size=2, unique=True), min_size=1, max_size=3,
                                         unique_by=lambda v: tuple(v))))
        return ParamSpec(name, d, values=values)
    if d == "int_uniform":
        lo = draw(st.integers(-1000, 1000))
        return ParamSpec(name, d, min=lo, max=lo + draw(st.integers(1, 1000)))
    if d == "uniform":
        lo = draw(st.floats(-1e3, 1e3, **finite))
        return ParamSpec(name, d, min=lo, max=lo + draw(st.floats(1e-3, 1e3, **finite)))
    if d in ("q_uniform", "q_log_uniform_values"):
        integer = draw(st.booleans())
        q = draw(st.integers(1, 16)) if integer else draw(st.sampled_from(QS))
        if d == "q_uniform":
            lo = draw(st.integers(-500, 500)) if integer else draw(st.floats(-100, 100, **finite))
        else:
            lo = draw(st.integers(1, 500)) if integer else draw(st.floats(1e-3, 100, **finite))
        width = draw(st.integers(q, 50 * q)) if integer else draw(st.floats(q, 50 * q, **finite))
        return ParamSpec(name, d, min=lo, max=lo + width, q=q)
    if d == "log_uniform_values":
        lo = 10 ** draw(st.floats(-8, 3, **finite))
        return ParamSpec(name, d, min=lo, max=lo * draw(st.floats(1.01, 1e4, **finite)))
    if d == "log_uniform":
        lo = draw(st.floats(-20, 5, **finite))
        return ParamSpec(name, d, min=lo, max=lo + draw(st.floats(0.01, 10, **finite)))
    q = None
    if d.startswith("q_"):
        q = draw(st.one_of(st.integers(1, 8), st.sampled_from(QS)))
    if "log" in d:
        return ParamSpec(name, d, mu=draw(st.floats(-10, 5, **finite)), sigma=draw(st.floats(1e-3, 2, **finite)), q=q)
    return ParamSpec(name, d, mu=draw(st.floats(-100, 100, **finite)), sigma=draw(st.floats(1e-3, 50, **finite)), q=q)


def _check(spec, value):
    d = spec.distribution
    if d == "constant":
        assert value == spec.value or (value != value and spec.value != spec.value)
        return
    if d == "categorical":
        assert value in spec.values
        return
    assert isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    integer = d == "int_uniform" or (d.startswith("q_") and isinstance(spec.q, int))
    assert isinstance(value, int) is integer, (spec, value)
    if d == "log_uniform":
        lo, hi = math.exp(spec.min), math.exp(spec.max)
        assert lo * (1 - 1e-12) <= value <= hi * (1 + 1e-12)
    elif spec.min is not None:
        assert spec.min <= value <= spec.max, (spec, value)
    if d.startswith("q_"):
        assert _multiple_of(value, spec.q), (spec, value)
    if "log" in d:
        assert value >= 0  # a log_normal rounded to q may reach 0, never below


def _run(parameters, sampler, trials):
    study = optuna.create_study(sampler=sampler)
    for i in range(trials):
        trial = study.ask()
        values = suggest(trial, parameters)
        for key, spec in parameters.items():
            _check(spec, values[key])
        assert resolved_values(trial.params, parameters) == values
        study.tell(trial, float(i % 3))
    for frozen in study.trials:  # stored params resolve the same way after the fact
        resolved_values(frozen.params, parameters)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=4, unique=True).flatmap(
    lambda ids: st.tuples(*[specs(f"p{i}") for i in ids])), st.integers(0, 2**16))
def test_random_sampler_stays_in_range(params, seed):
    parameters = {p.key: p for p in params}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Optuna warning: bounds and steps are what it expects
        _run(parameters, optuna.samplers.RandomSampler(seed=seed), 6)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(specs("a"), specs("b")), st.integers(0, 2**16))
def test_tpe_sampler_stays_in_range(params, seed):
    parameters = {p.key: p for p in params}
    _run(parameters, optuna.samplers.TPESampler(n_startup_trials=2, seed=seed), 5)


def test_grid_enumerates_exactly_the_product():
    spec = parse_sweep({"method": "grid", "metric": {"name": "eval/ndcg_at_10"}, "parameters": {
        "lora.r": {"min": 4, "max": 6},
        "trainer.warmup_ratio": {"distribution": "q_uniform", "min": 0.05, "max": 0.3, "q": 0.1},
        "lora.target_modules": {"values": [["q_proj", "v_proj"], ["query", "value"]]},
        "trainer.epochs": {"value": 1}}})
    space = grid_space(spec.parameters)
    assert space == {"lora.r": [4, 5, 6], "trainer.warmup_ratio": [0.1, 0.2, 0.3],
                     "lora.target_modules": ["[q_proj, v_proj]", "[query, value]"]}
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(space, seed=1))
    seen = []
    for _ in range(3 * 3 * 2):
        trial = study.ask()
        values = suggest(trial, spec.parameters)
        assert values["trainer.epochs"] == 1
        seen.append((values["lora.r"], values["trainer.warmup_ratio"], tuple(values["lora.target_modules"])))
        try:
            study.tell(trial, 0.0)
        except RuntimeError:  # GridSampler calls study.stop() after the last point, outside optimize() (stored first)
            assert len(seen) == 18
    assert sorted(seen) == sorted(itertools.product([4, 5, 6], [0.1, 0.2, 0.3],
                                                    [("q_proj", "v_proj"), ("query", "value")]))
    with pytest.raises(ConfigError, match=r"'parameters.x' \(uniform\)"):
        grid_space({"x": ParamSpec("x", "uniform", min=0.0, max=1.0)})


@pytest.mark.parametrize("parameters", [{"trainer.warmup_ratio": {"min": 0.0, "max": 0.5}}, {"lora.r": {"min": 1, "max": 400},
                                                                            "trainer.epochs": {"min": 1, "max": 400}}])
def test_the_file_check_and_the_sampler_refuse_a_grid_with_the_same_words(parameters):
    """One grid check (space.grid_problems): sweep files are refused with the words grid_space raises."""
    from lex_dpr.sweep.space import grid_problems

    specs = {k: ParamSpec(k, "uniform" if isinstance(v["min"], float) else "int_uniform", min=v["min"], max=v["max"])
             for k, v in parameters.items()}
    [problem] = grid_problems(specs)
    with pytest.raises(ConfigError) as raised:
        grid_space(specs)
    assert str(raised.value) == problem
    with pytest.raises(ConfigError) as parsed:
        parse_sweep({"method": "grid", "metric": {"name": "eval/ndcg_at_10"}, "parameters": parameters})
    assert problem in str(parsed.value)


def test_normal_family_is_suggested_as_a_bounded_quantile():
    spec = ParamSpec("trainer.max_grad_norm", "q_normal", mu=1.0, sigma=0.2, q=0.1)
    assert param_name(spec) == "trainer.max_grad_norm#u"
    assert resolved_values({"trainer.max_grad_norm#u": 0.5}, {spec.key: spec}) == {spec.key: 1.0}
    with pytest.raises(ConfigError, match="changed since it ran"):
        resolved_values({}, {spec.key: spec})


REAL = {  # training keys and values of every type an override carries
    "trainer.lr": 2e-05, "trainer.temperature": 0.03, "trainer.epochs": 1.5, "trainer.batch_size": 96,
    "trainer.max_steps": -1, "trainer.precision": "bf16", "trainer.gradient_checkpointing": True,
    "lora.target_modules": ["q_proj", "v_proj"], "lora.dropout": 0.0, "lora.enabled": False,
    "model.max_seq_length": None, "model.query_prompt": "query: ", "model.passage_prompt": "12",
    "model.name": "bge-m3-ko", "data.valid_pairs": "null-ish: yes", "eval.k_values": [1, 10, 50],
    "eval.metric": "mrr_at_10", "wandb.group": "sweep #3, trial 'a'", "out_dir": "runs/x y",
    "data.hard_negative_ratio": 1e-300,
}


def test_to_overrides_loads_back_to_the_same_config():
    overrides = to_overrides(REAL)
    assert overrides[0] == "trainer.lr=2e-05" and "lora.target_modules=[q_proj, v_proj]" in overrides
    got = flatten(to_dict(load_config(None, overrides)))
    assert {k: got[k] for k in REAL} == REAL


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.floats(1e-12, 1e6, allow_nan=False), st.integers(1, 10**6)), st.text(min_size=1, max_size=12))
def test_any_lr_and_text_round_trip(lr, text):
    values = {"trainer.lr": lr, "wandb.group": text}
    cfg = load_config(None, to_overrides(values))
    assert cfg.trainer.lr == float(lr)
    # the loader reads null, none and ~ as None for an optional key even when quoted (lex_dpr.utils.config._coerce)
    assert cfg.wandb.group == (None if text.strip().lower() in {"null", "none", "~"} else text)
    assert "\n" not in format_value(text)  # one override, one line
