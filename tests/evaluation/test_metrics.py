"""Our metrics against trec_eval (pytrec_eval) on random rankings."""

import random

import pytest
import pytrec_eval

from lex_dpr.evaluation.metrics import hit_at_k, map_at_k, mrr_at_k, ndcg_at_k, recall_at_k


def _random_case(rng, n_docs=60):
    docs = [f"d{i}" for i in range(n_docs)]
    relevant = set(rng.sample(docs, rng.randint(1, 6)))
    ranked = rng.sample(docs, rng.randint(5, n_docs))
    return ranked, relevant


@pytest.mark.parametrize("seed", range(20))
def test_against_trec_eval(seed):
    rng = random.Random(seed)
    ranked, relevant = _random_case(rng)
    qrel = {"q": {d: 1 for d in relevant}}
    run = {"q": {d: float(len(ranked) - i) for i, d in enumerate(ranked)}}  # strictly decreasing scores
    measures = {"ndcg_cut.1,5,10,20", "recall.1,5,10,20", "map_cut.100", "recip_rank", "success.1,5,10"}
    ref = pytrec_eval.RelevanceEvaluator(qrel, measures).evaluate(run)["q"]
    for k in (1, 5, 10, 20):
        assert ndcg_at_k(ranked, relevant, k) == pytest.approx(ref[f"ndcg_cut_{k}"], abs=1e-4)
        assert recall_at_k(ranked, relevant, k) == pytest.approx(ref[f"recall_{k}"], abs=1e-4)
    for k in (1, 5, 10):
        assert hit_at_k(ranked, relevant, k) == pytest.approx(ref[f"success_{k}"], abs=1e-4)
    assert map_at_k(ranked, relevant, 100) == pytest.approx(ref["map_cut_100"], abs=1e-4)
    assert mrr_at_k(ranked, relevant, len(ranked)) == pytest.approx(ref["recip_rank"], abs=1e-4)
    cut = {"q": {d: s for d, s in run["q"].items() if s > len(ranked) - 10}}
    ref10 = pytrec_eval.RelevanceEvaluator(qrel, {"recip_rank"}).evaluate(cut)["q"]["recip_rank"]
    assert mrr_at_k(ranked, relevant, 10) == pytest.approx(ref10, abs=1e-4)
