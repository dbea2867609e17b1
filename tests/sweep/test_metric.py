"""A metric's name and direction: every spelling a sweep meets reads as one name with one direction."""

import pytest

from lex_dpr.sweep.legacy import map_value
from lex_dpr.sweep.metric import eval_metric, goal, greater_is_better, metric_key, metric_name, mode
from lex_dpr.sweep.parse import parse_sweep

SPELLINGS = {  # lex-dpr's eval.metric, metrics.jsonl / sweep file, sentence-transformers, the predecessor
    "ndcg_at_10": ("ndcg_at_10", "eval/ndcg_at_10", "eval_valid_cosine_ndcg@10", "cosine_ndcg@10"),
    "recall_at_5": ("recall_at_5", "eval/recall_at_5", "eval_valid_cosine_recall@5", "cosine_recall@5"),
    "hit_at_1": ("hit_at_1", "eval/hit_at_1", "eval_valid_cosine_accuracy@1", "cosine_accuracy@1"),
    "loss": ("loss", "eval/loss", "eval_loss", "val_loss"),
}


@pytest.mark.parametrize("bare", SPELLINGS)
def test_every_spelling_is_one_name_with_one_direction(bare):
    names = SPELLINGS[bare]
    assert {metric_name(n) for n in names} == {bare}
    assert {greater_is_better(n) for n in names} == {bare != "loss"}
    key = metric_key(names[1])
    assert key == f"eval/{bare}" and {metric_key(n) for n in names[1:]} == {key}
    assert eval_metric(key) == (None if bare == "loss" else bare)


@pytest.mark.parametrize("bare", SPELLINGS)
def test_the_sweep_file_and_the_predecessor_mode_agree_on_the_direction(bare):
    spec = parse_sweep({"method": "random", "metric": {"name": SPELLINGS[bare][3]},
                        "parameters": {"trainer.lr": {"values": [0.1, 0.2]}}})
    assert spec.goal == goal(spec.metric) == ("minimize" if bare == "loss" else "maximize")
    if bare != "loss":  # the predecessor's early_stopping.mode is checked against the same direction
        ctx = {"trainer.early_stopping.metric": SPELLINGS[bare][3]}
        assert map_value("trainer.early_stopping.mode", mode(bare), ctx) is not None
        with pytest.raises(ValueError, match="disagrees with the metric"):
            map_value("trainer.early_stopping.mode", "min", ctx)
