"""The trainer's validation evaluator logs under the names MetricName spells, and exactly the metrics
``not_logged`` says it logs (checked against the installed sentence-transformers)."""

import pytest

from lex_dpr.data.corpus import Corpus
from lex_dpr.evaluation.metric_name import RANKING, MetricName
from lex_dpr.training.callbacks import metric_key
from lex_dpr.training.config import load_config
from lex_dpr.training.evaluator import best_metrics, ir_evaluator, not_logged

PASSAGES = {"민법_750": "고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는 그 손해를 배상할 책임이 있다.",
            "민법_751": "타인의 신체, 자유 또는 명예를 해하거나 기타 정신상 고통을 가한 자는 재산 이외의 손해에 대하여도 "
                       "배상할 책임이 있다.",
            "민법_390": "채무자가 채무의 내용에 좇은 이행을 하지 아니한 때에는 채권자는 손해배상을 청구할 수 있다."}
PAIRS = [{"query_id": "q1", "query_text": "불법행위 손해배상 책임", "positive_passages": ["민법_750"]},
         {"query_id": "q2", "query_text": "정신적 고통 위자료", "positive_passages": ["민법_751"]}]


@pytest.fixture(scope="module")
def logged():
    """Every key the trainer would log for one evaluation, as sentence-transformers names them."""
    from lex_dpr.models.static import build_static_model

    corpus = Corpus(list(PASSAGES), list(PASSAGES.values()), [{} for _ in PASSAGES])
    model = build_static_model(list(PASSAGES.values()) + [p["query_text"] for p in PAIRS], 200, 8, 64, seed=0)
    cfg = load_config(None, ["eval.k_values=[2, 20]"])
    evaluator = ir_evaluator(PAIRS, corpus, cfg)
    return {f"eval_{k}" for k in evaluator(model)}, cfg.eval.k_values  # the trainer's metric_key_prefix


def test_every_logged_key_is_a_metric_name_that_spells_it_back(logged):
    keys, _ = logged
    for key in keys:
        m = MetricName.from_trainer_key(key)
        assert m is not None and m.trainer_key() == key and MetricName.parse(key) == m, key
        assert metric_key(key) == m.key


def test_not_logged_says_exactly_what_is_logged(logged):
    keys, k_values = logged
    for name in RANKING:
        for k in (1, 2, 3, 4, 5, 10, 20, 50, 100):
            m = MetricName(name, k)
            assert (m.trainer_key() in keys) == (not_logged(m, k_values) is None), m


def test_eval_metric_is_accepted_exactly_when_it_is_logged(logged):
    from lex_dpr.errors import ConfigError
    from lex_dpr.training.config import Metric

    keys, _ = logged
    for choice in Metric:
        try:
            load_config(None, [f"eval.metric={choice.value}", "eval.k_values=[2, 20]"])
            accepted = True
        except ConfigError as exc:
            assert "needs" in str(exc) and "in eval.k_values" in str(exc)
            accepted = False
        assert accepted == (MetricName.parse(choice.value).trainer_key() in keys), choice


def test_best_metrics_reads_the_best_checkpoints_evaluation(tmp_path):
    class State:
        log_history = [{"loss": 1.0, "step": 1},
                       {"eval_valid_cosine_ndcg@10": 0.5, "eval_loss": 0.9, "step": 2},
                       {"eval_valid_cosine_ndcg@10": 0.4, "eval_valid_cosine_accuracy@1": 0.3, "step": 4}]
        best_model_checkpoint = str(tmp_path / "checkpoint-2")

    assert best_metrics(State()) == {"eval/ndcg_at_10": 0.5}
    State.best_model_checkpoint = None
    assert best_metrics(State()) == {"eval/ndcg_at_10": 0.4, "eval/hit_at_1": 0.3}
