"""`sweep preset`: the family follows what can be loaded here, and the file is a valid sweep."""

import os
import subprocess
import sys

import pytest

from lex_dpr.errors import ConfigError
from lex_dpr.sweep.parse import parse_sweep
from lex_dpr.sweep.preset import TRANSFORMER_MODELS, build_preset, missing_data, model_availability

ALL = dict.fromkeys(TRANSFORMER_MODELS)
NONE = {m: "not in the local Hugging Face cache and HF_HUB_OFFLINE is set" for m in TRANSFORMER_MODELS}


def _parse(text):
    import yaml

    return parse_sweep(yaml.safe_load(text), "preset")


def test_transformer_family_is_the_seed_sweep_when_models_load():
    made = build_preset(availability=ALL)
    spec = _parse(made.text)
    assert made.family == "transformer" and spec.method == "bayes" and spec.metric == "eval/ndcg_at_10"
    p = spec.parameters
    assert (p["trainer.lr"].distribution, p["trainer.lr"].min, p["trainer.lr"].max) == ("log_uniform_values", 5e-7, 1e-4)
    assert p["model.name"].values == list(TRANSFORMER_MODELS)
    assert p["trainer.batch_size"].values == [32, 64, 128, 256] and p["lora.r"].values == [4, 8, 16]
    assert (p["data.hard_negative_ratio"].min, p["data.hard_negative_ratio"].max) == (0.2, 0.6)
    assert "trainer.epochs=3" in spec.fixed


def test_models_that_do_not_load_are_comments_with_the_reason():
    some = dict(NONE, **{"multilingual-e5-small": None})
    made = build_preset(availability=some)
    assert _parse(made.text).parameters["model.name"].values == ["multilingual-e5-small"]
    assert "# left out: bge-m3-ko: not in the local Hugging Face cache" in made.text


def test_static_family_when_nothing_loads_and_says_why():
    made = build_preset(availability=NONE, pairs="p.jsonl", passages="c.jsonl", valid_pairs="p_valid.jsonl", run_cap=5)
    spec = _parse(made.text)
    assert made.family == "static" and made.reason.startswith("static: none of the transformer models")
    assert "model.name=static" in spec.fixed and spec.run_cap == 5
    assert spec.parameters["trainer.lr"].min == 0.02  # the static model's lr range, not the transformer's
    with pytest.raises(ConfigError, match="--family transformer: none of its models can be loaded here"):
        build_preset("transformer", availability=NONE)


def test_offline_availability_never_touches_the_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    assert all(why and "HF_HUB_OFFLINE is set" in why for why in model_availability().values())


def test_missing_data_names_the_command(tmp_path):
    made = build_preset("static", pairs=str(tmp_path / "p.jsonl"), passages=str(tmp_path / "c.jsonl"))
    problems = missing_data(made.text)
    assert len(problems) == 3 and "lex-dpr make-pairs" in problems[0] and "lex-dpr merge-corpus" in problems[2]


def test_cli_preset_no_run_writes_a_valid_file(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    done = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "sweep", "preset", "--no-run", "--output",
                           "s.yaml"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "family static: none of the transformer models can be loaded here" in done.stderr
    assert _parse((tmp_path / "s.yaml").read_text()).method == "bayes"
    made = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "sweep", "create", "--config", "s.yaml"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert made.returncode == 1 and "data.pairs: data/processed/pairs_train.jsonl does not exist" in made.stderr
