"""Training configs: every shipped YAML checks, every problem is reported at once, overrides round-trip."""

import subprocess
import sys
from pathlib import Path

import pytest

from lex_dpr.errors import ConfigError
from lex_dpr.resources import bundled_configs
from lex_dpr.training.config import TrainConfig, load_config, resolve_data_paths
from lex_dpr.utils.config import all_keys, to_overrides

ROOT = Path(__file__).resolve().parents[2]
SWEEP_KEYS = [f"trainer.{k}" for k in ("lr", "temperature", "weight_decay", "warmup_ratio",
                                        "gradient_accumulation_steps", "max_grad_norm", "epochs", "batch_size",
                                        "eval_steps", "seed")] + \
    [f"lora.{k}" for k in ("enabled", "r", "alpha", "dropout", "target_modules")] + \
    [f"data.{k}" for k in ("pairs", "valid_pairs", "passages", "hard_negatives", "hard_negative_ratio", "multiply",
                           "val_negatives")] + \
    [f"model.{k}" for k in ("name", "max_seq_length", "query_prompt", "passage_prompt")] + ["eval.k_values", "eval.metric"]


def test_every_sweep_key_exists():
    assert set(SWEEP_KEYS) <= set(all_keys(TrainConfig))


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_yaml_passes_config_check(path):
    done = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "config", "check", str(path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"ok: {path}")


def test_bundled_configs_are_the_root_copies():
    bundled = bundled_configs()
    assert set(bundled) == {p.stem for p in (ROOT / "configs").glob("train*.yaml")}
    for name, text in bundled.items():
        assert text == (ROOT / "configs" / f"{name}.yaml").read_text(encoding="utf-8"), name


def test_yaml_defaults_mirror_the_dataclasses():
    from_file = load_config(ROOT / "configs" / "train.yaml").to_dict()
    defaults = TrainConfig().to_dict()
    for section, values in defaults.items():
        if isinstance(values, dict):
            assert from_file[section].keys() == values.keys(), section


def test_bundled_name_loads_like_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    assert load_config("train_lora").to_dict() == load_config(ROOT / "configs" / "train_lora.yaml").to_dict()
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("no_such_config")


def test_overrides_are_typed():
    cfg = load_config(None, ["trainer.lr=2e-5", "lora.r=16", "lora.target_modules=[query,value]",
                             "data.valid_pairs=null", "eval.k_values=1,5,10", "lora.enabled=false",
                             "trainer.precision=bf16"])
    assert cfg.trainer.lr == 2e-5 and cfg.lora.r == 16 and cfg.lora.target_modules == ["query", "value"]
    assert cfg.data.valid_pairs is None and cfg.eval.k_values == [1, 5, 10] and cfg.lora.enabled is False
    assert cfg.trainer.precision == "bf16" and type(cfg.trainer.precision).__name__ == "Precision"


def test_every_problem_in_file_and_overrides_is_listed(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("trainer:\n  learning_rate: 0.1\n  precison: bf16\n  warmup_ratio: 2\nmodell: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["trainer.precision=bf61", "wandb.mode=offlne", "lora.r=0", "data.lr=3"])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path} + overrides: 8 problems: ")
    for part in ["unknown key 'trainer.learning_rate'", "unknown key 'trainer.precison' (did you mean 'trainer.precision'?)",
                 "'trainer.warmup_ratio': 2.0 must be <= 1", "unknown key 'modell' (did you mean 'model'?)",
                 "'trainer.precision': 'bf61' is not one of auto, fp32, bf16, fp16 (did you mean 'bf16'?)",
                 "'wandb.mode': 'offlne' is not one of offline, online, disabled (did you mean 'offline'?)",
                 "'lora.r': 0 must be >= 1", "unknown key 'data.lr' (did you mean 'trainer.lr'?)"]:
        assert part in message


@pytest.mark.parametrize("item,message", [
    ("trainer.lr=0", "'trainer.lr': 0.0 must be > 0"),
    ("trainer.lr=nan", "'trainer.lr': nan must be a finite number"),
    ("trainer.temperature=0", "must be > 0"),
    ("trainer.temperature=20", "'trainer.temperature': 20.0 must be <= 1"),  # scale 0.05: learns nothing
    ("trainer.batch_size=0", "'trainer.batch_size': 0 must be >= 1"),
    ("trainer.batch_size=abc", "'trainer.batch_size': 'abc' is not a whole number"),
    ("trainer.batch_size=2.5", "is not a whole number"),
    ("trainer.epochs=-1", "'trainer.epochs': -1.0 must be > 0"),
    ("trainer.max_steps=0", "must be >= 1 (or -1)"),
    ("data.hard_negative_ratio=1.5", "'data.hard_negative_ratio': 1.5 must be <= 1"),
    ("data.hard_negatives=-1", "must be >= 0"),
    ("lora.dropout=1", "must be < 1"),
    ("eval.k_values=[0,10]", "'eval.k_values': 0 must be >= 1"),
    ("eval.metric=ndcg_at_7", "is not one of"),
    ("eval.metric=recall_at_20", "needs 20 in eval.k_values"),  # with eval.k_values=[1, 10] below
    ("lora.enabled=maybe", "is not true or false"),
    ("trainer.lr", "not key=value"),
    ("--resume", "flags go before the overrides"),
    ("trainer=3", "'trainer' is a section"),
])
def test_bad_values_name_the_key_and_the_rule(item, message):
    with pytest.raises(ConfigError, match=None) as info:
        load_config(None, ["eval.k_values=[1,10]", item])
    assert message in str(info.value)


def test_tilde_resets_a_key_or_a_section():
    cfg = load_config(ROOT / "configs" / "train_lora.yaml", ["trainer.lr=0.5", "~trainer.lr", "~lora", "~model.name"])
    assert cfg.trainer.lr == TrainConfig().trainer.lr  # not train_lora.yaml's 2e-4: back to the default
    assert cfg.lora == TrainConfig().lora and cfg.model.name == "static"
    assert cfg.trainer.batch_size == 64  # untouched keys keep the file's value


def test_override_list_reproduces_the_config():
    items = ["trainer.lr=3e-5", "lora.target_modules=[q_proj, v_proj]", "model.query_prompt='query: '",
             "data.pairs=out/x y/pairs.jsonl", "eval.k_values=[1,5,10]", "trainer.precision=fp16", "wandb.group=null",
             "model.passage_prompt=\"yes\"", "data.hard_negative_ratio=0.25"]
    cfg = load_config(ROOT / "configs" / "train_lora.yaml", items)
    again = load_config(None, to_overrides(cfg))
    assert again == cfg
    assert "model.passage_prompt=\"yes\"" in to_overrides(cfg)  # a string YAML would read as a bool is quoted


def test_valid_pairs_follow_the_pairs_path(tmp_path):
    (tmp_path / "p.jsonl").write_text("{}\n")
    (tmp_path / "c.jsonl").write_text("{}\n")
    cfg = load_config(None, [f"data.pairs={tmp_path / 'p.jsonl'}", f"data.passages={tmp_path / 'c.jsonl'}"])
    notes = resolve_data_paths(cfg)
    assert cfg.data.valid_pairs is None and "no validation set" in notes[0]  # auto, and no sibling
    (tmp_path / "p_valid.jsonl").write_text("{}\n")
    cfg = load_config(None, [f"data.pairs={tmp_path / 'p.jsonl'}", f"data.passages={tmp_path / 'c.jsonl'}"])
    resolve_data_paths(cfg)
    assert cfg.data.valid_pairs == str(tmp_path / "p_valid.jsonl")
    cfg = load_config(None, [f"data.pairs={tmp_path / 'p.jsonl'}", f"data.passages={tmp_path / 'c.jsonl'}",
                             "data.valid_pairs=null"])
    assert resolve_data_paths(cfg) == [] and cfg.data.valid_pairs is None  # null: no validation set
    with pytest.raises(ConfigError, match=r"2 problems: 'data.pairs' is not set .*'data.valid_pairs': /nope.jsonl: file not found"):
        resolve_data_paths(load_config(None, [f"data.passages={tmp_path / 'c.jsonl'}", "data.valid_pairs=/nope.jsonl"]))
