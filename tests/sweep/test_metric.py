"""A sweep reads a metric's name and direction from MetricName: the file's metric, its goal, the trials' eval.metric
and the predecessor's early_stopping keys all agree (the spellings themselves: tests/evaluation/test_metric_name.py)."""

import pytest

from lex_dpr.evaluation.metric_name import MetricName
from lex_dpr.sweep.legacy import map_value
from lex_dpr.sweep.parse import parse_sweep
from lex_dpr.sweep.trial import overrides_for

PREDECESSOR = {"ndcg_at_10": "cosine_ndcg@10", "recall_at_5": "cosine_recall@5", "hit_at_1": "cosine_accuracy@1",
               "eval/loss": "val_loss"}


def _spec(name, **more):
    return parse_sweep({"method": "random", "metric": {"name": name}, "parameters": {"trainer.lr": {"values": [0.1, 0.2]}},
                        **more})


@pytest.mark.parametrize("canonical", PREDECESSOR)
def test_the_sweep_file_and_the_predecessor_mode_agree_on_the_direction(canonical):
    metric = MetricName.parse(canonical)
    spec = _spec(PREDECESSOR[canonical])
    assert spec.metric == metric.key
    assert spec.goal == metric.goal == ("minimize" if metric.is_loss else "maximize")
    by_metric = [o for o in overrides_for(spec, {}, "run") if o.startswith("eval.metric=")]
    assert by_metric == ([] if metric.is_loss else [f"eval.metric={metric.eval_metric}"])
    ctx = {"trainer.early_stopping.metric": PREDECESSOR[canonical]}
    assert map_value("trainer.early_stopping.mode", metric.mode, ctx) is not None
    wrong = "min" if metric.greater_is_better else "max"
    with pytest.raises(ValueError, match="disagrees with the metric"):
        map_value("trainer.early_stopping.mode", wrong, ctx)


def test_the_predecessor_stopping_metric_becomes_eval_metric():
    assert map_value("trainer.early_stopping.metric", "cosine_accuracy@1") == ("eval.metric", "hit_at_1")
    with pytest.raises(ValueError, match="'trainer.early_stopping.metric': metric 'cosine_f1@10' is not one lex-dpr knows"):
        map_value("trainer.early_stopping.metric", "cosine_f1@10")
    with pytest.raises(ValueError, match="is a loss.*set metric.name: eval/loss"):
        map_value("trainer.early_stopping.metric", "val_loss")


def test_an_unknown_stopping_metric_leaves_the_mode_to_its_own_problem():
    skip = map_value("trainer.early_stopping.mode", "max", {"trainer.early_stopping.metric": "cosine_f1@10"})
    assert "not one lex-dpr knows" in skip.why


def test_a_loss_sweep_keeps_the_fixed_eval_metric_without_a_note():
    spec = _spec("eval/loss", fixed={"eval.metric": "recall_at_10"})
    assert spec.goal == "minimize" and not any("trials pick their best checkpoint" in n for n in spec.notes)
    spec = _spec("eval/ndcg_at_10", fixed={"eval.metric": "recall_at_10"})
    assert any("trials pick their best checkpoint and stop early by the sweep's metric eval/ndcg_at_10" in n
               for n in spec.notes)
