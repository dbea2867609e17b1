import pytest

from lex_dpr.config import CONFIG_DIR, RunConfig, all_keys, load_config
from lex_dpr.errors import ConfigError

SWEEP_KEYS = [f"trainer.{k}" for k in ("lr", "temperature", "weight_decay", "warmup_ratio",
                                        "gradient_accumulation_steps", "max_grad_norm", "epochs", "batch_size",
                                        "eval_steps", "seed")] + \
    [f"lora.{k}" for k in ("enabled", "r", "alpha", "dropout", "target_modules")] + \
    [f"data.{k}" for k in ("pairs", "valid_pairs", "passages", "hard_negative_ratio", "multiply", "val_negatives")] + \
    [f"model.{k}" for k in ("name", "max_seq_length", "query_prompt", "passage_prompt")] + ["eval.k_values", "eval.metric"]


def test_every_sweep_key_exists():
    assert set(SWEEP_KEYS) <= set(all_keys())


def test_yaml_defaults_mirror_the_dataclasses():
    from_file = load_config(CONFIG_DIR / "train.yaml").to_dict()
    defaults = RunConfig().to_dict()
    for section, values in defaults.items():
        if isinstance(values, dict):
            assert set(from_file[section]) == set(values), section


def test_overrides_are_typed():
    cfg = load_config(None, ["trainer.lr=2e-5", "lora.r=16", "lora.target_modules=[query,value]",
                             "data.valid_pairs=null", "eval.k_values=1,5,10", "lora.enabled=false"])
    assert cfg.trainer.lr == 2e-5 and cfg.lora.r == 16 and cfg.lora.target_modules == ["query", "value"]
    assert cfg.data.valid_pairs is None and cfg.eval.k_values == [1, 5, 10] and cfg.lora.enabled is False


@pytest.mark.parametrize("item,message", [("trainer.lrr=1", "did you mean 'trainer.lr'"),
                                          ("lora.rank=4", "did you mean 'lora.r'"),
                                          ("trainer.batch_size=abc", "cannot read 'abc' as int"),
                                          ("trainer.lr", "not key=value")])
def test_bad_overrides_name_the_problem(item, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [item])


def test_unknown_key_in_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("trainer:\n  learning_rate: 0.1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="trainer.learning_rate.*did you mean"):
        load_config(path)
