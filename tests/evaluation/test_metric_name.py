"""A metric's name: every spelling reads as one MetricName, each form reads back as itself, one direction each."""

import pytest

from lex_dpr.errors import ConfigError
from lex_dpr.evaluation.metric_name import DEFAULT, RANKING, MetricName

# lex-dpr's eval.metric, metrics.jsonl / sweep file / W&B, sentence-transformers' trainer key, the predecessor
SPELLINGS = {
    MetricName("ndcg", 10): ("ndcg_at_10", "eval/ndcg_at_10", "eval_valid_cosine_ndcg@10", "cosine_ndcg@10"),
    MetricName("recall", 5): ("recall_at_5", "eval/recall_at_5", "eval_valid_cosine_recall@5", "cosine_recall@5"),
    MetricName("precision", 3): ("precision_at_3", "eval/precision_at_3", "eval_valid_cosine_precision@3",
                                 "cosine_precision@3"),
    MetricName("hit", 1): ("hit_at_1", "eval/hit_at_1", "eval_valid_cosine_accuracy@1", "cosine_accuracy@1"),
    MetricName("mrr", 10): ("mrr_at_10", "eval/mrr_at_10", "eval_valid_cosine_mrr@10", "cosine_mrr@10"),
    MetricName("map", 100): ("map_at_100", "eval/map_at_100", "eval_valid_cosine_map@100", "cosine_map@100"),
    MetricName("loss"): ("eval/loss", "eval/loss", "eval_loss", "val_loss"),
    MetricName("loss", split="train"): ("train/loss", "train/loss", "train_loss", "train_loss"),
}
# Other spellings met in sweep files and W&B projects, each with the metric it is
MORE = {"eval_recall_at_5": MetricName("recall", 5), "eval/MRR@10": MetricName("mrr", 10),
        "eval_ndcg@10": MetricName("ndcg", 10), "NDCG @ 10": MetricName("ndcg", 10),
        "val/ndcg_at_5": MetricName("ndcg", 5), "valid_cosine_ndcg@20": MetricName("ndcg", 20),
        " eval/hit_at_3 ": MetricName("hit", 3), "eval_accuracy@10": MetricName("hit", 10),
        "val/loss": MetricName("loss"), "eval_valid_loss": MetricName("loss")}


@pytest.mark.parametrize("metric", SPELLINGS, ids=str)
def test_every_spelling_is_one_metric(metric):
    assert {MetricName.parse(s) for s in SPELLINGS[metric]} == {metric}


@pytest.mark.parametrize(("text", "metric"), MORE.items())
def test_other_spellings(text, metric):
    assert MetricName.parse(text) == metric


@pytest.mark.parametrize("metric", SPELLINGS, ids=str)
def test_each_form_is_the_spelling_and_reads_back(metric):
    canonical, key, trainer_key, _ = SPELLINGS[metric]
    assert (metric.canonical, metric.key) == (canonical, key)
    for form in (metric.canonical, metric.key):
        assert MetricName.parse(form) == metric
    if metric.split == "eval":
        assert metric.trainer_key() == trainer_key and MetricName.parse(trainer_key) == metric
    else:  # the trainer logs the training loss as a bare `loss`, which only its own logs read as that
        assert metric.trainer_key() == "loss"
    assert MetricName.from_trainer_key(metric.trainer_key()) == metric


@pytest.mark.parametrize("metric", SPELLINGS, ids=str)
def test_direction(metric):
    better = not metric.is_loss
    assert metric.greater_is_better is better
    assert metric.goal == ("maximize" if better else "minimize")
    assert metric.mode == ("max" if better else "min")
    assert metric.eval_metric == (metric.canonical if better else None)


def test_every_ranking_metric_at_any_cutoff_round_trips():
    for name in RANKING:
        for k in (1, 7, 10, 1000):
            m = MetricName(name, k)
            assert MetricName.parse(m.canonical) == MetricName.parse(m.key) == MetricName.parse(m.trainer_key()) == m
            assert m.trainer_key(evaluator="test").startswith("eval_test_cosine_")
            assert MetricName.from_trainer_key(m.trainer_key(evaluator="test")) == m


def test_the_default_is_the_trainings():
    from lex_dpr.training.config import TrainConfig

    assert DEFAULT.canonical == TrainConfig().eval.metric.value == "ndcg_at_10"


def test_every_eval_metric_choice_is_a_metric_name():
    from lex_dpr.training.config import Metric

    for choice in Metric:
        m = MetricName.parse(choice.value)
        assert m.canonical == choice.value and m.greater_is_better


@pytest.mark.parametrize(("text", "shown"), [
    ("eval/f1_at_10", "is not one lex-dpr knows: use ndcg, recall, precision, hit, mrr or map at a cut-off k"),
    ("accuracy", "is not one lex-dpr knows"),
    ("ndgc_at_10", "did you mean 'ndcg_at_10'?"),
    ("eval/recal@5", "did you mean 'eval/recall@5'?"),
    ("ndcg_at_0", "the cut-off k must be 1 or more"),
    ("loss", "could be the training or the validation loss: write eval/loss or train/loss"),
    ("", "is not one lex-dpr knows"),
    (None, "is not one lex-dpr knows"),
])
def test_an_unknown_name_says_what_is_known(text, shown):
    with pytest.raises(ConfigError) as err:
        MetricName.parse(text)
    assert shown in str(err.value) and repr(text) in str(err.value)


def test_trainer_keys_that_are_no_metric():
    for key in ("learning_rate", "grad_norm", "epoch", "eval_runtime", "train_loss", "eval_valid_cosine_f1@10"):
        assert MetricName.from_trainer_key(key) is None, key


def test_a_metric_that_cannot_exist_is_refused():
    for args in (("ndcg", None), ("ndcg", 0), ("f1", 10), ("loss", 10), ("ndcg", 10, "train"), ("loss", None, "test")):
        with pytest.raises(ConfigError):
            MetricName(*args)
