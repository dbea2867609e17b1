"""One override parser: ``key=value`` and ``~key`` read the same way wherever an override is written."""

import pytest

from lex_dpr.errors import ConfigError
from lex_dpr.models.config import LoraConfig, ModelConfig
from lex_dpr.utils.config import Override, apply_overrides, load, parse_override

TRICKY = [  # (as written, key, text, value)
    ("a.b=[1, 2]", "a.b", "[1, 2]", [1, 2]),
    ("x=null", "x", "null", None),
    ("x=~", "x", "~", None),
    ("lr=1e-4", "lr", "1e-4", "1e-4"),  # YAML 1.1: no dot, so text; the field's type makes it 1e-4
    ("lr=1.0e-4", "lr", "1.0e-4", 1e-4),
    ("s='x=y'", "s", "'x=y'", "x=y"),  # only the first = splits
    ("s=x=y", "s", "x=y", "x=y"),
    (" trainer.lr = 2e-5 ", "trainer.lr", "2e-5", "2e-5"),
    ("model.query_prompt=질의 ", "model.query_prompt", "질의", "질의"),
    ("model.query_prompt=질의:", "model.query_prompt", "질의:", {"질의": None}),  # YAML: a mapping; quote it
    ('model.query_prompt="질의: "', "model.query_prompt", '"질의: "', "질의: "),
    ("wandb.group=판례-실험", "wandb.group", "판례-실험", "판례-실험"),
    ("flag=true", "flag", "true", True),
    ("n=012", "n", "012", 10),  # YAML 1.1 octal, as `lex-dpr train` always read it
    ("s=", "s", "", ""),
    ("s=[1, 2", "s", "[1, 2", "[1, 2"),  # not YAML: the text itself
    ("m={a: 1}", "m", "{a: 1}", {"a": 1}),
]


@pytest.mark.parametrize(("item", "key", "text", "value"), TRICKY)
def test_tricky_values(item, key, text, value):
    assert parse_override(item) == Override(key, text, value)
    assert not parse_override(item).reset


def test_a_reset():
    assert parse_override(" ~ lora.r ") == Override("lora.r", None, None) and parse_override("~lora").reset


@pytest.mark.parametrize(("item", "hint"), [("lora.r", ""), ("=5", ""), ("~", ""), ("", ""),
                                            ("--resume", " (flags go before the overrides; see --help)")])
def test_not_an_override(item, hint):
    with pytest.raises(ConfigError) as err:
        parse_override(item)
    assert str(err.value) == f"override '{item.strip()}' is not key=value or ~key (e.g. trainer.lr=2e-5){hint}"


def test_not_text():
    with pytest.raises(ConfigError, match="override 3 is not key=value"):
        parse_override(3)


def test_apply_overrides_collects_every_problem_and_keeps_order():
    tree: dict = {}
    problems = apply_overrides(LoraConfig, tree, ["r=16", "r=", "alpah=3", "~r", "alpha=32", "oops"])
    assert problems == ["unknown key 'alpah' (did you mean 'alpha'?)",
                        "override 'oops' is not key=value or ~key (e.g. trainer.lr=2e-5)"]
    assert tree == {"alpha": 32}


def test_load_reads_what_parse_override_reads():
    cfg = load(ModelConfig, None, ["query_prompt='x=y'", 'passage_prompt="조문: "', "max_seq_length=012"])
    assert (cfg.query_prompt, cfg.passage_prompt, cfg.max_seq_length) == ("x=y", "조문: ", 10)
    assert load(LoraConfig, None, ["target_modules=[q, v]", "dropout=1e-1"]).dropout == 0.1
