"""A sweep's ``fixed`` overrides mean what the same items mean to ``lex-dpr train``: one parser reads both
(:func:`lex_dpr.utils.config.parse_override`), and W&B is sent the same values."""

import pytest

from lex_dpr.sweep.online import to_wandb
from lex_dpr.sweep.parse import parse_sweep
from lex_dpr.training.config import load_config
from lex_dpr.utils.config import parse_override

TRICKY = [
    "lora.target_modules=[q_proj, v_proj]",  # a list
    "data.valid_pairs=null",  # None
    "trainer.lr=1e-4",  # text to YAML 1.1, a float to training
    "model.query_prompt='x=y'",  # an = inside the value
    'model.passage_prompt="조문: "',  # unicode, a space kept by the quotes
    "wandb.group=판례-실험",
    "trainer.seed=012",  # YAML 1.1 octal: 10 on both paths
    "~trainer.epochs",
]


def _sweep(fixed):
    return parse_sweep({"method": "grid", "metric": {"name": "eval/ndcg_at_10"},
                        "parameters": {"lora.r": {"values": [8, 16]}}, "fixed": fixed})


@pytest.mark.parametrize("item", TRICKY)
def test_a_fixed_item_trains_as_the_same_override(item):
    spec = _sweep([item])
    assert spec.fixed == [item.strip()]
    assert load_config(None, spec.fixed).to_dict() == load_config(None, [item]).to_dict()


def test_all_of_them_at_once_and_as_a_mapping():
    spec = _sweep(TRICKY)
    direct = load_config(None, TRICKY)
    assert load_config(None, spec.fixed).to_dict() == direct.to_dict()
    assert (direct.trainer.lr, direct.data.valid_pairs, direct.model.query_prompt, direct.trainer.seed) == \
        (1e-4, None, "x=y", 10)
    values = {o.key: o.value for o in map(parse_override, TRICKY) if not o.reset}
    mapped = _sweep(values)  # the mapping form: values YAML read already, written back as override text
    assert load_config(None, mapped.fixed).to_dict() == load_config(None, TRICKY[:-1]).to_dict()


def test_w_and_b_is_sent_the_values_training_reads():
    params = to_wandb(_sweep(TRICKY))["parameters"]
    for item in TRICKY:
        o = parse_override(item)
        assert params[item if o.reset else o.key] == {"value": o.value}
